"""`copy_model`: one source model → N targets, one `copy_model_to_target` sub-orchestration per target.

The request is validated and the tuning frozen by the `plan_copy` activity (so replays never read settings).
Children get deterministic ids (`<parent id>:<alias>`), at most FERRY_MAX_PARALLEL_TARGETS run at once (a
sliding window on `task_any`, so one slow target does not hold a batch back), and every child's result is
collected even when it failed: a failed child ends Failed (the portal shows it) and the parent records the
result it carried. When the source's budget is busy (many copies arriving together), the source's budget entity
tells the copy to relay (`ferry.orchestration.relay.copy_route`): the model goes from the source to one target
first and from there to the others (`origin` = the source, so the replicas' provenance tags name it); a relay
that fails is copied from the source (`<child id>:from-source`). A relay asks the budgets again when its first
copy is due to leave the source and when it is done: a source that has become the less busy sends the held
copies itself (`relay.relay_recheck`). The custom status shows each target's stage;
the output is
`{modelId, source, status: succeeded|partial|failed, targets: {alias: {status, targetModelId, error, via?}}}` (a
classifier's request and output name `classifierId` instead: `ferry.kinds`).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import timedelta
from typing import Any

from ferry import telemetry
from ferry.contracts import Answer, ChildInput, CopyPlanned, TargetPlan
from ferry.errors import FerryError
from ferry.kinds import kind_named
from ferry.orchestration import ids, outcome, progress
from ferry.orchestration.fanout import schedule_now
from ResourceBudget.pace import budget_of

from .child import NAME as CHILD_NAME

log = logging.getLogger("modelferry.orchestration")

NAME = "copy_model"


def copy_model(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: {modelId | classifierId, source?, targets?, targetModelId?} (aliases only)."""
    request = context.get_input() or {}
    started = context.current_utc_datetime
    requested_model = request.get("modelId") or request.get("classifierId") if isinstance(request, dict) else None
    requested_source = request.get("source") if isinstance(request, dict) else None

    answer = Answer.from_dict((yield context.call_activity("plan_copy", request)))
    if not answer.ok:
        error: FerryError = answer.error
        if not context.is_replaying:
            log.warning("%s [%s] request rejected: %s", context.instance_id, NAME, error.code)
        context.set_custom_status({"modelId": requested_model, "source": requested_source, "stage": "rejected",
                                   "targets": {}, "error": error.code})
        return outcome.parent_output(model_id=requested_model, source=requested_source, results={}, error=error)

    plan = CopyPlanned.from_dict(answer.value)
    model_id, source = plan.request[kind_named(plan.kind).request_field], plan.request["source"]
    policy = plan.policy
    child_ids = {t.alias: ids.child_instance_id(context.instance_id, t.alias) for t in plan.targets}
    entries = {t.alias: progress.parent_target_entry(stage="queued", instance_id=child_ids[t.alias])
               for t in plan.targets}

    def show(stage: str = "copying") -> None:
        context.set_custom_status(progress.parent_status(model_id=model_id, source=source, targets=entries,
                                                         stage=stage, kind=plan.kind))

    first, held, due = yield from _relays(context, plan, source)
    if first is not None:
        for target in held:
            entries[target.alias] = progress.parent_target_entry(stage="queued", instance_id=child_ids[target.alias])
            entries[target.alias]["via"] = first
    # (target, the target it is relayed from or None, the child's instance id)
    pending = [(t, None, child_ids[t.alias]) for t in plan.targets if t not in held]

    def queue_held(relay_from: str | None) -> None:
        """The targets held for the relay join the queue: copied from `relay_from`, or from the source (None)."""
        pending.extend((t, relay_from, child_ids[t.alias]) for t in held)
        if relay_from is None:
            for target in held:
                entries[target.alias].pop("via", None)
        held.clear()

    pending.sort(key=lambda entry: entry[0].alias != first)  # the relays' first target starts first
    running: list[tuple[Any, TargetPlan, str | None, str]] = []
    results: dict[str, dict[str, Any]] = {}
    while pending or running:
        new = []
        while pending and len(running) < policy.max_parallel_targets:
            target, via, instance_id = pending.pop(0)
            child_input = ChildInput(model_id=model_id, source=via or source, target=target.alias,
                                     target_model_id=target.target_model_id, api_version=target.api_version,
                                     degrade=target.degrade, policy=policy, kind=plan.kind,
                                     origin=source if via else None)
            task = context.call_sub_orchestrator(CHILD_NAME, child_input.to_dict(), instance_id)
            running.append((task, target, via, instance_id))
            new.append(task)
            entries[target.alias] = progress.parent_target_entry(stage="copying", instance_id=instance_id)
        show()
        # Children started next to running ones are handed to the host first (`fanout.schedule_now`); waiting
        # again on children started in an earlier episode adds no action.
        yield from schedule_now(context, new, [entry[0] for entry in running])
        done = yield context.task_any([entry[0] for entry in running] + ([due] if due is not None else []))
        if done is due:  # the relay's first copy is due to leave the source: is the source still that busy?
            due = None
            if (yield from _source_takes(context, source, held, than=plan.relay_backlog_seconds)):
                queue_held(None)
            continue
        index = next(i for i, entry in enumerate(running) if entry[0] is done)
        task, target, via, instance_id = running.pop(index)
        alias = target.alias
        value = getattr(task, "result", None)
        if isinstance(value, BaseException):
            result = outcome.result_from_child_failure(value, alias)
        elif isinstance(value, dict):
            result = value
        else:
            result = outcome.result_from_child_failure(Exception(f"unexpected child output {value!r}"), alias)
        if alias == first:  # the relays may go: from this target if it holds the model, else from the source
            relay_from = first if result.get("status") == "succeeded" else None
            if due is not None and not due.is_completed:
                due.cancel()
            due = None
            if (relay_from and held and plan.relay_recheck
                    and (yield from _source_less_busy(context, source, relay_from, held))):
                relay_from = None
            queue_held(relay_from)
        if via is not None and result.get("status") != "succeeded":
            # the relay did not work (its replica, its region, a composed model): from the source after all
            _log_relay_failed(context, alias, via, result.get("error"))
            pending.append((target, None, ids.child_instance_id(context.instance_id, f"{alias}:from-source")))
            continue
        result["instanceId"] = instance_id
        if via is not None:
            result["via"] = via
        results[alias] = result
        entries[alias] = progress.parent_target_entry(
            stage=result.get("status", "failed"), instance_id=instance_id, attempts=result.get("attempts"),
            target_model_id=result.get("targetModelId"),
            error_code=(result.get("error") or {}).get("code"))
        if not context.is_replaying:
            log.info("%s [%s] target %s: %s", context.instance_id, NAME, alias, result.get("status"))
            telemetry.log_copy_target_finished(instance_id=instance_id, source=source, artifact_id=model_id,
                                               result=result, artifact_kind=plan.kind)

    output = outcome.parent_output(model_id=model_id, source=source, results=results,
                                   duration_seconds=(context.current_utc_datetime - started).total_seconds(),
                                   kind=plan.kind)
    show(output["status"])
    return output


