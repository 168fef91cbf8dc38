"""Starting `sync_estate` so that a source never has two syncs at once.

Every run of a source's sync is `sync-<source>~<run>` (the request-prefix + run scheme of `ferry.orchestration.ids`,
with ONE prefix per source whatever the request), so one prefix query finds the active run. An identical request
(same normalized input) joins it, a different one is refused (409) with its status URL, a scheduled run starts
nothing. Two starters racing compute the same next run id: the loser's `start_new` fails and it joins (or is
refused by) the winner.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df

from CopyOrchestrator.starting import ACTIVE_STATES, newest, runs_of
from ferry.orchestration import ids
from ferry.orchestration.sync_request import sync_instance_prefix

log = logging.getLogger("modelferry.triggers")

ORCHESTRATOR = "sync_estate"


@dataclass(frozen=True)
class Started:
    """What a starter did: `instance_id` started (started=True), joined, or (conflict=True) refused."""

    instance_id: str
    started: bool = False
    conflict: bool = False


async def active_sync(client: df.DurableOrchestrationClient, source: str) -> str | None:
    """The instance id of the active sync of `source`, or None."""
    prefix = sync_instance_prefix(source)
    runs = await runs_of(client, prefix)
    return newest((iid for iid, state in runs.items() if state in ACTIVE_STATES), prefix)


async def _join_or_refuse(client: df.DurableOrchestrationClient, instance_id: str,
                          request: dict[str, Any]) -> Started:
    status = await client.get_status(instance_id, show_input=True)
    return Started(instance_id, conflict=_input(status) != request)


async def start_or_join(client: df.DurableOrchestrationClient, request: dict[str, Any]) -> Started:
    """Join the active sync of the source if it runs this very request, refuse if another, else start one."""
    prefix = sync_instance_prefix(request["source"])
    runs = await runs_of(client, prefix)
    active = newest((iid for iid, state in runs.items() if state in ACTIVE_STATES), prefix)
    if active:
        return await _join_or_refuse(client, active, request)
    instance_id = ids.next_run_id(prefix, runs)
    try:
        await client.start_new(ORCHESTRATOR, instance_id, request)
    except Exception:
        status = await client.get_status(instance_id)
        if getattr(getattr(status, "runtime_status", None), "value", None) in ACTIVE_STATES:
            log.info("sync %s was started concurrently; joining or refusing as for a running sync", instance_id)
            return await _join_or_refuse(client, instance_id, request)
        raise
    return Started(instance_id, started=True)


def _input(status: Any) -> Any:
    value = getattr(status, "input_", None)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
