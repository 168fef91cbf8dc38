"""`sync_chunk` and `sync_lane`: run a chunk of a sync's rows — copies, replacements of stale replicas, prunes.

A chunk splits its rows into `lanes` lanes (round robin) and runs them side by side, one `sync_lane`
sub-orchestration each (`<chunk id>:l00`…), waiting for all of them (one WhenAll). A lane runs its rows one after
the other. Why lanes and not a sliding window of `task_any` over the copies: the extension's out-of-process shim
replays an orchestrator's actions in order, awaiting each one, and a `task_any` over tasks scheduled in an
earlier episode becomes a wait on only the tasks it newly schedules — so a sliding window refills only when its
newest copy finishes, not when any does (measured: a window of 10 ran about 2 copies at a time). Sequential lanes
keep `lanes` copies in flight all the time with plain awaits.

Each copy is a `copy_model_to_target` sub-orchestration with a deterministic id (`<lane id>:<model>:<target>`,
hashed down to the 100-character limit), so a host killed mid-sync resumes the same copies and never starts a
second one. A stale replica (`onStale: replace`) is deleted only after the source model was checked ready, right
before its copy starts, so the target is without a replica for as short a time as possible; the item says how
long (`gapSeconds`). A prune deletes only after re-checking, on the service, that the target model still is
ModelFerry's copy and its source is still gone (`sync_prune`).

Live progress: when the chunk's input names a `progress` key (the sync's instance id), each lane signals the
`sync_progress` entity once per finished row (fire-and-forget: one event, no wait), which `sync_estate` reads while
the chunk runs.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from CopyOrchestrator.child import NAME as COPY_CHILD
from ferry import telemetry
from ferry.contracts import ChildInput
from ferry.errors import FerryError
from ferry.orchestration import ids, outcome, relay
from ferry.orchestration.policy import CopyPolicy
from ferry.orchestration.polling import transient_delay
from ResourceBudget.pace import wait_for_slots

from .progress import NAME as PROGRESS

log = logging.getLogger("modelferry.orchestration")

NAME = "sync_chunk"
LANE = "sync_lane"
STEP_ATTEMPTS = 4  # a throttled/transient check, delete or prune is tried this many times (durable timers)


def sync_chunk(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: {source, rows, policy, targets: {alias: {apiVersion, degrade}}, lanes, progress?}."""
    data = context.get_input() or {}
    rows: list[dict[str, Any]] = list(data.get("rows") or [])
    routes = relay.routes_of(rows)
    lanes = relay.deal(routes, min(int(data.get("lanes") or 1), len(routes)))
    count = len(lanes)
    common = {key: data.get(key) for key in ("source", "policy", "targets", "progress")}
    tasks = [context.call_sub_orchestrator(LANE, {**common, "rows": lane}, f"{context.instance_id}:l{k:02d}")
             for k, lane in enumerate(lanes)]
    context.set_custom_status({"stage": "copying", "lanes": count, "total": len(rows)})
    try:
        results = yield context.task_all(tasks)
    except Exception as exc:  # a lane failed outright (a bug): report what every lane that finished returned
        results = [getattr(task, "result", None) for task in tasks]
        log.warning("%s [%s] a lane failed: %s", context.instance_id, NAME, str(exc)[:300])
    items: list[dict[str, Any]] = []
    for lane, result in zip(lanes, results, strict=True):
        if isinstance(result, dict) and isinstance(result.get("items"), list):
            items.extend(result["items"])
        else:
            items.extend(_item(row, "failed", error={"code": "SyncLaneFailed", "message": str(result)[:300],
                                                     "hint": "See the lane's history and the host log."})
                         for row in lane)
    context.set_custom_status({"stage": "done", "lanes": count, "total": len(rows)})
    return {"items": items}


