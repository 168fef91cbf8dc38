"""The durable engine: scheduler, activities, timers and the management surface (``Engine``).

Why one class: the HTTP layer, the CLI and the pytest API all need the same thread-safe surface over one store
and one clock (see ``devhost/engine/__init__.py`` for the contract). Episodes (``episodes.py``) follow the
extension: one per instance at a time, history = old events + ``OrchestratorStarted(now)`` + the messages received,
the SDK runs on the context JSON (schema V3), the host replays the returned actions (``replay.py``) to find new
work and to detect non-determinism, then one transaction records everything. Entity batches: ``entities.py``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from devhost import functions as fx

from . import history as h
from .clock import RealClock, iso_seconds_z, iso_z, parse_iso
from .entities import EntityMixin
from .episodes import RUNNING_STATES, EpisodeMixin
from .errors import (
    BadRequestError,
    EngineTimeoutError,
    InstanceExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    InvalidOperationError,
    OrchestratorNotFoundError,
)
from .http_activity import run_http_activity
from .payloads import activity_failure, activity_timeout, json_token, scheduler_id
from .replay import HTTP_ACTIVITY
from .rewind import rewind_history
from .store import Store
from .workers import WorkerPool

log = logging.getLogger("devhost")

TIME_SKIPPING = ("never", "always", "while_waiting")


class Engine(EpisodeMixin, EntityMixin):
    """Durable Functions engine over a SQLite store. All public methods are thread-safe and synchronous."""

    def __init__(self, index: fx.FunctionIndex, *, store_path: Any, clock: Any = None, hub_name: str = "TestHubName",
                 max_activities: int = 10, max_orchestrators: int = 10, function_timeout: float | None = None,
                 time_skipping: str | None = None) -> None:
        if time_skipping is None:  # a virtual clock with nobody to move it would freeze timers
            time_skipping = "always" if getattr(clock, "virtual", False) else "never"
        if time_skipping not in TIME_SKIPPING:
            raise ValueError(f"time_skipping must be one of {TIME_SKIPPING}, not {time_skipping!r}")
        if max_activities < 1 or max_orchestrators < 1:
            raise ValueError("max_activities and max_orchestrators must be at least 1")
        self.index = index
        self.store_path = store_path
        self.clock = clock if clock is not None else RealClock()
        self.hub_name = hub_name
        self.max_activities = max_activities
        self.max_orchestrators = max_orchestrators
        self.function_timeout = function_timeout
        self.time_skipping = time_skipping
        self.store: Store | None = None
        self._cond = threading.Condition()
        self._version = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._orch_pool: WorkerPool | None = None
        self._act_pool: WorkerPool | None = None
        self._episodes: set[str] = set()
        self._entities: set[str] = set()
        self._activities: dict[int, float] = {}   # work item id -> real start time (inf: no functionTimeout)
        self._abandoned: set[int] = set()
        self._skip_waiters = 0
        self._waiting_for: dict[str, str] = {}  # instance -> what its last episode left it awaiting (diagnostics)
        self._seen: dict[int, int] = {}   # waiter token -> engine version its predicate last saw (false)
        self._idle = False
        self._wakeup_sources: list[Callable[[], float | None]] = []
        self._wakeup_failed: set[int] = set()
        self._wake_due = False  # a wakeup instant was reached and its source has not moved past it yet
        self.stats = {"episodes": 0, "activities": 0, "entity_batches": 0, "timers_fired": 0, "time_skips": 0}

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> Engine:
        """Open the store, re-queue activities that were running when the host died, start the scheduler."""
        if self._thread is not None:
            return self
        self.store = Store(self.store_path)
        requeued = self.store.requeue_running()
        if requeued:
            log.info("re-queued %d activity work item(s) that were running when the host stopped", requeued)
        self._stopping = False
        self._orch_pool = WorkerPool(self.max_orchestrators, "devhost-orch")
        self._act_pool = WorkerPool(self.max_activities, "devhost-act")
        self._thread = threading.Thread(target=self._loop, name="devhost-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop scheduling, let in-flight work finish for up to ``timeout`` s, close the store.

        Work still running after that is abandoned: its work item stays 'running' in the store and runs again at
        the next start (at-least-once, as after a crash).
        """
        if self._thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._episodes or self._entities or self._activities) and time.monotonic() < deadline:
                self._cond.wait(0.05)
        for pool in (self._orch_pool, self._act_pool):
            if pool is not None:
                pool.shutdown()
        with self._cond:
            store, self.store = self.store, None
            self._thread = None
        if store is not None:
            store.close()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _db(self) -> Store:
        if self.store is None:
            raise RuntimeError("the engine is not started (call Engine.start())")
        return self.store

    def _changed(self) -> None:
        with self._cond:
            self._version += 1
            self._idle = False
            self._cond.notify_all()

    # ------------------------------------------------------------------------------------------ scheduler
    def add_wakeup_source(self, source: Callable[[], float | None]) -> None:
        """Make time skipping stop at the instants ``source()`` names (epoch seconds, or None for none).

        Why: the clock otherwise only jumps to durable timers, so a timer trigger (or anything else scheduled on
        the same clock) would fire late, with ``past_due``, or never. The clock is moved exactly to the earliest
        of the next durable timer and every source's instant, and never further while a source still names an
        instant that is due (the source acts on it, then names a later one). A source that raises is ignored
        for that round (logged once).
        """
        if not callable(source):
            raise TypeError("a wakeup source must be a callable returning epoch seconds or None")
        with self._cond:
            self._wakeup_sources.append(source)
            self._cond.notify_all()

    def _next_wakeup(self) -> float | None:
        instants: list[float] = []
        for source in list(self._wakeup_sources):
            try:
                value = source()
            except Exception:
                if id(source) not in self._wakeup_failed:  # once per source, not at every scheduler round
                    self._wakeup_failed.add(id(source))
                    log.exception("devhost: wakeup source %r failed (ignored)", source)
                continue
            if value is not None:
                instants.append(float(value))
        return min(instants, default=None)

    def _skip_target(self, store: Store) -> tuple[float | None, bool]:
        """(instant the clock may jump to, whether a wakeup instant is due now and must be served first)."""
        nxt = store.next_timer()
        wake = self._next_wakeup()
        if wake is not None and wake <= self.clock.time():
            return None, True
        if wake is not None and (nxt is None or wake < nxt):
            nxt = wake
        return nxt, False

    def _skipping(self) -> bool:
        """May the clock jump now? Never before every blocked waiter has re-checked the current state, so a test
        waiting for "Running" (or for a custom status) sees it before time moves on."""
        if any(v != self._version for v in self._seen.values()):
            return False
        return self.time_skipping == "always" or (self.time_skipping == "while_waiting" and self._skip_waiters > 0)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                worked = self._tick()
            except Exception:  # the scheduler must survive anything; the store state stays consistent
                log.exception("devhost scheduler error")
                worked = False
            with self._cond:
                if self._stopping:
                    return
                if worked:
                    continue
                busy = bool(self._episodes or self._entities or self._activities)
                store = self.store
                pending = store is not None and self._has_pending(store)
                if not busy and not pending:
                    self._idle = True
                    self._cond.notify_all()
                    nxt, wake_due = self._skip_target(store) if store is not None else (None, False)
                    if wake_due:  # a source (timer trigger) has work at this instant: let it run first
                        self._wake_due = True
                        self._cond.wait(0.005)
                        continue
                    if self._wake_due:  # it moved on: waiters look at what it did before time moves again
                        self._wake_due = False
                        self._version += 1
                        self._cond.notify_all()
                        continue
                    if nxt is not None and self._skipping():
                        now = self.clock.time()
                        if nxt > now:
                            self.clock.advance(nxt - now)
                            self.stats["time_skips"] += 1
                        continue
                    wait = 0.05 if getattr(self.clock, "virtual", True) else 0.25
                    if nxt is not None:
                        wait = max(0.0, min(wait, nxt - self.clock.time()))
                    self._cond.wait(wait)
                else:
                    self._cond.wait(0.05)

    def _has_pending(self, store: Store) -> bool:
        if store.runnable_instances(self._episodes, 1):
            return True
        if store.runnable_entities(self._entities, 1):
            return True
        c = store.one("SELECT 1 FROM work_items WHERE state='pending' LIMIT 1")
        if c is not None:
            return True
        return bool(store.due_timers(self.clock.time()))

    def _tick(self) -> bool:
        store = self.store
        if store is None:
            return False
        worked = False
        now = self.clock.time()
        due = store.due_timers(now)
        if due:
            with store.tx():
                for t in due:
                    store.x("DELETE FROM timers WHERE id=?", (t["id"],))
                    store.enqueue(t["instance_id"], h.timer_fired(now, t["timer_id"], t["fire_at_text"]),
                                  t["execution_id"])
            self.stats["timers_fired"] += len(due)
            worked = True
        self._check_timeouts()
        assert self._orch_pool is not None and self._act_pool is not None
        with self._cond:
            free = self.max_orchestrators - len(self._episodes) - len(self._entities)
            if free > 0:
                for iid in store.runnable_instances(self._episodes, free):
                    self._episodes.add(iid)
                    self._orch_pool.submit(self._episode_guarded, iid)
                    free -= 1
                    worked = True
            if free > 0:
                for eid in store.runnable_entities(self._entities, free):
                    self._entities.add(eid)
                    self._orch_pool.submit(self._entity_guarded, eid)
                    worked = True
            # claimed and registered under the condition: an observer never sees an item in neither state
            free_act = self.max_activities - len(self._activities)
            if free_act > 0:
                for item in store.claim_work_items(free_act):
                    # the built-in HTTP activity runs inside the extension, not as a function invocation:
                    # functionTimeout does not apply to it (its HttpClient's 240 s timeout does)
                    self._activities[item["id"]] = math.inf if item["name"] == HTTP_ACTIVITY else time.monotonic()
                    self._act_pool.submit(self._activity_guarded, dict(item))
                    worked = True
        return worked

    def _check_timeouts(self) -> None:
        if not self.function_timeout:
            return
        now = time.monotonic()
        with self._cond:
            late = [wid for wid, t0 in self._activities.items()
                    if now - t0 > self.function_timeout and wid not in self._abandoned]
        for wid in late:
            self._abandoned.add(wid)
            store = self._db()
            row = store.one("SELECT * FROM work_items WHERE id=?", (wid,))
            if row is None:
                continue
            failure = activity_timeout(row["name"], self.function_timeout)
            self._finish_activity(dict(row), None, failure)
            log.error("Executed 'Functions.%s' (Failed, %s) instance=%s", row["name"], failure[0],
                      row["instance_id"])
            with self._cond:
                self._activities.pop(wid, None)

    # ------------------------------------------------------------------------------------------ activities
    def _activity_guarded(self, item: dict) -> None:
        try:
            if not self._stopping:  # queued but not started when the host stopped: leave it for the next start
                self._run_activity(item)
        except Exception:
            log.exception("devhost: activity bookkeeping failed for %s", item.get("name"))
        finally:
            with self._cond:
                self._activities.pop(item["id"], None)
                self._abandoned.discard(item["id"])
            self._changed()

    def _run_activity(self, item: dict) -> None:
        name = item["name"]
        t0 = time.perf_counter()
        invocation_id = str(uuid.uuid4())
        result: str | None = None
        failure: tuple[str, str] | None = None
        try:
            if name == HTTP_ACTIVITY:
                result = run_http_activity(item["input"])
            else:
                info = self.index.activity(name)
                if info is None:
                    raise LookupError(f"The function '{name}' doesn't exist, is disabled, or is not an activity "
                                      "function.")
                result = fx.invoke_activity(info, item["input"] or "null", invocation_id=invocation_id)
        except Exception as exc:
            failure = activity_failure(name, exc)
            log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms) instance=%s\n%s", name, invocation_id,
                      (time.perf_counter() - t0) * 1000, item["instance_id"],
                      "".join(traceback.format_exception(exc)).rstrip())
        else:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms) instance=%s", name, invocation_id,
                     (time.perf_counter() - t0) * 1000, item["instance_id"])
        self.stats["activities"] += 1
        if item["id"] in self._abandoned:
            return
        self._finish_activity(item, result, failure)

    def _finish_activity(self, item: dict, result: str | None, failure: tuple[str, str] | None) -> None:
        store = self.store
        if store is None:
            return  # stopped: the work item stays 'running' and re-runs at the next start
        now = self.clock.time()
        with store.tx():
            if store.x("DELETE FROM work_items WHERE id=?", (item["id"],)) == 0:
                return  # terminated / purged / already timed out meanwhile
            if failure is None:
                ev = h.task_completed(now, item["task_id"], result)
            else:
                ev = h.task_failed(now, item["task_id"], failure[0], failure[1])
            store.enqueue(item["instance_id"], ev, item["execution_id"])

    # ------------------------------------------------------------------------------------------ management
    def start_new(self, name: str, instance_id: str | None = None, input_json: str | None = None) -> str:
        """Create an instance of orchestrator ``name``; ``input_json`` is the JSON text the extension stores.

        An existing Pending/Running/Suspended instance with that id → :class:`InstanceExistsError`; a finished one
        is replaced (the extension's default overridable states).
        """
        if self.index.orchestrator(name) is None:
            raise OrchestratorNotFoundError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. Additional "
                f"info: {self._known('orchestrationTrigger')}")
        if input_json is not None:
            try:
                json.loads(input_json)
            except ValueError as exc:
                raise BadRequestError(f"the orchestration input is not valid JSON: {exc}") from exc
        iid = instance_id or uuid.uuid4().hex
        if not iid or any(c in iid for c in "/\\#?") or iid.startswith("@"):
            raise BadRequestError(f"invalid instance id {iid!r}: it must be non-empty, must not start with '@' and "
                                  "must not contain '/', '\\', '#' or '?'")
        store = self._db()
        now = self.clock.time()
        with store.tx():
            existing = store.instance(iid)
            if existing is not None:
                if existing["status"] in RUNNING_STATES:
                    raise InstanceExistsError(
                        f"An Orchestration instance with the status {existing['status']} already exists.")
                store.delete_instance_data(iid)
            execution_id = uuid.uuid4().hex
            store.x("INSERT INTO instances(instance_id, name, execution_id, status, input, created, updated) "
                    "VALUES (?,?,?,?,?,?,?)", (iid, name, execution_id, "Pending", input_json, now, now))
            store.enqueue(iid, h.execution_started(now, instance_id=iid, execution_id=execution_id, name=name,
                                                   input_text=input_json), execution_id)
        self._changed()
        return iid

    def get_status(self, instance_id: str, *, show_input: bool = True, show_history: bool = False,
                   show_history_output: bool = False) -> dict | None:
        """The extension's status JSON for one instance, or None when it does not exist."""
        store = self._db()
        row = store.instance(instance_id)
        if row is None:
            return None
        out = self._status_json(row, show_input=show_input)
        if show_history:
            out["historyEvents"] = h.friendly_history(store.history(instance_id), show_output=show_history_output)
        return out

    def _status_json(self, row: Any, *, show_input: bool = True) -> dict:
        def token(text: str | None) -> Any:
            return json_token(text)

        return {"name": row["name"], "instanceId": row["instance_id"], "runtimeStatus": row["status"],
                "input": token(row["input"]) if show_input else None, "customStatus": token(row["custom_status"]),
                "output": token(row["output"]), "createdTime": iso_seconds_z(row["created"]),
                "lastUpdatedTime": iso_seconds_z(row["updated"])}

    def query(self, *, created_from: float | str | None = None, created_to: float | str | None = None,
              statuses: Iterable[str] | None = None, prefix: str | None = None, top: int = 100,
              continuation: str | None = None, show_input: bool = True) -> tuple[list[dict], str | None]:
        """List instances (oldest first) with the status API's filters; returns (page, next continuation token)."""
        where, args = self._filters(created_from, created_to, statuses, prefix)
        try:
            offset = int(base64.b64decode(continuation).decode()) if continuation else 0
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"invalid continuation token {continuation!r}") from exc
        if top < 1:
            raise BadRequestError("top must be at least 1")
        rows = self._db().q(f"SELECT * FROM instances {where} ORDER BY created, instance_id LIMIT ? OFFSET ?",  # noqa: S608
                            [*args, top + 1, offset])
        page = [self._status_json(r, show_input=show_input) for r in rows[:top]]
        token = base64.b64encode(str(offset + top).encode()).decode() if len(rows) > top else None
        return page, token

    @staticmethod
    def _filters(created_from: Any, created_to: Any, statuses: Iterable[str] | None,
                 prefix: str | None) -> tuple[str, list]:
        clauses: list[str] = []
        args: list[Any] = []

        def ts(v: Any) -> float:
            return parse_iso(v) if isinstance(v, str) else float(v)

        if created_from is not None:
            clauses.append("created >= ?")
            args.append(ts(created_from))
        if created_to is not None:
            clauses.append("created <= ?")
            args.append(ts(created_to))
        if statuses:
            names = list(statuses)
            valid = set(h.ORCHESTRATION_STATUS)
            bad = [s for s in names if s not in valid]
            if bad:
                raise BadRequestError(f"unknown runtimeStatus {bad}; use {sorted(valid)}")
            clauses.append(f"status IN ({','.join('?' * len(names))})")
            args.extend(names)
        if prefix:
            clauses.append("substr(instance_id, 1, ?) = ?")
            args.extend([len(prefix), prefix])
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def _require(self, instance_id: str) -> Any:
        row = self._db().instance(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
        return row

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        """Deliver an external event; ``data_json`` is stored verbatim as ``EventRaised.Input``."""
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is {row['status']}; it cannot receive events.")
        if not name:
            raise BadRequestError("an event needs a name")
        store = self._db()
        with store.tx():
            store.enqueue(instance_id, h.event_raised(self.clock.time(), name, data_json))
        self._changed()

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is already {row['status']}.")
        self._control(instance_id, h.execution_terminated(self.clock.time(), reason))

    def suspend(self, instance_id: str, reason: str | None = None) -> None:
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is {row['status']}; it cannot be suspended.")
        self._control(instance_id, h.execution_suspended(self.clock.time(), reason))

    def resume(self, instance_id: str, reason: str | None = None) -> None:
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is {row['status']}; it cannot be resumed.")
        self._control(instance_id, h.execution_resumed(self.clock.time(), reason))

    def _control(self, instance_id: str, ev: dict) -> None:
        store = self._db()
        with store.tx():
            store.enqueue(instance_id, ev)
        self._changed()

    def restart(self, instance_id: str, new_instance_id: bool = True) -> str:
        """Start the same orchestrator with the same input, under a new id or (if finished) the same one."""
        row = self._require(instance_id)
        return self.start_new(row["name"], None if new_instance_id else instance_id, row["input"])

    def rewind(self, instance_id: str, reason: str | None = None) -> None:
        """Rewind a Failed instance (and its failed sub-orchestrations): failed activities and children run again
        and the instance resumes, as the extension's Azure Storage provider does it (see ``rewind.py``)."""
        row = self._require(instance_id)
        if row["status"] != "Failed":
            raise InvalidOperationError("The rewind operation is only supported on failed orchestration instances.")
        store = self._db()
        now = self.clock.time()
        with store.tx():
            for leaf in rewind_history(store, instance_id, now):
                execution = store.instance(leaf)["execution_id"]
                store.enqueue(leaf, h.event(h.GENERIC, now, Data=reason), execution)
        log.info("Rewound instance=%s reason=%s", instance_id, reason)
        self._changed()

    def purge(self, instance_id: str) -> int:
        """Delete an instance and everything about it; returns how many instances were deleted (0 or 1)."""
        store = self._db()
        with store.tx():
            if store.instance(instance_id) is None:
                return 0
            store.delete_instance_data(instance_id)
        self._changed()
        return 1

    def purge_by(self, created_from: Any = None, created_to: Any = None,
                 statuses: Iterable[str] | None = None) -> int:
        """Purge every instance matching the filters; returns the number deleted."""
        where, args = self._filters(created_from, created_to, statuses, None)
        store = self._db()
        with store.tx():
            ids = [r["instance_id"] for r in store.q(f"SELECT instance_id FROM instances {where}", args)]  # noqa: S608
            for iid in ids:
                store.delete_instance_data(iid)
        self._changed()
        return len(ids)

    def signal_entity(self, name: str, key: str, op: str, input_json: str | None = None) -> None:
        """Queue a one-way operation.

        ``input_json`` is the operation input as the extension serializes it into the request message, i.e. the
        (re-serialized) JSON body of ``POST entities/{name}/{key}?op=``; the SDK's client double-encodes, so for a
        Python value ``v`` it is ``json.dumps(json.dumps(v))``. None = no input.
        """
        if self.index.entity(name) is None:
            raise InstanceNotFoundError(f"No entity function named '{name}' exists.")
        if not op:
            raise BadRequestError("an entity signal needs an operation name (op)")
        eid = scheduler_id(name, key)
        request = {"id": str(uuid.uuid4()), "op": op, "signal": True,
                   "input": input_json if input_json is not None else "null", "parent": None,
                   "timestamp": iso_z(self.clock.time())}
        store = self._db()
        with store.tx():
            store.x("INSERT INTO entity_messages(entity_id, request) VALUES (?,?)", (eid, json.dumps(request)))
        self._changed()

    def read_entity(self, name: str, key: str) -> str | None:
        """The entity's state JSON text, or None when it does not exist."""
        row = self._db().entity(scheduler_id(name, key))
        if row is None or not row["exists_"]:
            return None
        return row["state"]

    def list_entities(self, name: str | None = None, *, fetch_state: bool = False, last_operation_from: Any = None,
                      last_operation_to: Any = None, top: int = 100,
                      continuation: str | None = None) -> tuple[list[dict], str | None]:
        """Entities of one entity function (all when ``name`` is empty), as the extension's ``GET entities/{name}``
        (``ListEntitiesAsync``).

        Only existing entities (``IncludeDeleted`` false), ordered by id; each item is ``{"entityId": {"name",
        "key"}, "lastOperationTime", "state"}`` with ``state`` null unless ``fetch_state``. The time filters take
        epoch seconds or ISO text (``lastOperationTimeTo`` defaults to now). Returns (page, next token or None).
        """
        if top < 1:
            raise BadRequestError("top must be at least 1")
        try:
            offset = int(base64.b64decode(continuation).decode()) if continuation else 0
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"invalid continuation token {continuation!r}") from exc

        def ts(v: Any) -> float:
            return parse_iso(v) if isinstance(v, str) else float(v)

        low = ts(last_operation_from) if last_operation_from is not None else float("-inf")
        high = ts(last_operation_to) if last_operation_to is not None else self.clock.time()
        where, args = "exists_=1 AND updated>=? AND updated<=?", [low, high]
        if name:
            where, args = f"{where} AND name=?", [*args, name.lower()]
        rows = self._db().q(f"SELECT * FROM entities WHERE {where} ORDER BY entity_id LIMIT ? OFFSET ?",  # noqa: S608
                            [*args, top + 1, offset])
        page = [{"entityId": {"name": r["name"], "key": r["key"]}, "lastOperationTime": iso_z(r["updated"]),
                 "state": json_token(r["state"]) if fetch_state else None} for r in rows[:top]]
        token = base64.b64encode(str(offset + top).encode()).decode() if len(rows) > top else None
        return page, token

    def history(self, instance_id: str) -> list[dict]:
        """Raw DurableTask history of the current execution (the events the SDK replays)."""
        self._require(instance_id)
        return self._db().history(instance_id)

    # ------------------------------------------------------------------------------------------ waiting
    @contextlib.contextmanager
    def time_skipping_scope(self) -> Any:
        """While inside, a ``while_waiting`` engine skips to due timers when idle."""
        with self._cond:
            self._skip_waiters += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._skip_waiters -= 1

    def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
        """Block until ``predicate()`` is truthy (re-checked after every engine change); real-time ``timeout``."""
        deadline = time.monotonic() + timeout
        token = id(object()) ^ threading.get_ident() ^ time.monotonic_ns()
        with self._cond:
            self._seen[token] = -1  # no skipping before this waiter has looked at the state once
        with self.time_skipping_scope():
            try:
                while True:
                    with self._cond:
                        version = self._version
                    value = predicate()
                    if value:
                        return value
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise EngineTimeoutError(f"timed out after {timeout}s waiting for {what}")
                    with self._cond:
                        self._seen[token] = version
                        self._cond.notify_all()
                        if self._version == version:
                            self._cond.wait(min(remaining, 0.05))
            finally:
                with self._cond:
                    self._seen.pop(token, None)

    def wait_for(self, instance_id: str, *, statuses: Iterable[str] = ("Completed", "Failed", "Terminated"),
                 timeout: float = 30.0) -> dict:
        """Wait until the instance reaches one of ``statuses``; returns its status JSON (with history off)."""
        wanted = set(statuses)
        last: dict = {}

        def check() -> dict | None:
            st = self.get_status(instance_id)
            if st is not None:
                last.update(st)
                if st["runtimeStatus"] in wanted:
                    return st
            return None

        try:
            return self.wait_until(check, timeout=timeout, what=f"instance {instance_id!r} to reach {sorted(wanted)}")
        except EngineTimeoutError as exc:
            waiting = self._waiting_for.get(instance_id)
            running = last.get("runtimeStatus") == "Running"
            hint = f"; the orchestrator is awaiting {waiting}" if waiting and running else ""
            raise EngineTimeoutError(
                f"{exc}; last status: {json.dumps(last)[:500] if last else 'not found'}{hint}") from None

    def run_until_idle(self, *, timeout: float = 30.0, skip_timers: bool = False) -> None:
        """Wait until nothing is runnable now (no messages, activities, entity operations, due timers).

        With ``skip_timers=True`` the clock is also moved through every pending timer until none is left.
        """
        def idle() -> bool:
            store = self._db()
            with self._cond:  # atomically with the dispatcher moving work from pending to running
                if self._episodes or self._entities or self._activities or self._has_pending(store):
                    return False
            if skip_timers and store.next_timer() is not None:
                nxt, wake_due = self._skip_target(store)
                if wake_due:
                    return False  # a timer trigger is due at this instant: it runs before time moves on
                now = self.clock.time()
                if nxt is not None and nxt > now:
                    self.clock.advance(nxt - now)
                    self.stats["time_skips"] += 1
                self._changed()
                return False
            return True

        self.wait_until(idle, timeout=timeout, what="the engine to become idle")