def _relays(context: Any, plan: CopyPlanned, source: str,
            ) -> Generator[Any, Any, tuple[str | None, list[TargetPlan], Any]]:
    """Whether this copy relays (`ferry.orchestration.relay.copy_route`, decided by the source's budget so that
    copies arriving together see each other): the target copied from the source first, the targets then copied
    from it, and a timer for when the first copy is due to leave the source (None when the plan has no
    rechecks); (None, [], None) when every target is copied from the source."""
    peers = [t for t in plan.targets if t.alias in plan.relay_peers]
    if len(peers) < 2 or plan.relay_backlog_seconds is None:
        return None, [], None
    decision = yield context.call_entity(budget_of(source), "route", {
        "now": context.current_utc_datetime.isoformat(), "peers": len(peers),
        "relayAfter": plan.relay_backlog_seconds})
    if not isinstance(decision, dict) or not decision.get("relay"):
        return None, [], None
    first = peers[int(decision.get("turn") or 0) % len(peers)]
    backlog = float(decision.get("backlogSeconds") or 0)
    if not context.is_replaying:
        log.info("%s [%s] the source's budget is booked %.1f s ahead: copying to %s first, then from there",
                 context.instance_id, NAME, backlog, first.alias)
    due = None
    if plan.relay_recheck and plan.relay_backlog_seconds > 0:  # at 0 the source is never less busy than that
        due = context.create_timer(context.current_utc_datetime + timedelta(seconds=backlog))
    return first.alias, [t for t in peers if t is not first], due


def _source_less_busy(context: Any, source: str, first: str, held: list[TargetPlan]) -> Generator[Any, Any, bool]:
    """Once the relay's first copy is done: whether the source, booked less than the first target, sends the
    held copies (the less busy holder sends, as the sync chooses)."""
    ahead = yield context.call_entity(budget_of(first), "backlog", {"now": context.current_utc_datetime.isoformat()})
    than = float(ahead.get("backlogSeconds") or 0) if isinstance(ahead, dict) else 0.0
    return (yield from _source_takes(context, source, held, than=than))


def _source_takes(context: Any, source: str, held: list[TargetPlan], than: float) -> Generator[Any, Any, bool]:
    """Whether the source, booked less than `than` seconds ahead, sends the copies held for a relay itself after
    all (`ferry.orchestration.relay.relay_recheck`; it claims their calls)."""
    answer = yield context.call_entity(budget_of(source), "recheck", {
        "now": context.current_utc_datetime.isoformat(), "calls": len(held), "than": than})
    direct = isinstance(answer, dict) and bool(answer.get("direct"))
    if direct and not context.is_replaying:
        log.info("%s [%s] the source is booked only %.1f s ahead (less than %.1f s): copying to %s from the source",
                 context.instance_id, NAME, float(answer.get("backlogSeconds") or 0), than,
                 ", ".join(t.alias for t in held))
    return direct


def _log_relay_failed(context: Any, alias: str, via: str, error: Any) -> None:
    if not context.is_replaying:
        code = error.get("code") if isinstance(error, dict) else None
        log.warning("%s [%s] relayed copy to %s from %s failed (%s); copying it from the source",
                    context.instance_id, NAME, alias, via, code)
