"""`sync_estate`: keep every model of a source replicated to every target — plan, then execute in chunks.

Top to bottom: validate and freeze the tuning (`sync_prepare`) → read the v2 mapping (durable entity, v2 sources
only) → inventory + plan in one activity (`sync_plan`; only rows that need work enter history) → a dry run
returns the plan → otherwise the rows that need work run chunk after chunk, each a `sync_chunk`
sub-orchestration (`<sync id>:c<n>`) of FERRY_SYNC_MAX_PARALLEL_COPIES lanes × `ROWS_PER_LANE` rows, whose lanes
run their rows through the copy workflow (`copy_model_to_target`, so every recovery case applies). Rows are
grouped into routes first (`ferry.orchestration.relay`): a route is one model's rows that are relayed from target
to target, kept in one lane. Chunking keeps
every history small: 1,500 copies at 20 lanes are 10 chunks here (≈ 620 events with the progress ticks, measured),
20 lanes per chunk and 8 copies per lane (≈ 60 events each), never one history of thousands. The output lists
only the rows that are not up to date.

Live progress (custom status `{stage, source, progress: {target: {done, total, throttled}}, throughput}`): the lanes
signal the sync's `sync_progress` entity once per finished row; while a chunk runs, this orchestrator waits on the
chunk or a short durable timer (`PROGRESS_TICK_SECONDS`, growing with the chunk's age to at most
`PROGRESS_TICK_MAX_SECONDS`) and, when the timer wins, reads the entity and shows its counts. Once the entity says
every row of the chunk is done it waits on the chunk alone: the out-of-process shim awaits a `task_any` made of an
already-scheduled chunk only through its new timer, so this keeps the step to the next chunk immediate. A tick
costs about 8 history events; the entity is deleted when the rows are done.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from ferry import telemetry
from ferry.errors import FerryError
from ferry.orchestration import relay, sync_plan
from ferry.orchestration.polling import transient_delay
from ferry.orchestration.sync_request import SyncRequest

from .chunk import NAME as CHUNK_NAME
from .entity import NAME as ENTITY_NAME
from .progress import NAME as PROGRESS_NAME

log = logging.getLogger("modelferry.orchestration")

NAME = "sync_estate"
ROWS_PER_LANE = 8  # a chunk holds FERRY_SYNC_MAX_PARALLEL_COPIES lanes of this many rows each
PLAN_ATTEMPTS = 4  # a throttled/transient inventory is planned again on durable timers this many times
PROGRESS_TICK_SECONDS = 5.0  # while a chunk runs, its live progress is read this often (orchestration time) ...
PROGRESS_TICK_MAX_SECONDS = 60.0  # ... growing to a fifth of the chunk's age, at most this: few ticks per long chunk


def sync_estate(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: a sync request (normalized by the starters; re-validated here)."""
    raw = context.get_input() or {}
    raw_source = raw.get("source") if isinstance(raw, dict) else None
    started = context.current_utc_datetime
    _show(context, "preparing", raw_source, {}, None)

    prepared = yield context.call_activity("sync_prepare", raw)
    if not prepared.get("ok"):
        return _finished(context, started, _rejected(context, raw, prepared.get("error") or {}), {})
    facts = prepared["value"]
    request = SyncRequest.from_input(facts["request"])
    entity = df.EntityId(ENTITY_NAME, request.source)
    v2 = facts["sourceGeneration"] == "v2"
    v2_map = (yield context.call_entity(entity, "get")) if v2 else {}

    _show(context, "planning", request.source, {}, None)
    plan, error = yield from _plan(context, request, v2_map or {})
    if error is not None:
        output = sync_plan.sync_output(request, None, [], error=FerryError.from_dict(error).public())
        _show(context, "failed", request.source, {}, None)
        _log(context, "planning failed: %s", error.get("code"))
        return _finished(context, started, output, {})
    if v2 and not request.dry_run and (plan.get("v2Adopt") or plan.get("v2Forget")):
        context.signal_entity(entity, "reconcile", {"record": plan.get("v2Adopt") or {},
                                                    "forget": plan.get("v2Forget") or {}})

    items: list[dict[str, Any]] = []
    executable: list[dict[str, Any]] = []
    for row in plan["rows"]:
        settled = sync_plan.settle_without_execution(row, on_stale=request.on_stale, dry_run=request.dry_run)
        if settled is None:
            executable.append(row)
        else:
            items.append(settled)
    progress = {alias: {"done": 0, "total": sum(1 for r in executable if r["target"] == alias), "throttled": 0}
                for alias in request.targets}
    if executable:
        items.extend((yield from _execute(context, request, facts, executable, progress, entity)))
    output = sync_plan.sync_output(request, plan, items)
    if v2:
        output["v2Replicas"] = sync_plan.v2_replicas_after(v2_map or {}, plan, items)
    _show(context, output["status"], request.source, progress, None)
    _log(context, "finished %s: %s", output["status"], output["counts"])
    return _finished(context, started, output, progress)


