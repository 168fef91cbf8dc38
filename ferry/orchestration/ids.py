"""Deterministic orchestration instance ids.

Why: the same HTTP request while its copy still runs must find that run instead of starting a second one, and an
Event Grid event delivered twice must start one replication. Both follow from deriving the instance id from the
request/event itself. Durable instance ids are 1-100 characters, must not start with '@' and must not contain
'/', '\\', '#', '?' or control characters, so free text is sanitized and long parts hashed.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MAX_INSTANCE_ID = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._~:-]")


def _digest(value: Any, length: int = 16) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _safe(text: str, limit: int) -> str:
    return _UNSAFE.sub("_", text)[:limit]


def request_instance_id(plan_input: dict[str, Any]) -> str:
    """`copy-<modelId>-<hash of the normalized request>`: identical requests map to the same instance."""
    normalized = {
        "modelId": plan_input["modelId"],
        "source": plan_input["source"],
        "targets": sorted(plan_input["targets"]),
        "targetModelId": plan_input.get("targetModelId"),
    }
    return f"copy-{_safe(plan_input['modelId'], 48)}-{_digest(normalized)}"


def event_instance_id(event_id: str, event_source: str | None, source_alias: str, model_id: str) -> str:
    """`evt-<modelId>-<hash of event id + event source + source alias>`: one replication per delivered event."""
    key = {"id": event_id, "eventSource": event_source or "", "source": source_alias}
    return f"evt-{_safe(model_id, 48)}-{_digest(key, 24)}"


def child_instance_id(parent_id: str, target_alias: str) -> str:
    """`<parent id>:<target alias>`, hashed down if it would exceed the 100-character limit."""
    candidate = f"{parent_id}:{_safe(target_alias, 64)}"
    if len(candidate) <= MAX_INSTANCE_ID and candidate == f"{parent_id}:{target_alias}":
        return candidate
    tail = f":{_safe(target_alias, 24)}-{_digest([parent_id, target_alias], 12)}"
    return parent_id[: MAX_INSTANCE_ID - len(tail)] + tail
