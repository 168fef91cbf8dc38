"""Starting `copy_model` from a trigger without ever running the same copy twice at once.

Why: the instance id is derived from the request (HTTP) or the event (Event Grid), so "is it already running?"
is a `get_status` on that id. HTTP joins a running/pending instance and re-runs a finished one (idempotent:
a re-run finds the models already copied); Event Grid starts only if the id was never used (a redelivered
event is a no-op). Two starters racing on the same id: the loser's `start_new` fails and it joins the winner.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

log = logging.getLogger("modelferry.triggers")

ORCHESTRATOR = "copy_model"
ACTIVE_STATES = frozenset({"Running", "Pending", "ContinuedAsNew", "Suspended"})


def _state(status: Any) -> str | None:
    if not status:
        return None
    runtime = getattr(status, "runtime_status", None)
    return getattr(runtime, "value", None) or (str(runtime) if runtime is not None else None)


async def start_or_join(client: df.DurableOrchestrationClient, instance_id: str, request: dict[str, Any], *,
                        rerun_finished: bool) -> tuple[str, bool]:
    """Start `copy_model` as `instance_id` unless it should be joined. Returns (instance id, started?)."""
    state = _state(await client.get_status(instance_id))
    if state in ACTIVE_STATES or (state is not None and not rerun_finished):
        return instance_id, False
    try:
        await client.start_new(ORCHESTRATOR, instance_id, request)
    except Exception:
        # Lost a race with an identical request/event: the instance now exists, so join it.
        now = _state(await client.get_status(instance_id))
        if now in ACTIVE_STATES or (now is not None and not rerun_finished):
            log.info("copy %s was started concurrently; joining it", instance_id)
            return instance_id, False
        raise
    return instance_id, True