def _finished(context: Any, started: Any, output: dict[str, Any], progress: dict[str, dict[str, int]]
              ) -> dict[str, Any]:
    """Log the finished-sync record and one record per replica expiring soon (portal workbook and alerts),
    outside replay; returns `output`."""
    if not context.is_replaying:
        telemetry.log_sync_finished(instance_id=context.instance_id, output=output,
                                    duration_seconds=(context.current_utc_datetime - started).total_seconds(),
                                    throttled=sum(int(p.get("throttled") or 0) for p in progress.values()))
        for warning in output.get("warnings") or []:
            if warning.get("code") == "ReplicaExpiresSoon":
                for target in warning.get("targets") or []:
                    telemetry.log_replica_expiring(instance_id=context.instance_id, source=output.get("source"),
                                                   artifact_id=str(warning.get("id")), target=str(target),
                                                   expires_at=str(warning.get("expires")))
    return output


def _plan(context: Any, request: SyncRequest,
          v2_map: dict[str, Any]) -> Generator[Any, Any, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """The plan, or the error that prevented it (throttled/transient inventories retried on durable timers)."""
    for attempt in range(1, PLAN_ATTEMPTS + 1):
        planned = yield context.call_activity("sync_plan", {
            "request": request.to_input(), "v2Map": v2_map,
            "now": context.current_utc_datetime.strftime("%Y-%m-%dT%H:%M:%SZ")})
        if planned.get("ok"):
            return planned["value"], None
        error = planned.get("error") or {}
        if not error.get("retryable") or attempt == PLAN_ATTEMPTS:
            return None, error
        delay = transient_delay(attempt, error.get("retryAfter"))
        _log(context, "inventory %s (%s); planning again in %.0f s", error.get("kind"), error.get("code"), delay)
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=delay))
    return None, {"code": "PlanFailed", "message": "planning failed", "hint": "see the host log"}


def _execute(context: Any, request: SyncRequest, facts: dict[str, Any], rows: list[dict[str, Any]],
             progress: dict[str, dict[str, int]], entity: Any) -> Generator[Any, Any, list[dict[str, Any]]]:
    """Run the rows chunk after chunk (each chunk: `parallel` lanes side by side); collect every row's item."""
    parallel = max(int(facts.get("parallel") or 1), 1)
    items: list[dict[str, Any]] = []
    begun = context.current_utc_datetime
    live = df.EntityId(PROGRESS_NAME, context.instance_id)
    routes = relay.assign(rows, source=request.source, peers=facts.get("relayPeers") or (),
                          rates=facts.get("managementRates") or {})
    for number, chunk_rows in enumerate(sync_plan.chunks(routes, parallel * ROWS_PER_LANE)):
        _show(context, "copying", request.source, progress, _throughput(context, begun, progress))
        chunk_input = {"source": request.source, "rows": chunk_rows, "policy": facts["policy"],
                       "targets": facts["targets"], "lanes": parallel, "progress": context.instance_id}
        task = context.call_sub_orchestrator(CHUNK_NAME, chunk_input, f"{context.instance_id}:c{number:04d}")
        yield from _watch(context, task, live, request.source, progress, begun,
                          sum(p["done"] for p in progress.values()) + len(chunk_rows))
        try:
            value = yield task
        except Exception as exc:  # a chunk that failed outright (a bug): every row it held is reported failed
            value = exc
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            chunk_items = value["items"]
        else:
            chunk_items = [_row_item(row, "failed", error={"code": "SyncChunkFailed", "message": str(value)[:300],
                                                            "hint": "See the chunk's history and the host log."})
                           for row in chunk_rows]
        items.extend(chunk_items)
        recorded: dict[str, dict[str, str]] = {}
        forgotten: dict[str, list[str]] = {}
        for item in chunk_items:
            entry = progress.setdefault(item["target"], {"done": 0, "total": 0, "throttled": 0})
            entry["done"] += 1
            entry["throttled"] += int(item.pop("throttled", 0) or 0)
            v2_copy = item.pop("v2Copy", None)
            if facts["sourceGeneration"] != "v2":
                continue
            if v2_copy:
                recorded.setdefault(item["target"], {})[item["id"]] = v2_copy
            elif item.get("result") == "pruned":
                forgotten.setdefault(item["target"], []).append(item["id"])
        if recorded or forgotten:
            context.signal_entity(entity, "reconcile", {"record": recorded, "forget": forgotten})
    context.signal_entity(live, "delete")
    return items


