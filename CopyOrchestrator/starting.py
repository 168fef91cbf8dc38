"""Starting `copy_model` from a trigger: every run kept, never the same copy twice at once.

Why: an HTTP request's runs share the prefix `copy-<model>-<hash>` (`ferry.orchestration.ids`), so "is one
already active?" is one `get_status_by(instance_id_prefix=...)`. An active run (Pending, Running,
ContinuedAsNew, Suspended) is joined; otherwise the next run starts under `<prefix>~<run number>`, so earlier
runs keep their history and output until someone purges them. Two identical requests racing compute the same
next id: the loser's `start_new` fails (the extension refuses to replace an active instance) and it joins the
winner. An Event Grid event has one deterministic id and starts only if that id was never used (a redelivered
event is a no-op).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from ferry.orchestration import ids

log = logging.getLogger("modelferry.triggers")

ORCHESTRATOR = "copy_model"
ACTIVE_STATES = frozenset({"Running", "Pending", "ContinuedAsNew", "Suspended"})
# The SDK's get_status_by reads one page (the extension's default page size) and ignores continuation tokens,
# so a long history is read in windows of created time; this bounds the number of windows.
_MAX_PAGES = 50
_PAGE_SIZE = 100


def _state(status: Any) -> str | None:
    if not status:
        return None
    runtime = getattr(status, "runtime_status", None)
    return getattr(runtime, "value", None) or (str(runtime) if runtime is not None else None)


async def runs_of(client: df.DurableOrchestrationClient, prefix: str) -> dict[str, str | None]:
    """instance id → runtime status of every kept run of the request `prefix` (children excluded)."""
    runs: dict[str, str | None] = {}
    seen: set[str] = set()
    since: datetime | None = None
    for _ in range(_MAX_PAGES):
        page = await client.get_status_by(created_time_from=since, instance_id_prefix=prefix)
        fresh = 0
        for status in page:
            iid = getattr(status, "instance_id", None)
            if not iid or iid in seen:
                continue
            seen.add(iid)
            fresh += 1  # children count too: a page may hold only the children of runs already seen
            if ids.run_number(prefix, iid) is not None:
                runs[iid] = _state(status)
        if len(page) < _PAGE_SIZE or not fresh:
            break
        times = [t for t in (getattr(s, "created_time", None) for s in page) if t is not None]
        if not times:
            break
        since = max(times)
    return runs


def newest(instance_ids: Iterable[str], prefix: str) -> str | None:
    """The run with the highest run number among `instance_ids`, or None."""
    ordered = sorted(instance_ids, key=lambda iid: ids.run_number(prefix, iid) or 0)
    return ordered[-1] if ordered else None


async def start_or_join_request(client: df.DurableOrchestrationClient, prefix: str,
                                request: dict[str, Any]) -> tuple[str, bool]:
    """Join the active run of `prefix`, or start its next run. Returns (instance id, started?)."""
    runs = await runs_of(client, prefix)
    active = newest((iid for iid, state in runs.items() if state in ACTIVE_STATES), prefix)
    if active:
        return active, False
    instance_id = ids.next_run_id(prefix, runs)
    for _ in range(_MAX_PAGES):
        # Never replace a kept run (the extension would overwrite a finished one): if the listing missed the
        # newest runs, join the active one or step past the finished ones.
        state = _state(await client.get_status(instance_id))
        if state is None:
            break
        if state in ACTIVE_STATES:
            return instance_id, False
        instance_id = ids.next_run_id(prefix, [instance_id])
    try:
        await client.start_new(ORCHESTRATOR, instance_id, request)
    except Exception:
        # Lost a race with an identical request: that run now holds this id and is active, so join it.
        if _state(await client.get_status(instance_id)) in ACTIVE_STATES:
            log.info("copy %s was started concurrently by an identical request; joining it", instance_id)
            return instance_id, False
        raise
    return instance_id, True


async def start_once(client: df.DurableOrchestrationClient, instance_id: str,
                     request: dict[str, Any]) -> bool:
    """Start `instance_id` unless it was ever used (running or finished). Returns started?"""
    if _state(await client.get_status(instance_id)) is not None:
        return False
    try:
        await client.start_new(ORCHESTRATOR, instance_id, request)
    except Exception:
        if _state(await client.get_status(instance_id)) is not None:
            log.info("copy %s was started concurrently by the same event; nothing to do", instance_id)
            return False
        raise
    return True
