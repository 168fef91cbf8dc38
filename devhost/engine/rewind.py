"""Rewind of a Failed instance, as the extension's Azure Storage provider does it (``RewindHistoryAsync``).

Why a module: the algorithm rewrites stored history, apart from the scheduler. In the current execution every
failure is "cleared" by turning it into a ``GenericEvent`` (replay ignores those; the row keeps its place):
``TaskFailed`` together with its ``TaskScheduled`` (so the activity is scheduled again with the same sequence id),
``SubOrchestrationInstanceFailed`` (its ``SubOrchestrationInstanceCreated`` stays, and the child instance is
rewound the same way, recursively), and the ``ExecutionCompleted`` whose status is Failed. Each rewound instance
goes back to Pending. The deepest failed instances of each branch ("failed leaves") are then woken with a
``GenericEvent(-1, reason)`` message; a parent resumes when its rewound child completes. Retry timers of a
``*_with_retry`` task stay in history, so such a rewind is reported as non-deterministic, as DTFx would.
"""

from __future__ import annotations

import json

from . import history as h
from .store import Store

_FAILED = h.ORCHESTRATION_STATUS["Failed"]


def _generic(original: dict) -> dict:
    """The GenericEvent a rewound row becomes (DTFx reads only its id, time and Data back)."""
    return {"EventType": h.GENERIC, "EventId": original.get("EventId", -1), "IsPlayed": original.get("IsPlayed", False),
            "Timestamp": original.get("Timestamp"), "Data": None}


def rewind_history(store: Store, instance_id: str, now: float, *, _seen: set[str] | None = None) -> list[str]:
    """Clear the failures of ``instance_id`` (and of its failed children); returns the failed leaves to wake.

    Call inside a store transaction.
    """
    seen = _seen if _seen is not None else set()
    if instance_id in seen:  # defensive: a cycle cannot happen (a child id never equals its parent's)
        return []
    seen.add(instance_id)
    rows = store.q("SELECT seq, event FROM history WHERE instance_id=? ORDER BY seq", (instance_id,))
    events = [(r["seq"], json.loads(r["event"])) for r in rows]
    by_seq = dict(events)
    by_id: dict[tuple[int, int], int] = {}
    for seq, ev in events:
        if ev["EventType"] in (h.TASK_SCHEDULED, h.SUB_ORCHESTRATION_CREATED):
            by_id[(ev["EventType"], ev.get("EventId", -1))] = seq
    rewritten: dict[int, dict] = {}
    leaves: list[str] = []
    has_failed_children = False
    for seq, ev in events:
        et = ev["EventType"]
        if et == h.TASK_FAILED:
            sched = by_id.get((h.TASK_SCHEDULED, ev.get("TaskScheduledId")))
            if sched is not None:
                rewritten[sched] = _generic(by_seq[sched])
            rewritten[seq] = _generic(ev)
        elif et == h.SUB_ORCHESTRATION_FAILED:
            has_failed_children = True
            created = by_id.get((h.SUB_ORCHESTRATION_CREATED, ev.get("TaskScheduledId")))
            child = by_seq[created].get("InstanceId") if created is not None else None
            if child and store.instance(child) is not None:
                leaves += rewind_history(store, child, now, _seen=seen)
            rewritten[seq] = _generic(ev)
        elif et == h.EXECUTION_COMPLETED and ev.get("OrchestrationStatus") == _FAILED:
            rewritten[seq] = _generic(ev)
    for seq, ev in rewritten.items():
        store.x("UPDATE history SET event=? WHERE instance_id=? AND seq=?", (json.dumps(ev), instance_id, seq))
    store.x("UPDATE instances SET status='Pending', updated=? WHERE instance_id=?", (now, instance_id))
    if not has_failed_children:
        leaves.append(instance_id)
    return leaves

