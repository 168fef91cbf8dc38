"""`sync_progress`: the live progress of one sync run (entity key = the sync's instance id).

Why: `sync_estate` learns its rows' results only when a whole chunk (FERRY_SYNC_MAX_PARALLEL_COPIES lanes × 8 rows)
finishes, so its custom status would jump from 0 to done. Each lane signals this entity once per finished row
(fire-and-forget, one event in the lane's history); while a chunk runs, `sync_estate` reads it on a short durable
timer and shows the counts in its custom status. The entity is deleted when the sync's rows are done.

Operations: `row` {"target", "throttled"} → one more row done; `get` → {"done": {target: n}, "throttled": {target:
n}}; `delete` → the state is removed.
"""

from __future__ import annotations

from typing import Any

NAME = "sync_progress"


def sync_progress(context: Any) -> None:
    """Entity body."""
    operation = context.operation_name
    if operation == "delete":
        context.destruct_on_exit()
        return
    state: dict[str, dict[str, int]] = context.get_state(dict) or {}
    if operation == "get":
        context.set_result({"done": dict(state.get("done") or {}), "throttled": dict(state.get("throttled") or {})})
        return
    if operation == "row":
        row = context.get_input() or {}
        target = str(row.get("target") or "")
        done = state.setdefault("done", {})
        throttled = state.setdefault("throttled", {})
        done[target] = int(done.get(target, 0)) + 1
        throttled[target] = int(throttled.get(target, 0)) + int(row.get("throttled") or 0)
        context.set_state(state)
        return
    raise ValueError(f"unknown operation {operation!r} of {NAME}; use row, get or delete")
