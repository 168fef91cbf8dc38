"""Entity batches: run every queued operation of one entity through the SDK's ``Entity.create`` handler.

Batch context (what the SDK's ``DurableEntityContext.from_json`` reads): ``{"self": {"name", "key"}, "exists",
"state": <state JSON text | null>, "batch": [{"name": op, "input": <JSON text of the input text>, "id", "signal"}]}``.
A call's caller gets ``EventRaised{Name: request id, Input: {"result": <result JSON>[, "exceptionType"]}}``.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any

from devhost import functions as fx

from . import history as h
from .payloads import entity_parts
from .store import Store

log = logging.getLogger("devhost")


class EntityMixin:
    """Entity batch execution; relies on ``Engine`` for ``index``, ``clock``, ``stats`` and ``_db()``."""

    index: fx.FunctionIndex
    clock: Any
    stats: dict
    _stopping: bool

    def _db(self) -> Store:  # provided by Engine
        raise NotImplementedError

    def _changed(self) -> None:  # provided by Engine
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ entities
    def _entity_guarded(self, entity_id: str) -> None:
        try:
            if not self._stopping:  # queued but not started when the host stopped: leave it for the next start
                self._run_entity(entity_id)
        except Exception:
            log.exception("devhost: entity batch of %s failed inside the host", entity_id)
        finally:
            with self._cond:
                self._entities.discard(entity_id)
            self._changed()

    def _run_entity(self, entity_id: str) -> None:
        store = self._db()
        rows = store.q("SELECT * FROM entity_messages WHERE entity_id=? ORDER BY id", (entity_id,))
        if not rows:
            return
        name, key = entity_parts(entity_id)
        requests = [json.loads(r["request"]) for r in rows]
        ent = store.entity(entity_id)
        exists = bool(ent["exists_"]) if ent is not None else False
        state_text = ent["state"] if ent is not None and exists else None
        info = self.index.entity(name)
        t0 = time.perf_counter()
        results: list[dict] = []
        new_exists, new_state = exists, state_text
        if info is None:
            err = f"The function '{name}' doesn't exist, is disabled, or is not an entity function."
            results = [{"isError": True, "result": json.dumps(err)} for _ in requests]
        else:
            ctx = {"self": {"name": name, "key": key}, "exists": exists, "state": state_text,
                   "batch": [{"name": r.get("op"), "input": r.get("input") if r.get("input") is not None else "null",
                              "id": r.get("id"), "signal": r.get("signal")} for r in requests]}
            try:
                out = json.loads(fx.invoke_entity(info, json.dumps(ctx)))
                results = out.get("results") or []
                new_exists = bool(out.get("entityExists"))
                new_state = out.get("entityState") if new_exists else None
            except Exception as exc:
                msg = f"{type(exc).__name__}: {exc}"
                results = [{"isError": True, "result": json.dumps(msg)} for _ in requests]
                log.error("Executed 'Functions.%s' (Failed) entity=%s\n%s", info.name, entity_id,
                          "".join(traceback.format_exception(exc)).rstrip())
        self.stats["entity_batches"] += 1
        now = self.clock.time()
        with store.tx():
            store.conn.executemany("DELETE FROM entity_messages WHERE id=?", [(r["id"],) for r in rows])
            store.x("INSERT INTO entities(entity_id, name, key, state, exists_, updated) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(entity_id) DO UPDATE SET state=excluded.state, exists_=excluded.exists_, "
                    "updated=excluded.updated", (entity_id, name, key, new_state, int(new_exists), now))
            for req, res in zip(requests, results, strict=False):
                if req.get("signal") or not req.get("parent"):
                    continue
                body: dict[str, Any] = {"result": res.get("result")}
                if res.get("isError"):
                    body["exceptionType"] = "System.Exception"
                store.enqueue(req["parent"], h.event_raised(now, req["id"], json.dumps(body)),
                              req.get("parentExecution"))
        log.info("Executed 'Functions.%s' (Succeeded, Duration=%dms) entity=%s operations=%d",
                 info.name if info else name, (time.perf_counter() - t0) * 1000, entity_id, len(requests))
