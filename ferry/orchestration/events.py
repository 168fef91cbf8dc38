"""`ModelTrained` events: recognise them and read `data: {"modelId", "source"?}`.

Why pure: Event Grid retries any delivery the function fails, so a malformed event must be *dropped* with a clear
log line rather than raise; and other event types on the same topic must be ignored. The trigger extracts plain
fields from `func.EventGridEvent` (Event Grid schema) or `func.CloudEvent` (CloudEvents 1.0) and asks here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EVENT_TYPE = "ModelTrained"
_SHAPE = '{"modelId": "...", "source"?: "<alias>"}'


@dataclass(frozen=True)
class EventVerdict:
    """`action` is 'start' (with `model_id`/`source`), 'ignore' (other type) or 'drop' (malformed)."""

    action: str
    reason: str = ""
    model_id: str | None = None
    source: str | None = None


def is_model_trained(event_type: str | None) -> bool:
    """`ModelTrained`, or a namespaced form such as `Contoso.DocIntel.ModelTrained` / `com.contoso.ModelTrained`."""
    if not event_type:
        return False
    return event_type == EVENT_TYPE or event_type.endswith("." + EVENT_TYPE)


def read_event(*, event_id: str | None, event_type: str | None, data: Any) -> EventVerdict:
    """Classify one delivered event."""
    if not is_model_trained(event_type):
        return EventVerdict("ignore", f"event type '{event_type}' is not {EVENT_TYPE}")
    if not event_id:
        return EventVerdict("drop", "the event has no id, so a duplicate delivery could not be recognised")
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return EventVerdict("drop", f"event data is not JSON; expected {_SHAPE}")
    if not isinstance(data, dict):
        return EventVerdict("drop", f"event data must be an object {_SHAPE}")
    model_id = data.get("modelId")
    if not isinstance(model_id, str) or not model_id.strip():
        return EventVerdict("drop", "event data has no 'modelId' string")
    source = data.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        return EventVerdict("drop", "event data 'source' must be a resource alias string when given")
    return EventVerdict("start", model_id=model_id.strip(), source=source.strip() if source else None)
