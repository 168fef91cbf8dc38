"""`v2_replicas`: the durable v2 mapping of one source (entity key = source alias): target → {source id → target id}.

Why: v2 models have no tags and a v2 copy gets a service-assigned id, so nothing on the target says whose copy a
model is. The sync records each v2 copy here (and adopts copies made earlier, found by the times and name a v2
copy keeps), plans `upToDate` / `stale` / `prune` from it, and forgets pairs whose target model is gone. It lives
in the app's own storage (the task hub), survives restarts, and is readable with the Durable entities API.

Operations: `get` → the mapping; `reconcile` {"record": {target: {source id: target id}}, "forget": {target:
[source ids]}}.
"""

from __future__ import annotations

from typing import Any

NAME = "v2_replicas"


def v2_replicas(context: Any) -> None:
    """Entity body."""
    state: dict[str, dict[str, str]] = context.get_state(dict) or {}
    operation = context.operation_name
    if operation == "get":
        context.set_result(state)
        return
    if operation == "reconcile":
        change = context.get_input() or {}
        for target, pairs in (change.get("record") or {}).items():
            state.setdefault(target, {}).update({str(k): str(v) for k, v in pairs.items()})
        for target, source_ids in (change.get("forget") or {}).items():
            for source_id in source_ids:
                state.get(target, {}).pop(source_id, None)
        context.set_state({k: v for k, v in state.items() if v})
        return
    raise ValueError(f"unknown operation {operation!r} of {NAME}; use get or reconcile")
