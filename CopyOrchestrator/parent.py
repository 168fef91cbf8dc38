"""`copy_model`: one source model → N targets, one `copy_model_to_target` sub-orchestration per target.

The request is validated and the tuning frozen by the `plan_copy` activity (so replays never read settings).
Children get deterministic ids (`<parent id>:<alias>`), at most FERRY_MAX_PARALLEL_TARGETS run at once (a
sliding window on `task_any`, so one slow target does not hold a batch back), and every child's result is
collected even when it failed: a failed child ends Failed (the portal shows it) and the parent records the
result it carried. The custom status shows each target's stage; the output is
`{modelId, source, status: succeeded|partial|failed, targets: {alias: {status, targetModelId, error}}}` (a
classifier's request and output name `classifierId` instead: `ferry.kinds`).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from ferry import telemetry
from ferry.contracts import Answer, ChildInput, CopyPlanned
from ferry.errors import FerryError
from ferry.kinds import kind_named
from ferry.orchestration import ids, outcome, progress
from ferry.orchestration.fanout import schedule_now

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

    pending = list(plan.targets)
    running: list[tuple[Any, str]] = []
    results: dict[str, dict[str, Any]] = {}
    while pending or running:
        new = []
        while pending and len(running) < policy.max_parallel_targets:
            target = pending.pop(0)
            alias = target.alias
            child_input = ChildInput(model_id=model_id, source=source, target=alias,
                                     target_model_id=target.target_model_id, api_version=target.api_version,
                                     degrade=target.degrade, policy=policy, kind=plan.kind)
            task = context.call_sub_orchestrator(CHILD_NAME, child_input.to_dict(), child_ids[alias])
            running.append((task, alias))
            new.append(task)
            entries[alias] = progress.parent_target_entry(stage="copying", instance_id=child_ids[alias])
        show()
        # Children started next to running ones are handed to the host first (`fanout.schedule_now`); waiting
        # again on children started in an earlier episode adds no action.
        yield from schedule_now(context, new, [task for task, _ in running])
        done = yield context.task_any([task for task, _ in running])
        index = next(i for i, (task, _) in enumerate(running) if task is done)
        task, alias = running.pop(index)
        value = getattr(task, "result", None)
        if isinstance(value, BaseException):
            result = outcome.result_from_child_failure(value, alias)
        elif isinstance(value, dict):
            result = value
        else:
            result = outcome.result_from_child_failure(Exception(f"unexpected child output {value!r}"), alias)
        result["instanceId"] = child_ids[alias]
        results[alias] = result
        entries[alias] = progress.parent_target_entry(
            stage=result.get("status", "failed"), instance_id=child_ids[alias], attempts=result.get("attempts"),
            target_model_id=result.get("targetModelId"),
            error_code=(result.get("error") or {}).get("code"))
        if not context.is_replaying:
            log.info("%s [%s] target %s: %s", context.instance_id, NAME, alias, result.get("status"))
            telemetry.log_copy_target_finished(instance_id=child_ids[alias], source=source, artifact_id=model_id,
                                               result=result, artifact_kind=plan.kind)

    output = outcome.parent_output(model_id=model_id, source=source, results=results,
                                   duration_seconds=(context.current_utc_datetime - started).total_seconds(),
                                   kind=plan.kind)
    show(output["status"])
    return output
