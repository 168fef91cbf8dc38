"""DurableTask.Core history events as the extension serializes them (Newtonsoft, PascalCase), and the status API's
friendly history form.

Why: the SDK reads these dicts verbatim (``HistoryEvent(**event)``), so field names, ``EventId`` rules (the
sequence id on scheduling events, -1 elsewhere) and ``Z`` timestamps must be exactly the extension's.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .clock import iso_z

# DurableTask.Core.History.EventType
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_FAILED = 2
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_CREATED = 7
SUB_ORCHESTRATION_COMPLETED = 8
SUB_ORCHESTRATION_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_SENT = 14
EVENT_RAISED = 15
CONTINUE_AS_NEW = 16
GENERIC = 17
HISTORY_STATE = 18
EXECUTION_SUSPENDED = 19
EXECUTION_RESUMED = 20

EVENT_NAMES = {
    0: "ExecutionStarted", 1: "ExecutionCompleted", 2: "ExecutionFailed", 3: "ExecutionTerminated",
    4: "TaskScheduled", 5: "TaskCompleted", 6: "TaskFailed", 7: "SubOrchestrationInstanceCreated",
    8: "SubOrchestrationInstanceCompleted", 9: "SubOrchestrationInstanceFailed", 10: "TimerCreated",
    11: "TimerFired", 12: "OrchestratorStarted", 13: "OrchestratorCompleted", 14: "EventSent", 15: "EventRaised",
    16: "ContinueAsNew", 17: "GenericEvent", 18: "HistoryState", 19: "ExecutionSuspended", 20: "ExecutionResumed",
}

# DurableTask.Core.OrchestrationStatus (numeric in ExecutionCompleted) and the status API's names.
ORCHESTRATION_STATUS = {"Running": 0, "Completed": 1, "ContinuedAsNew": 2, "Failed": 3, "Canceled": 4,
                        "Terminated": 5, "Pending": 6, "Suspended": 7}
STATUS_NAMES = {v: k for k, v in ORCHESTRATION_STATUS.items()}
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def event(event_type: int, ts: float, *, event_id: int = -1, **fields: Any) -> dict:
    """One history event dict (``IsPlayed`` false: the engine marks old events played when it replays)."""
    out: dict[str, Any] = {"EventType": event_type, "EventId": event_id, "IsPlayed": False, "Timestamp": iso_z(ts)}
    out.update(fields)
    return out


def orchestrator_started(ts: float) -> dict:
    return event(ORCHESTRATOR_STARTED, ts)


def orchestrator_completed(ts: float) -> dict:
    return event(ORCHESTRATOR_COMPLETED, ts)


def execution_started(ts: float, *, instance_id: str, execution_id: str, name: str, input_text: str | None,
                      parent: dict | None = None, version: str = "") -> dict:
    return event(EXECUTION_STARTED, ts, OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
                 ParentInstance=parent, Name=name, Version=version, Input=input_text, Tags=None,
                 Correlation=None, ScheduledStartTime=None, Generation=0)


def task_scheduled(ts: float, task_id: int, name: str, input_text: str | None) -> dict:
    return event(TASK_SCHEDULED, ts, event_id=task_id, Name=name, Version="", Input=input_text)


def task_completed(ts: float, task_id: int, result: str | None) -> dict:
    return event(TASK_COMPLETED, ts, TaskScheduledId=task_id, Result=result)


def task_failed(ts: float, task_id: int, reason: str, details: str | None) -> dict:
    return event(TASK_FAILED, ts, TaskScheduledId=task_id, Reason=reason, Details=details, FailureDetails=None)


def timer_created(ts: float, timer_id: int, fire_at_text: str) -> dict:
    return event(TIMER_CREATED, ts, event_id=timer_id, FireAt=fire_at_text)


def timer_fired(ts: float, timer_id: int, fire_at_text: str) -> dict:
    return event(TIMER_FIRED, ts, TimerId=timer_id, FireAt=fire_at_text)


def sub_created(ts: float, task_id: int, name: str, instance_id: str, input_text: str | None) -> dict:
    return event(SUB_ORCHESTRATION_CREATED, ts, event_id=task_id, Name=name, Version="", InstanceId=instance_id,
                 Input=input_text)


def sub_completed(ts: float, task_id: int, result: str | None) -> dict:
    return event(SUB_ORCHESTRATION_COMPLETED, ts, TaskScheduledId=task_id, Result=result)


def sub_failed(ts: float, task_id: int, reason: str, details: str | None) -> dict:
    return event(SUB_ORCHESTRATION_FAILED, ts, TaskScheduledId=task_id, Reason=reason, Details=details,
                 FailureDetails=None)


def event_sent(ts: float, event_id: int, target: str, name: str, input_text: str) -> dict:
    return event(EVENT_SENT, ts, event_id=event_id, InstanceId=target, Name=name, Input=input_text)


def event_raised(ts: float, name: str, input_text: str | None) -> dict:
    return event(EVENT_RAISED, ts, Name=name, Input=input_text)


def execution_completed(ts: float, status: str, result: str | None, *, event_id: int = -1) -> dict:
    """DTFx writes it before ``OrchestratorCompleted``, with the next sequence id and, for failures and
    terminations, the raw reason text as ``Result``."""
    return event(EXECUTION_COMPLETED, ts, event_id=event_id, OrchestrationStatus=ORCHESTRATION_STATUS[status],
                 Result=result, FailureDetails=None)


def execution_terminated(ts: float, reason: str | None) -> dict:
    return event(EXECUTION_TERMINATED, ts, Input=reason)


def execution_suspended(ts: float, reason: str | None) -> dict:
    return event(EXECUTION_SUSPENDED, ts, Reason=reason)


def execution_resumed(ts: float, reason: str | None) -> dict:
    return event(EXECUTION_RESUMED, ts, Reason=reason)


def continue_as_new(ts: float, input_text: str | None) -> dict:
    return event(CONTINUE_AS_NEW, ts, OrchestrationStatus=ORCHESTRATION_STATUS["ContinuedAsNew"], Result=input_text)


_DROPPED = frozenset({TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED, ORCHESTRATOR_STARTED, ORCHESTRATOR_COMPLETED,
                      GENERIC, HISTORY_STATE})


def _json_token(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def friendly_history(events: list[dict], *, show_output: bool) -> list[dict]:
    """The status API's ``historyEvents``: string event types, function names joined onto completions, scheduling
    and episode markers dropped, inputs/results only with ``showHistoryOutput`` (as the extension's client does)."""
    scheduled = {e["EventId"]: e for e in events if e["EventType"] in (TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED)}
    out: list[dict] = []
    for raw in events:
        et = raw["EventType"]
        if et in _DROPPED:
            continue
        e = copy.deepcopy(raw)
        e.pop("EventId", None)
        e.pop("IsPlayed", None)
        e["EventType"] = EVENT_NAMES.get(et, str(et))
        if et == EXECUTION_STARTED:
            e["FunctionName"] = e.pop("Name", None)
            for k in ("OrchestrationInstance", "ParentInstance", "Version", "Tags", "Correlation",
                      "ScheduledStartTime", "Generation"):
                e.pop(k, None)
            if show_output:
                e["Input"] = _json_token(e.get("Input"))
            else:
                e.pop("Input", None)
        elif et in (TASK_COMPLETED, TASK_FAILED, SUB_ORCHESTRATION_COMPLETED, SUB_ORCHESTRATION_FAILED):
            sched = scheduled.get(e.pop("TaskScheduledId", None))
            if sched is not None:
                e["FunctionName"] = sched.get("Name")
                e["ScheduledTime"] = sched.get("Timestamp")
            if "Result" in e:
                if show_output:
                    e["Result"] = _json_token(e["Result"])
                else:
                    e.pop("Result")
            e.pop("FailureDetails", None)
        elif et == EXECUTION_COMPLETED:
            e["OrchestrationStatus"] = STATUS_NAMES.get(e.get("OrchestrationStatus"), e.get("OrchestrationStatus"))
            if show_output:
                e["Result"] = _json_token(e.get("Result"))
            else:
                e.pop("Result", None)
            e.pop("FailureDetails", None)
        elif et in (EVENT_RAISED, EVENT_SENT, EXECUTION_TERMINATED):
            if show_output:
                e["Input"] = _json_token(e.get("Input"))
            else:
                e.pop("Input", None)
        out.append(e)
    return out
