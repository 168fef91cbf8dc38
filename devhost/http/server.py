"""`HostServer`: one aiohttp server on one long-lived event loop, serving a loaded app and its engine.

Routes (all on one port, bound to 127.0.0.1 by default):
* `/{routePrefix}/...` — HTTP-triggered functions (route templates, methods, auth levels);
* `/runtime/webhooks/durabletask/...` — the Durable HTTP API (system key `durabletask_extension`);
* `/durabletask/...` — the same API at the `rpcBaseUrl` the SDK client calls (loopback, no key, like the
  extension's local RPC listener);
* `/runtime/webhooks/eventgrid?functionName=NAME` — the Event Grid webhook (system key `eventgrid_extension`);
* `/admin/host/status`, `/admin/functions[/{name}]` (GET), `POST /admin/functions/{name}` (run a non-HTTP
  function now, as the host's admin API does) — master key;
* `/` — 200, the host's "up and running" page.

The loop runs in a background thread; `start()` returns once the socket listens; `url` is the origin.
Everything an SDK client function awaits runs on this loop (the SDK's aiohttp session is module-global).
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from devhost import functions
from devhost.config import is_disabled
from devhost.http import eventgrid
from devhost.http.binding import RPC_PATH, WEBHOOK_PATH, client_binding_json
from devhost.http.convert import to_func_request, to_web_response
from devhost.http.durable_api import DurableApi
from devhost.http.invoke import Invoker
from devhost.http.keys import HostKeys, presented_key
from devhost.http.routes import RouteTable
from devhost.triggers.timer import TimerService

__all__ = ["HostServer"]

log = logging.getLogger("devhost.http")

HOST_VERSION = "4.1000.0.0 (devhost)"
EVENTGRID_PATH = "/runtime/webhooks/eventgrid"
ADMIN_REASON = "This function was programmatically called via the host APIs."
MAX_BODY = 100 * 1024 * 1024  # the host's default request size limit


class _ProcessLoop:
    """One event loop per process, shared by every HostServer in it, as the Python worker has one.

    The SDK's aiohttp client session and its lock are module-global and bound to the loop that created them, so
    two servers on two loops in one process (tests running hosts side by side) would break each other's client
    calls. The loop thread starts with the first server and stops, after closing the SDK session, with the last.
    """

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _users = 0

    @classmethod
    def acquire(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=cls._run, args=(loop,), name="devhost-http", daemon=True)
                thread.start()
                cls._loop, cls._thread = loop, thread
            cls._users += 1
            return cls._loop

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._users -= 1
            if cls._users > 0 or cls._loop is None:
                return
            loop, thread = cls._loop, cls._thread
            cls._loop = cls._thread = None
        try:
            asyncio.run_coroutine_threadsafe(_close_sdk_session(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=30)

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


async def _close_sdk_session() -> None:
    from azure.durable_functions.models.utils import http_utils

    await http_utils._close_session()
    http_utils._session_lock = asyncio.Lock()  # bound to this loop: the next process loop gets a fresh one


class HostServer:
    """Serve `index` (a devhost.functions.FunctionIndex) and `engine` over HTTP.

    `keys=None` disables key checks (like `func start`); a `HostKeys` enables them. `hub_name`
    defaults to `engine.hub_name`. `function_timeout` (seconds) bounds HTTP/Event Grid/timer invocations.
    Timer triggers run on `clock` (default `engine.clock`) from `start()` to `stop()`; `.timers.tick()`
    fires due timers synchronously (tests). Without any clock, timer functions only run via the admin API.
    `instance_id` (default random) is the `id`/`instanceId` of `GET /admin/host/status`.
    """

    def __init__(self, index: functions.FunctionIndex, engine: Any, *, port: int = 0, host: str = "127.0.0.1",
                 route_prefix: str = "api", keys: HostKeys | None = None, hub_name: str | None = None,
                 function_timeout: float | None = None, clock: Any = None, instance_id: str | None = None) -> None:
        self.index = index
        self.engine = engine
        self.host = host
        self.port = port
        self.route_prefix = route_prefix.strip("/")
        self.keys = keys
        self.hub_name = hub_name or getattr(engine, "hub_name", None) or "TestHubName"
        if keys is not None:
            keys.ensure([f.name for f in index.functions.values() if f.trigger_type == "httpTrigger"])
        self._check_client_bindings()
        self.routes: RouteTable[functions.FunctionInfo] = RouteTable()
        for info in index.by_trigger("httpTrigger"):  # a disabled function is not routed (404), as in the host
            if not is_disabled(info.name):
                self.routes.add(info.route or info.name, info, info.methods)
        self.invoker = Invoker(index, client_json=self.client_binding_json, function_timeout=function_timeout)
        clock = clock if clock is not None else getattr(engine, "clock", None)
        self.clock = clock
        self.durable_api = DurableApi(engine, hub_name=self.hub_name, system_key=self._durable_system_key,
                                      now=clock.time if clock is not None else None)
        timer_functions = [f for f in index.by_trigger("timerTrigger") if not is_disabled(f.name)]
        self.timers: TimerService | None = None
        if timer_functions and clock is not None:
            self.timers = TimerService(timer_functions, clock,
                                       lambda name, value: self.invoke(name, value, reason="Timer fired"))
            # A virtual clock that skips ahead when idle must also stop at timer-trigger occurrences (a server
            # without an engine, for plain HTTP apps, has no clock that skips).
            if engine is not None and clock is engine.clock:  # instants on the engine's clock only
                engine.add_wakeup_source(self._timer_wakeup)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._started_at = time.monotonic()
        self._host_id = instance_id or uuid.uuid4().hex[:32]  # a launcher may choose it to recognise its host

    def _timer_wakeup(self) -> float | None:
        """The next timer-trigger instant while the timers run (a stopped server must not hold the clock)."""
        timers = self.timers
        return timers.next_due() if timers is not None and timers.running else None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The origin clients use, e.g. `http://127.0.0.1:7071`."""
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (valid between start and stop)."""
        if self._loop is None:
            raise RuntimeError("HostServer is not started")
        return self._loop

    def start(self) -> HostServer:
        """Listen on the process's event loop; returns self once the port is bound."""
        if self._loop is not None:
            return self
        loop = _ProcessLoop.acquire()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), loop).result(timeout=30)
        except BaseException:
            _ProcessLoop.release()
            raise
        self._loop = loop
        if self.timers is not None:
            self.timers.start()
        return self

    def stop(self) -> None:
        """Stop listening; the last server of the process also closes the SDK client session and the loop."""
        if self._loop is None:
            return
        if self.timers is not None:
            self.timers.stop()
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
        finally:
            self._loop = None
            _ProcessLoop.release()
            self.invoker.close()

    def __enter__(self) -> HostServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run a coroutine on the server loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def invoke(self, function_name: str, trigger_value: Any, *, reason: str = "devhost") -> Any:
        """Invoke a (non-durable) function on the server loop, synchronously (timer trigger, tests)."""
        info = self.index.functions[function_name]
        return self.call(self.invoker.invoke(info, trigger_value, reason=reason))

    async def _listen(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # aiohttp exposes no accessor
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ binding + keys

    def _check_client_bindings(self) -> None:
        for info in self.index.functions.values():
            binding = info.binding("durableClient")
            hub = (binding or {}).get("taskHub")
            if hub and hub != self.hub_name:
                raise functions.UnsupportedBindingError(
                    f"function {info.name!r}: durableClient taskHub {hub!r} differs from the host's task hub "
                    f"{self.hub_name!r}; the devhost serves one task hub (host.json extensions.durableTask.hubName)")

    def _durable_system_key(self) -> str | None:
        return self.keys.system_key("durabletask") if self.keys is not None else None

    def client_binding_json(self) -> str:
        """The `durableClient` binding JSON for this server."""
        return client_binding_json(self.url, hub_name=self.hub_name, system_key=self._durable_system_key())

    def _authorized(self, request: web.Request, level: str, *, function_name: str | None = None,
                    extension: str | None = None) -> bool:
        if self.keys is None:
            return True
        key = presented_key(request.headers, request.query)
        return self.keys.authorizes(level, key, function_name=function_name, extension=extension)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        lower = path.lower()  # host routes are case-insensitive, as in ASP.NET routing
        try:
            if lower == WEBHOOK_PATH or lower.startswith(WEBHOOK_PATH + "/"):
                if not self._authorized(request, "system", extension="durabletask"):
                    return web.Response(status=401)
                return await self.durable_api.handle(request, path[len(WEBHOOK_PATH):])
            if lower.startswith(RPC_PATH) or lower == RPC_PATH.rstrip("/"):
                return await self.durable_api.handle(request, path[len(RPC_PATH):])
            if lower.rstrip("/") == EVENTGRID_PATH:
                if not self._authorized(request, "system", extension="eventgrid"):
                    return web.Response(status=401)
                return await eventgrid.handle_webhook(
                    request, find_function=self._eventgrid_function,
                    invoke=lambda info, value: self.invoker.invoke(info, value, reason="EventGrid"))
            if lower == "/admin" or lower.startswith("/admin/"):
                if not self._authorized(request, "admin"):
                    return web.Response(status=401)
                return await self._admin(request, path[len("/admin"):].strip("/"))
            if path == "/" and request.method in ("GET", "HEAD"):
                return web.Response(text="Your Functions 4.0 app is up and running (devhost)", content_type="text/html")
            return await self._http_trigger(request)
        except Exception:
            log.exception("request %s %s failed", request.method, path)
            return web.Response(status=500)

    def _eventgrid_function(self, name: str) -> functions.FunctionInfo | None:
        info = self.index.functions.get(name)
        if info is None or info.trigger_type != "eventGridTrigger" or is_disabled(name):
            return None
        return info

    async def _http_trigger(self, request: web.Request) -> web.StreamResponse:
        path = request.path.strip("/")
        prefix = self.route_prefix
        if prefix:
            if path.lower() != prefix.lower() and not path.lower().startswith(prefix.lower() + "/"):
                return web.Response(status=404)
            path = path[len(prefix):].strip("/")
        found = self.routes.find(request.method, path)
        if found is None:
            return web.Response(status=404)
        info, route_params = found
        if not self._authorized(request, info.auth_level or "function", function_name=info.name):
            return web.Response(status=401)
        body = await request.read()
        req = to_func_request(request, body, route_params)
        try:
            return await self.invoker.invoke(info, req, reason="HTTP request", convert=to_web_response)
        except Exception:  # logged by the invoker with the traceback
            return web.Response(status=500)

    # ------------------------------------------------------------------ admin API

    async def _admin(self, request: web.Request, sub: str) -> web.Response:
        lowered = sub.lower()
        if lowered == "host/status" and request.method == "GET":
            return web.json_response(self.host_status())
        if lowered == "functions" and request.method == "GET":
            return web.json_response([self.function_metadata(f) for f in self.index.functions.values()])
        if lowered.startswith("functions/"):
            name = sub[len("functions/"):]
            info = self.index.functions.get(name)
            if info is None:
                return web.Response(status=404)
            if request.method == "GET":
                return web.json_response(self.function_metadata(info))
            if request.method == "POST":
                return await self._admin_invoke(request, info)
        return web.Response(status=404)

    async def _admin_invoke(self, request: web.Request, info: functions.FunctionInfo) -> web.Response:
        """`POST /admin/functions/{name}` body `{"input": "..."}`: run a non-HTTP function now → 202."""
        if info.trigger_type not in ("timerTrigger", "eventGridTrigger"):
            return web.json_response({"message": f"Functions.{info.name} ({info.trigger_type}) cannot be invoked "
                                                  "through the admin API on the devhost"}, status=400)
        try:
            payload = await request.json() if await request.read() else {}
        except json.JSONDecodeError:
            return web.Response(status=400, text="The body must be JSON: {\"input\": \"...\"}")
        raw = (payload or {}).get("input")
        if info.trigger_type == "timerTrigger":
            from devhost.triggers.timer import timer_request

            value = timer_request(past_due=False, last=None, next_due=None, now=time.time())
        else:
            try:
                event = json.loads(raw) if isinstance(raw, str) else raw
                value = eventgrid.decode_event(event if isinstance(event, dict) else {})
            except (ValueError, TypeError) as exc:
                return web.Response(status=400, text=f"input must be one event as a JSON object: {exc}")

        async def run() -> None:
            try:
                await self.invoker.invoke(info, value, reason=ADMIN_REASON)
            except Exception:  # noqa: S110 - already logged by the invoker with its traceback
                pass

        asyncio.get_running_loop().create_task(run())
        return web.Response(status=202)

    def host_status(self) -> dict:
        """The body of `GET /admin/host/status`."""
        return {
            "id": self._host_id,
            "state": "Running",
            "version": HOST_VERSION,
            "versionDetails": f"devhost on Python {platform.python_version()}",
            "platformVersion": "",
            "instanceId": self._host_id,
            "computerName": platform.node(),
            "processUptime": int((time.monotonic() - self._started_at) * 1000),
            "functionAppContentEditingState": "NotAllowed",
            "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "4.x"},
        }

    def function_metadata(self, info: functions.FunctionInfo) -> dict:
        """One entry of `GET /admin/functions` (the host's FunctionMetadataResponse)."""
        base = f"{self.url}/admin/functions/{info.name}"
        invoke_url = None
        if info.trigger_type == "httpTrigger":
            route = info.route or info.name
            invoke_url = f"{self.url}/{self.route_prefix + '/' if self.route_prefix else ''}{route}"
        return {
            "name": info.name,
            "script_root_path_href": f"{self.url}/admin/vfs/{info.name}/",
            "script_href": f"{self.url}/admin/vfs/{info.script_file}",
            "config_href": f"{self.url}/admin/vfs/{info.name}/function.json",
            "test_data_href": None,
            "href": base,
            "invoke_url_template": invoke_url,
            "language": "python",
            "config": {"name": info.name, "scriptFile": info.script_file, "entryPoint": "",
                       "language": "python", "bindings": info.bindings},
            "files": None,
            "test_data": None,
            "isDisabled": is_disabled(info.name),
            "isDirect": True,
            "isProxy": False,
        }