def sync_lane(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: {source, rows, policy, targets, progress?}. The rows one after the other; each
    finished row is signalled to the sync's `sync_progress` entity (when `progress` names one)."""
    data = context.get_input() or {}
    rows: list[dict[str, Any]] = list(data.get("rows") or [])
    progress = df.EntityId(PROGRESS, str(data["progress"])) if data.get("progress") else None
    items: list[dict[str, Any]] = []
    replicas: set[str] = set()  # targets that received this route's model in this lane: they may relay it
    for row in rows:
        context.set_custom_status({"stage": "copying", "done": len(items), "total": len(rows)})
        if not row.get("via"):
            replicas.clear()  # a new route
        via = row.get("via") if row.get("via") in replicas else None
        started = yield from _start(context, data, row)
        if isinstance(started, dict):
            items.append(started)  # finished without a copy (prune, or a replacement that could not start)
        else:
            deleted_at = started
            item = yield from _copy(context, data, row, deleted_at, via)
            if via is not None and item["result"] == "failed":
                # the relay did not work (its replica, its region, a composed model): from the source after all
                _log_relay_failed(context, row, via, item.get("error"))
                item = yield from _copy(context, data, row, deleted_at, None, retry=True)
            items.append(item)
            if item["result"] in ("copied", "replaced"):
                replicas.add(row["target"])
        if progress is not None:
            context.signal_entity(progress, "row", {"target": row["target"],
                                                    "throttled": int(items[-1].get("throttled") or 0)})
    context.set_custom_status({"stage": "done", "done": len(items), "total": len(rows)})
    return {"items": items}


def _log_relay_failed(context: Any, row: dict[str, Any], via: str, error: Any) -> None:
    if not context.is_replaying:
        code = error.get("code") if isinstance(error, dict) else None
        log.warning("%s [%s] relayed copy of %s from %s to %s failed (%s); copying it from the source",
                    context.instance_id, LANE, row["id"], via, row["target"], code)


def _copy(context: Any, data: dict[str, Any], row: dict[str, Any], deleted_at: datetime | None, via: str | None,
          *, retry: bool = False) -> Generator[Any, Any, dict[str, Any]]:
    """One row's copy through the copy workflow (from the source, or relayed from the target `via`): its item."""
    source, target = data["source"], row["target"]
    facts = (data.get("targets") or {}).get(target) or {}
    v2 = str(facts.get("apiVersion", "")).startswith("v2")
    child_input = ChildInput(model_id=row["id"], source=via or source, target=target,
                             target_model_id=None if v2 else row["id"], api_version=str(facts.get("apiVersion", "")),
                             degrade=bool(facts.get("degrade")), policy=CopyPolicy.from_dict(data.get("policy")),
                             kind=row.get("kind") or "model", origin=source if via else None)
    instance_id = _child_id(context, row, "from-source" if retry else None)
    try:
        value = yield context.call_sub_orchestrator(COPY_CHILD, child_input.to_dict(), instance_id)
    except Exception as exc:  # the copy ended Failed: its result travels in the exception
        value = exc
    item = _copied(context, source, row, value, deleted_at, instance_id)
    if via is not None and item["result"] != "failed":
        item["via"] = via
    return item


def _start(context: Any, data: dict[str, Any], row: dict[str, Any]
           ) -> Generator[Any, Any, dict[str, Any] | datetime | None]:
    """Prepare one row: prune it (its finished item), or for a copy, delete its stale replica first (when it was
    deleted, None when there was none; or the finished item when that could not be done)."""
    source, target = data["source"], row["target"]
    target_model_id = row.get("targetModelId") or row["id"]
    if row["action"] == "prune":
        value, error = yield from _step(context, "sync_prune", {
            "source": source, "target": target, "targetModelId": target_model_id, "sourceModelId": row["id"]},
            paced=((target, "manage"),))
        if error:
            return _item(row, "failed", error=_public(error))
        if value.get("skipped"):
            return _item(row, "skipped", reason=value["skipped"])
        return _item(row, "pruned")
    deleted_at = None
    if row["action"] == "stale":
        checked, error = yield from _step(context, "check_source_model", {"source": source, "modelId": row["id"]},
                                          paced=((source, "get"),))
        if not error and not checked.get("ready"):
            error = {"code": "SourceModelNotReady", "message": f"source model {row['id']} is "
                     f"{checked.get('status')}; its stale replica was left in place",
                     "hint": "Sync again once the source model is ready."}
        if error:
            return _item(row, "failed", error=_public(error))
        _, error = yield from _step(context, "delete_target_model", {"target": target,
                                                                     "targetModelId": target_model_id},
                                    paced=((target, "manage"),))
        if error:
            return _item(row, "failed", error=_public(error))
        deleted_at = context.current_utc_datetime
    return deleted_at


def _child_id(context: Any, row: dict[str, Any], suffix: str | None = None) -> str:
    """`<lane id>:<model>:<target>` (a classifier's: `<lane id>:classifier:<id>:<target>`: ids of two kinds may
    be equal; a relay's second try from the source: `…:<target>:from-source`), hashed down to the 100-character
    limit."""
    kind = row.get("kind") or "model"
    head = f"{context.instance_id}:{row['id']}" if kind == "model" else f"{context.instance_id}:{kind}:{row['id']}"
    return ids.child_instance_id(head, f"{row['target']}:{suffix}" if suffix else row["target"])


def _copied(context: Any, source: str, row: dict[str, Any], value: Any, deleted_at: datetime | None,
            instance_id: str) -> dict[str, Any]:
    """The item of a finished copy (from the child's result, or its failure); logs its finished-run record."""
    if isinstance(value, dict):
        result = value
    else:
        result = outcome.result_from_child_failure(
            value if isinstance(value, BaseException) else Exception(f"unexpected child output {value!r}"),
            row["target"])
    if not context.is_replaying:
        telemetry.log_copy_target_finished(instance_id=instance_id, source=source, artifact_id=row["id"],
                                           result=result, artifact_kind=row.get("kind") or "model")
    gap = (context.current_utc_datetime - deleted_at).total_seconds() if deleted_at is not None else None
    target_model_id = result.get("targetModelId")
    extra: dict[str, Any] = {"throttled": result.get("throttled")}
    if target_model_id and target_model_id != row["id"]:
        extra["targetModelId"] = target_model_id
        extra["v2Copy"] = target_model_id if result.get("status") == "succeeded" else None
    if result.get("status") == "succeeded":
        return _item(row, "replaced" if row["action"] == "stale" else "copied",
                     gapSeconds=round(gap, 3) if gap is not None else None, **extra)
    return _item(row, "failed", error=result.get("error"), gapSeconds=round(gap, 3) if gap is not None else None,
                 **extra)


def _step(context: Any, name: str, payload: dict[str, Any], paced: tuple[tuple[str, str], ...] = ()
          ) -> Generator[Any, Any, tuple[dict[str, Any], dict[str, Any] | None]]:
    """One activity, retried on durable timers while throttled/transient: (value, error). Each attempt first
    waits for a slot of the `paced` (resource alias, rate group) budgets (`ResourceBudget.pace`), like the copy
    workflow's calls: deletes and prunes share their target's management budget with every copy."""
    for attempt in range(1, STEP_ATTEMPTS + 1):
        if paced:
            yield from wait_for_slots(context, paced)
        envelope = yield context.call_activity(name, payload)
        if envelope.get("ok"):
            return envelope.get("value") or {}, None
        error = envelope.get("error") or {}
        if not error.get("retryable") or attempt == STEP_ATTEMPTS:
            return {}, error
        delay = transient_delay(attempt, error.get("retryAfter"))
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=delay))
    return {}, {"code": "StepFailed", "message": name, "hint": "see the host log"}


def _public(error: dict[str, Any]) -> dict[str, str]:
    """What the output shows of an activity's error: code, message, hint."""
    return FerryError.from_dict(error).public()


def _item(row: dict[str, Any], result: str, **extra: Any) -> dict[str, Any]:
    item = {k: row[k] for k in ("id", "kind", "target", "action") if k in row}
    if row.get("targetModelId"):
        item["targetModelId"] = row["targetModelId"]
    item["result"] = result
    item.update({k: v for k, v in extra.items() if v is not None})
    return item
