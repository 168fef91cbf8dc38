"""The Event Grid extension's webhook: `POST /runtime/webhooks/eventgrid?functionName=NAME`.

As the extension (Microsoft.Azure.WebJobs.Extensions.EventGrid) does it:
* `OPTIONS` (CloudEvents abuse-protection handshake) → 200 with `WebHook-Allowed-Origin` (the request's
  `WebHook-Request-Origin`, else `eventgrid.azure.net`, the extension's fixed value).
* `aeg-event-type: SubscriptionValidation` → 200 `{"validationResponse": code}`; the code is read from
  `[0].data.validationCode` (Event Grid schema array) or from the double-encoded `data` of a CloudEvent
  object.
* `aeg-event-type: Notification` → one invocation per event of the array (a lone object is one event;
  CloudEvents 1.0 structured `application/cloudevents+json` or batch `application/cloudevents-batch+json`),
  run concurrently; 202 when all succeeded, 500 with the first failure's message otherwise.
* `aeg-event-type: Unsubscribe` → 202; anything else (or no header) → 400.
* unknown `functionName` → 404 `cannot find function: 'NAME'`.
The function receives what the worker's EventGridEventInConverter builds from each event:
`func.EventGridEvent` for the Event Grid schema, `func.CloudEvent` for CloudEvents.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

__all__ = ["EventGridError", "decode_event", "events_of", "validation_code"]

DEFAULT_ALLOWED_ORIGIN = "eventgrid.azure.net"


class EventGridError(ValueError):
    """A request body the extension would refuse (its ArgumentOutOfRangeException/parse errors)."""


def events_of(body: bytes) -> list[dict]:
    """The events of a notification body: an array, or a single object (a structured CloudEvent)."""
    try:
        token = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventGridError(f"The request content is not valid JSON: {exc}") from exc
    if isinstance(token, dict):
        return [token]
    if isinstance(token, list):
        if not all(isinstance(e, dict) for e in token):
            raise EventGridError("Every event of the array must be a JSON object.")
        return token
    raise EventGridError(
        f"The request content should be parseable into a JSON object or array, but was {type(token).__name__}."
    )


def validation_code(body: bytes) -> str:
    """The validation code of a SubscriptionValidation request (Event Grid array or CloudEvent object)."""
    try:
        token = json.loads(body.decode("utf-8"))
        if isinstance(token, list):
            return str(token[0]["data"]["validationCode"])
        if isinstance(token, dict):
            data = token["data"]
            data = json.loads(data) if isinstance(data, str) else data  # double-encoded in CloudEvents
            return str(data["validationCode"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise EventGridError(f"The validation request has no data.validationCode: {exc!r}") from exc
    raise EventGridError("The request content should be parseable into a JSON object or array.")


def decode_event(event: dict) -> Any:
    """The trigger value the Python worker builds for one event (EventGridEvent or CloudEvent)."""
    return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata={})


async def handle_webhook(request: web.Request, *, find_function: Callable[[str], Any],
                         invoke: Callable[[Any, Any], Awaitable[Any]]) -> web.Response:
    """Serve one webhook request; `invoke(info, event_value)` runs the function once."""
    name = request.query.get("functionName", "")
    info = find_function(name) if name else None
    if info is None:
        return web.Response(status=404, text=f"cannot find function: '{name}'")
    if request.method == "OPTIONS":
        origin = request.headers.get("WebHook-Request-Origin")
        return web.Response(status=200, headers={"WebHook-Allowed-Origin": origin or DEFAULT_ALLOWED_ORIGIN})
    if request.method != "POST":
        return web.Response(status=405, headers={"Allow": "POST, OPTIONS"})
    kind = request.headers.get("aeg-event-type", "").lower()
    body = await request.read()
    try:
        if kind == "subscriptionvalidation":
            code = validation_code(body)
            return web.json_response({"validationResponse": code})
        if kind == "notification":
            values = [decode_event(event) for event in events_of(body)]
        elif kind == "unsubscribe":
            return web.Response(status=202)
        else:
            return web.Response(status=400, text="The aeg-event-type header must be SubscriptionValidation, "
                                                 "Notification or Unsubscribe.")
    except ValueError as exc:  # EventGridError, or an eventTime the worker's converter cannot parse
        return web.Response(status=400, text=str(exc))
    results = await asyncio.gather(*(invoke(info, value) for value in values), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            return web.Response(status=500, text=str(result))
    return web.Response(status=202)
