"""`ModelTrained` events: recognise them and take the copy request out of `data: {"modelId" | "classifierId",
"source"?}` (a trained classifier is announced by the same event type, carrying `classifierId`: one Event Grid
subscription filter covers both kinds).

Why pure: Event Grid retries any delivery the function fails, so a malformed event must be *dropped* with a clear
log line rather than raise; and other event types on the same topic must be ignored. The trigger extracts plain
fields from `func.EventGridEvent` (Event Grid schema) or `func.CloudEvent` (CloudEvents 1.0) and asks here. The
request's fields are validated by `ferry.orchestration.plan.plan_request`, the same rules as an HTTP request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ferry.orchestration.plan import printable

EVENT_TYPE = "ModelTrained"
_SHAPE = '{"modelId": "..." | "classifierId": "...", "source"?: "<alias>"}'
# What an event may ask for: the model (or classifier) and its source; the targets are always FERRY_TARGETS.
# Other data fields (the training pipeline's own) are not part of the request.
REQUEST_FIELDS = ("modelId", "classifierId", "source")


@dataclass(frozen=True)
class EventVerdict:
    """`action` is 'start' (with `request`, to validate), 'ignore' (other type) or 'drop' (malformed)."""

    action: str
    reason: str = ""
    request: dict[str, Any] | None = None


def is_model_trained(event_type: str | None) -> bool:
    """`ModelTrained`, or a namespaced form such as `Contoso.DocIntel.ModelTrained` / `com.contoso.ModelTrained`."""
    if not event_type:
        return False
    return event_type == EVENT_TYPE or event_type.endswith("." + EVENT_TYPE)


def read_event(*, event_id: str | None, event_type: str | None, data: Any) -> EventVerdict:
    """Classify one delivered event."""
    if not is_model_trained(event_type):
        return EventVerdict("ignore", f"event type '{printable(str(event_type), 100)}' is not {EVENT_TYPE}")
    if not event_id:
        return EventVerdict("drop", "the event has no id, so a duplicate delivery could not be recognised")
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            return EventVerdict("drop", f"event data is not JSON; expected {_SHAPE}")
    if not isinstance(data, dict):
        return EventVerdict("drop", f"event data must be an object {_SHAPE}")
    return EventVerdict("start", request={field: data[field] for field in REQUEST_FIELDS if field in data})