def _watch(context: Any, task: Any, live: Any, source: str, progress: dict[str, dict[str, int]], begun: Any,
           expected: int) -> Generator[Any, Any, None]:
    """Until the chunk `task` finishes or the `live` entity counts `expected` rows done (sync-wide): on each tick,
    show the entity's counts in the custom status. Returns without consuming the chunk's result."""
    started = context.current_utc_datetime
    while True:
        age = (context.current_utc_datetime - started).total_seconds()
        tick = min(max(PROGRESS_TICK_SECONDS, age / 5.0), PROGRESS_TICK_MAX_SECONDS)
        timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=tick))
        yield context.task_any([task, timer])
        if task.is_completed:
            if not timer.is_completed:
                timer.cancel()
            return
        counts = (yield context.call_entity(live, "get")) or {}
        shown = _live_progress(progress, counts)
        _show(context, "copying", source, shown, _throughput(context, begun, shown))
        if sum(p["done"] for p in shown.values()) >= expected:
            return  # every row of the chunk is done: only the chunk's own completion is left


def _live_progress(progress: dict[str, dict[str, int]], counts: dict[str, Any]) -> dict[str, dict[str, int]]:
    """`progress` (as of the last finished chunk) with the live entity's counts, which run ahead of it."""
    done, throttled = counts.get("done") or {}, counts.get("throttled") or {}
    return {alias: {"done": min(p["total"], max(p["done"], int(done.get(alias, 0)))), "total": p["total"],
                    "throttled": max(p["throttled"], int(throttled.get(alias, 0)))}
            for alias, p in progress.items()}


def _row_item(row: dict[str, Any], result: str, **extra: Any) -> dict[str, Any]:
    item = {k: row[k] for k in ("id", "kind", "target", "action") if k in row}
    item["result"] = result
    item.update({k: v for k, v in extra.items() if v is not None})
    return item


def _rejected(context: Any, raw: Any, error: dict[str, Any]) -> dict[str, Any]:
    source = raw.get("source") if isinstance(raw, dict) else None
    _show(context, "rejected", source, {}, None)
    _log(context, "request rejected: %s", error.get("code"))
    return {"source": source, "status": "failed", "dryRun": bool(isinstance(raw, dict) and raw.get("dryRun")),
            "counts": {}, "items": [], "warnings": [], "error": FerryError.from_dict(error).public()}


def _throughput(context: Any, begun: Any, progress: dict[str, dict[str, int]]) -> float | None:
    minutes = (context.current_utc_datetime - begun).total_seconds() / 60.0
    done = sum(p["done"] for p in progress.values())
    return done / minutes if minutes > 0 and done else None


def _show(context: Any, stage: str, source: str | None, progress: dict[str, dict[str, int]],
          throughput: float | None) -> None:
    context.set_custom_status(sync_plan.progress_status(stage=stage, source=source or "", progress=progress,
                                                        throughput=throughput))


def _log(context: Any, message: str, *args: Any) -> None:
    if not context.is_replaying:
        log.info("%s [%s] " + message, context.instance_id, NAME, *args)
