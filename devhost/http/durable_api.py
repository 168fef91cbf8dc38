"""The Durable Functions HTTP API (the extension's HttpApiHandler) over the devhost engine.

Served on both the public webhook prefix `/runtime/webhooks/durabletask/` (system key when keys are
enabled) and the `rpcBaseUrl` prefix `/durabletask/` that the Python SDK's client calls. Statuses,
headers and bodies follow the extension:

* status: 200 terminal (Failed too, unless `returnInternalServerErrorOnFailure=true` → 500), 202 with
  `Location` (the request URL) and `Retry-After: 5` while Running/Pending/ContinuedAsNew/Suspended,
  404 unknown; `showInput` (default true), `showHistory`, `showHistoryOutput`.
* list: `createdTimeFrom`/`createdTimeTo` (unparseable values ignored, as DateTime.TryParse does),
  `runtimeStatus` (comma list, unknown names ignored), `instanceIdPrefix`, `top` (default 100),
  `showInput`; paging with the `x-ms-continuation-token` request/response header (empty on the last page).
* start: body parsed once (so the Python client's double-encoded input stays a JSON string), 202 with
  the check-status payload, `Location` and `Retry-After: 10`; `timeout` + `pollingInterval` wait;
  unknown orchestrator → 400 with `ExceptionMessage`.
* raise event: 404 / 410 (terminal) checked first, then `application/json` required (400), body stored
  after one parse (the Python client's extra quotes survive: SDK issue #295).
* terminate / suspend / resume: 404, 410 when terminal, else 202. restart: 202 with the check-status
  payload of the new instance; unknown id → 400. purge by id: 200 `{"instancesDeleted": n}` / 404;
  purge by filter: `createdTimeFrom` required (400), 404 when nothing was deleted.
* entities: GET `entities/{name}/{key}` → 200 state / 404 (`$` = empty key); POST (`?op=`) or DELETE
  (op `delete`) → 202 (`entities/{name}` without a key = the empty key; `$` is literal there, as in the
  extension); GET `entities/{name}` lists that function's existing entities (`fetchState`,
  `lastOperationTimeFrom`/`To`, `top`, continuation header), GET `entities/` every entity.
* rewind: 404, 410 when Completed/Terminated/Canceled, else the engine's rewind (202; a Running instance is the
  extension's InvalidOperationException → 500).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from devhost.http.binding import check_status_body, management_urls

__all__ = ["DurableApi", "error_status"]

log = logging.getLogger("devhost.http")

RUNNING_STATES = ("Running", "Pending", "ContinuedAsNew", "Suspended")
TERMINAL_STATES = ("Completed", "Failed", "Canceled", "Terminated")
KNOWN_STATES = (*RUNNING_STATES, *TERMINAL_STATES)
_INVALID_ID_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def error_status(exc: BaseException) -> int:
    """HTTP status for an engine exception, the way the extension maps its own exceptions.

    The engine's exception types carry `http_status`; otherwise the class names decide: not-found →
    404, gone/terminal → 410, bad request / unknown function (ArgumentException) → 400, everything
    else (an existing running instance included: DTFx's InvalidOperationException) → 500.
    """
    if type(exc).__name__ == "InstanceExistsError":
        return 500  # DTFx's InvalidOperationException "... already exists." → the handler's catch-all 500
    status = getattr(exc, "http_status", None) or getattr(exc, "status", None)
    if isinstance(status, int) and 400 <= status < 600:
        return status
    names = " ".join(cls.__name__ for cls in type(exc).__mro__)
    if "NotFound" in names:
        return 404
    if "Gone" in names or "Terminal" in names:
        return 410
    if "BadRequest" in names or "Unknown" in names or "Invalid" in names or "Argument" in names:
        return 400
    return 500


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode("utf-8"),
                        content_type="application/json", charset="utf-8", headers=headers)


def _error(status: int, message: str, exc: BaseException | None = None) -> web.Response:
    """An ASP.NET HttpError body: what the SDK reads `ExceptionMessage` from."""
    body: dict[str, Any] = {"Message": message}
    if exc is not None:
        body.update({"ExceptionMessage": str(exc), "ExceptionType": type(exc).__name__, "StackTrace": None})
    return _json_response(status, body)


def _parse_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    return True if lowered == "true" else False if lowered == "false" else None


def _parse_datetime(value: str | None) -> datetime | None:
    """Lenient ISO-8601 parsing (like DateTime.TryParse); naive values are UTC; None when unparseable."""
    if not value:
        return None
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _parse_statuses(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name in KNOWN_STATES and name not in out:  # Enum.TryParse is case-sensitive
                out.append(name)
    return out


def _parse_int(value: str | None) -> int | None:
    if value is None or not re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return None
    return int(value)


class DurableApi:
    """Handles one request under a durable-task prefix; engine calls run off the event loop."""

    def __init__(self, engine: Any, *, hub_name: str, system_key: Callable[[], str | None],
                 now: Callable[[], float] | None = None) -> None:
        self.engine = engine
        self.hub_name = hub_name
        self._system_key = system_key
        self._now = now or time.time

    async def _call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def handle(self, request: web.Request, sub_path: str) -> web.Response:
        """Dispatch `sub_path` (the path after the prefix) like HttpApiHandler.HandleRequestAsync."""
        parts = [p for p in sub_path.strip("/").split("/")] if sub_path.strip("/") else []
        if parts:
            parts[0] = parts[0].lower()
        if len(parts) == 4 and parts[2].lower() == "raiseevent":
            parts[2] = "raiseEvent"
        method = request.method
        try:
            if parts and parts[0] == "orchestrators" and len(parts) in (2, 3):
                if method != "POST":
                    return web.Response(status=404)
                return await self._start(request, parts[1], parts[2] if len(parts) == 3 else None)
            if parts and parts[0] == "entities" and len(parts) <= 3:
                return await self._entities(request, parts[1] if len(parts) > 1 else "",
                                            parts[2] if len(parts) > 2 else "")
            if parts and parts[0] == "instances" and len(parts) <= 3:
                response = await self._instances(request, parts[1] if len(parts) > 1 else None,
                                                 parts[2] if len(parts) > 2 else None)
                if response is not None:
                    return response
            if parts and parts[0] == "instances" and len(parts) == 4 and parts[2] == "raiseEvent":
                if method != "POST":
                    return web.Response(status=404)
                return await self._raise_event(request, parts[1], parts[3])
            return web.Response(status=404)
        except Exception as exc:
            status = error_status(exc)
            if status == 400:
                return _error(400, "One or more of the arguments submitted is incorrect", exc)
            if status in (404, 410):
                return web.Response(status=status)
            if hasattr(exc, "http_status"):  # an engine condition, not a devhost bug: one line is enough
                log.warning("durable HTTP API %s %s: %s", method, request.path, exc)
            else:
                log.error("durable HTTP API %s %s failed:\n%s", method, request.path, traceback.format_exc().rstrip())
            return _error(500, "Something went wrong while processing your request", exc)

    # ------------------------------------------------------------------ instances

    async def _instances(self, request: web.Request, instance_id: str | None,
                         operation: str | None) -> web.Response | None:
        method = request.method
        if instance_id is None:
            if method == "GET":
                return await self._list(request)
            if method == "DELETE":
                return await self._purge_by(request)
            return web.Response(status=404)
        if operation is None:
            if method == "GET":
                return await self._status(request, instance_id)
            if method == "DELETE":
                return await self._purge(instance_id)
            return web.Response(status=404)
        if method != "POST":
            return web.Response(status=404)
        op = operation.lower()
        if op in ("terminate", "suspend", "resume"):
            return await self._control(request, instance_id, op)
        if op == "restart":
            return await self._restart(request, instance_id)
        if op == "rewind":
            return await self._rewind(request, instance_id)
        return None  # falls through to the raise-event route, then 404, as in the extension

    async def _get_status(self, instance_id: str, **flags: bool) -> dict | None:
        return await self._call(self.engine.get_status, instance_id, **flags)

    async def _status(self, request: web.Request, instance_id: str,
                      force_500_on_failure: bool | None = None) -> web.Response:
        q = request.query
        show_history = _parse_bool(q.get("showHistory")) or False
        show_history_output = _parse_bool(q.get("showHistoryOutput")) or False
        show_input = _parse_bool(q.get("showInput"))
        status = await self._get_status(instance_id, show_input=True if show_input is None else show_input,
                                        show_history=show_history, show_history_output=show_history_output)
        if status is None:
            return web.Response(status=404)
        fail_500 = (force_500_on_failure if force_500_on_failure is not None
                    else _parse_bool(q.get("returnInternalServerErrorOnFailure")) or False)
        body = _payload(status, show_input is not False)
        runtime = body["runtimeStatus"]
        headers: dict[str, str] = {}
        if runtime in RUNNING_STATES:
            code = 202
            headers = {"Location": str(request.url), "Retry-After": "5"}
        elif runtime == "Failed":
            code = 500 if fail_500 else 200
        elif runtime in TERMINAL_STATES:
            code = 200
        else:
            log.error("unknown runtime state %r of instance %s", runtime, instance_id)
            code = 500
        return _json_response(code, body, headers)

    async def _list(self, request: web.Request) -> web.Response:
        q = request.query
        top = _parse_int(q.get("top"))
        show_input = _parse_bool(q.get("showInput"))
        statuses = _parse_statuses(q.getall("runtimeStatus", []))
        items, token = await self._call(
            self.engine.query,
            created_from=_epoch(_parse_datetime(q.get("createdTimeFrom"))),
            created_to=_epoch(_parse_datetime(q.get("createdTimeTo"))),
            statuses=statuses or None,
            prefix=q.get("instanceIdPrefix"),
            top=top if top and top > 0 else 100,
            continuation=request.headers.get("x-ms-continuation-token") or None,
            show_input=show_input is not False,
        )
        body = [_payload(item, show_input is not False, keep_history=False) for item in items]
        # Always present; empty on the last page (the extension adds the header with a null token).
        return _json_response(200, body, {"x-ms-continuation-token": token or ""})

    async def _purge(self, instance_id: str) -> web.Response:
        if await self._get_status(instance_id, show_input=False) is None:
            return web.Response(status=404)
        deleted = await self._call(self.engine.purge, instance_id)
        return _json_response(200, {"instancesDeleted": int(deleted)})

    async def _purge_by(self, request: web.Request) -> web.Response:
        q = request.query
        created_from = _parse_datetime(q.get("createdTimeFrom"))
        if created_from is None:
            return _json_response(400, "Please provide value for 'createdTimeFrom' parameter.")
        created_to = _epoch(_parse_datetime(q.get("createdTimeTo")))
        if created_to is None:
            created_to = self._now()  # the extension uses DateTime.UtcNow; here: the engine's clock, unrounded
        statuses = _parse_statuses(q.getall("runtimeStatus", []))
        deleted = await self._call(self.engine.purge_by, created_from.timestamp(), created_to, statuses or None)
        if not deleted:
            return web.Response(status=404)
        return _json_response(200, {"instancesDeleted": int(deleted)})

    async def _control(self, request: web.Request, instance_id: str, op: str) -> web.Response:
        status = await self._get_status(instance_id, show_input=False)
        if status is None:
            return web.Response(status=404)
        if status.get("runtimeStatus") in TERMINAL_STATES:
            return web.Response(status=410)
        reason = request.query.get("reason")
        await self._call(getattr(self.engine, op), instance_id, reason)
        return web.Response(status=202)

    async def _restart(self, request: web.Request, instance_id: str) -> web.Response:
        q = request.query
        status = await self._get_status(instance_id, show_input=False)
        if status is None:
            exc = ValueError(f"An orchestrastion with the instanceId {instance_id} was not found.")
            return _error(400, "InstanceId does not match a valid orchestration instance.", exc)
        new_id_flag = _parse_bool(q.get("restartWithNewInstanceId"))
        new_id = await self._call(self.engine.restart, instance_id, True if new_id_flag is None else new_id_flag)
        return await self._created(request, new_id)

    async def _rewind(self, request: web.Request, instance_id: str) -> web.Response:
        status = await self._get_status(instance_id, show_input=False)
        if status is None:
            return web.Response(status=404)
        if status.get("runtimeStatus") in ("Canceled", "Terminated", "Completed"):
            return web.Response(status=410)
        await self._call(self.engine.rewind, instance_id, request.query.get("reason"))
        return web.Response(status=202)

    # ------------------------------------------------------------------ start / raise

    async def _start(self, request: web.Request, function_name: str, instance_id: str | None) -> web.Response:
        body = await request.read()
        input_json = None
        if body:
            try:
                input_json = json.dumps(json.loads(body.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return _error(400, "Invalid JSON content", exc)
        if instance_id:
            problem = _instance_id_problem(instance_id)
            if problem:
                return _error(400, "One or more of the arguments submitted is incorrect", ValueError(problem))
        new_id = await self._call(self.engine.start_new, function_name, instance_id or None, input_json)
        timeout = _parse_float(request.query.get("timeout"))
        interval = _parse_float(request.query.get("pollingInterval"))
        if timeout is not None and interval is not None:
            return await self._wait(request, new_id, timeout, interval)
        return await self._created(request, new_id)

    async def _created(self, request: web.Request, instance_id: str) -> web.Response:
        urls = self.links(str(request.url.origin()), instance_id)
        body = check_status_body(urls)
        return _json_response(202, body, {"Location": urls["statusQueryGetUri"], "Retry-After": "10"})

    def links(self, origin: str, instance_id: str) -> dict[str, str]:
        """Management URLs for an instance on `origin` (the extension's GetClientResponseLinks)."""
        return management_urls(origin, instance_id, hub_name=self.hub_name, system_key=self._system_key())

    async def _wait(self, request: web.Request, instance_id: str, timeout: float, interval: float) -> web.Response:
        if interval > timeout:
            raise ValueError(f"Total timeout {timeout} should be bigger than retry timeout {interval}")
        deadline = time.monotonic() + timeout
        while True:
            status = await self._get_status(instance_id, show_input=True)
            runtime = status.get("runtimeStatus") if status else None
            if runtime == "Completed":
                return _json_response(200, status.get("output"))
            if runtime in ("Failed", "Canceled", "Terminated"):
                return await self._status(request, instance_id, force_500_on_failure=False)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await self._created(request, instance_id)
            await asyncio.sleep(min(interval, remaining))

    async def _raise_event(self, request: web.Request, instance_id: str, event_name: str) -> web.Response:
        status = await self._get_status(instance_id, show_input=False)
        if status is None:
            return web.Response(status=404)
        if status.get("runtimeStatus") in TERMINAL_STATES:
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        text = (await request.read()).decode("utf-8", errors="replace")
        try:
            data_json = json.dumps(json.loads(text)) if text.strip() else "null"
        except json.JSONDecodeError as exc:
            return _error(400, "Invalid JSON content", exc)
        await self._call(self.engine.raise_event, instance_id, event_name, data_json)
        return web.Response(status=202)

    # ------------------------------------------------------------------ entities

    async def _entities(self, request: web.Request, name: str, key: str) -> web.Response:
        try:
            return await self._entity_request(request, name, key)
        except _EntityArgumentError as exc:
            return _error(400, str(exc))

    async def _entity_request(self, request: web.Request, name: str, key: str) -> web.Response:
        method = request.method
        if method == "GET":
            if not key:
                return await self._list_entities(request, name)
            if key == "$":
                key = ""
            _check_entity(name, key)
            state = await self._call(self.engine.read_entity, name, key)
            if state is None:
                return web.Response(status=404)
            return web.Response(status=200, body=state.encode("utf-8") if isinstance(state, str)
                                else json.dumps(state).encode("utf-8"),
                                content_type="application/json", charset="utf-8")
        if method not in ("POST", "DELETE"):
            return web.Response(status=404)
        _check_entity(name, key)
        op = "delete" if method == "DELETE" else request.query.get("op", "")
        body = await request.read()
        input_json = None
        if body:
            # As the extension: a JSON body is parsed once and re-serialized (the SDK's double-encoded input
            # stays a JSON string holding JSON text); any other content type is the input as a string.
            text = body.decode("utf-8", errors="replace")
            if request.content_type.lower() == "application/json":
                try:
                    input_json = json.dumps(json.loads(text))
                except json.JSONDecodeError as exc:
                    return _error(400, f"Could not parse JSON content: {exc}")
            else:
                input_json = json.dumps(text)
        await self._call(self.engine.signal_entity, name, key, op, input_json)
        return web.Response(status=202)


    async def _list_entities(self, request: web.Request, name: str) -> web.Response:
        """`GET entities/{name}` (every entity function's entities without a name), as ListEntitiesAsync."""
        q = request.query
        top = _parse_int(q.get("top"))
        items, token = await self._call(
            self.engine.list_entities, name or None,
            fetch_state=_parse_bool(q.get("fetchState")) is True,
            last_operation_from=_epoch(_parse_datetime(q.get("lastOperationTimeFrom"))),
            last_operation_to=_epoch(_parse_datetime(q.get("lastOperationTimeTo"))),
            top=top if top and top > 0 else 100,
            continuation=request.headers.get("x-ms-continuation-token") or None,
        )
        return _json_response(200, items, {"x-ms-continuation-token": token or ""})


class _EntityArgumentError(ValueError):
    """Bad entity name/key (the extension's ArgumentException → 400)."""


def _check_entity(name: str, key: str) -> None:
    if not name:
        raise _EntityArgumentError("The entity name must not be empty.")
    if _INVALID_ID_CHARS.search(name) or "@" in name:
        raise _EntityArgumentError("Entity names must not contain @, /, \\, #, ?, or control characters.")
    if _INVALID_ID_CHARS.search(key):
        raise _EntityArgumentError("Entity keys must not contain /, \\, #, ?, or control characters.")


def _instance_id_problem(instance_id: str) -> str | None:
    if instance_id.startswith("@"):
        return "Orchestration instance ids must not start with @."
    if _INVALID_ID_CHARS.search(instance_id):
        return "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
    if len(instance_id) > 256:
        return "Instance ID lengths must not exceed 256 characters."
    return None


def _parse_float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _payload(status: dict, show_input: bool, keep_history: bool = True) -> dict:
    """The extension's StatusResponsePayload (historyEvents only when present)."""
    body = {
        "name": status.get("name"),
        "instanceId": status.get("instanceId"),
        "runtimeStatus": status.get("runtimeStatus"),
        "input": status.get("input") if show_input else None,
        "customStatus": status.get("customStatus"),
        "output": status.get("output"),
        "createdTime": status.get("createdTime"),
        "lastUpdatedTime": status.get("lastUpdatedTime"),
    }
    if keep_history and status.get("historyEvents") is not None:
        body["historyEvents"] = status["historyEvents"]
    return body
