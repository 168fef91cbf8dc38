"""Orchestration instance ids: a deterministic prefix per request, one suffix per run.

Why: every run of a request keeps its own history and output (an audit trail of what was copied when), yet the
same request while a run is still active must find that run instead of starting a second one. So an HTTP run's
id is `copy-<modelId>-<hash of the normalized request>~<run number>`: the prefix lists every run of one request
(`get_status_by(instance_id_prefix=...)`), the zero-padded run number sorts and is one more than the highest
run kept, so two identical requests racing compute the same id and the loser joins the winner. An Event Grid
event delivered twice must start one replication, so its id is derived from the event alone (no run suffix).
Durable instance ids are 1-100 characters, must not start with '@' and must not contain '/', '\\', '#', '?'
or control characters, so free text is sanitized and long parts hashed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

MAX_INSTANCE_ID = 100
RUN_SEPARATOR = "~"
RUN_DIGITS = 6
_UNSAFE = re.compile(r"[^A-Za-z0-9._~:-]")


def _digest(value: Any, length: int = 16) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _safe(text: str, limit: int) -> str:
    return _UNSAFE.sub("_", text)[:limit]


def request_prefix(plan_input: dict[str, Any]) -> str:
    """`copy-<modelId>-<hash of the normalized request>`: identical requests share it, whatever the target order.
    A classifier's request hashes `classifierId` instead, so it never shares a prefix with a model of that id."""
    field = "classifierId" if plan_input.get("classifierId") is not None else "modelId"
    normalized = {
        field: plan_input[field],
        "source": plan_input["source"],
        "targets": sorted(plan_input["targets"]),
        "targetModelId": plan_input.get("targetModelId"),
    }
    return f"copy-{_safe(plan_input[field], 48)}-{_digest(normalized)}"


def run_instance_id(prefix: str, run: int) -> str:
    """`<prefix>~<run>`, the run number zero-padded so that ids sort in run order."""
    return f"{prefix}{RUN_SEPARATOR}{run:0{RUN_DIGITS}d}"


def run_number(prefix: str, instance_id: str) -> int | None:
    """The run number of `instance_id` if it is a run of `prefix` (an id without suffix, from before runs were
    kept, counts as run 0), else None."""
    if instance_id == prefix:
        return 0
    head, sep, tail = instance_id.rpartition(RUN_SEPARATOR)
    if sep and head == prefix and tail.isascii() and tail.isdigit():
        return int(tail)
    return None


def next_run_id(prefix: str, instance_ids: Iterable[str]) -> str:
    """The id of the next run of `prefix`: one more than the highest run among `instance_ids` (1 for the first).

    Deterministic for a given set of kept runs, so concurrent starters of the same request compute the same id.
    """
    runs = [n for n in (run_number(prefix, iid) for iid in instance_ids) if n is not None]
    return run_instance_id(prefix, max(runs, default=0) + 1)


def event_instance_id(event_id: str, event_source: str | None, source_alias: str, model_id: str) -> str:
    """`evt-<modelId>-<hash of event id + event source + source alias>`: one replication per delivered event
    (`model_id`: the model's or classifier's id)."""
    key = {"id": event_id, "eventSource": event_source or "", "source": source_alias}
    return f"evt-{_safe(model_id, 48)}-{_digest(key, 24)}"


def child_instance_id(parent_id: str, target_alias: str) -> str:
    """`<parent id>:<target alias>`, hashed down if it would exceed the 100-character limit."""
    candidate = f"{parent_id}:{_safe(target_alias, 64)}"
    if len(candidate) <= MAX_INSTANCE_ID and candidate == f"{parent_id}:{target_alias}":
        return candidate
    tail = f":{_safe(target_alias, 24)}-{_digest([parent_id, target_alias], 12)}"
    return parent_id[: MAX_INSTANCE_ID - len(tail)] + tail
