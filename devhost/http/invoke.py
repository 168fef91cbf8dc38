"""Invoking the host-triggered (non-durable) functions — HTTP, Event Grid, timer — on the host's loop.

Why here and not in the engine: these invocations need the `durableClient` binding JSON (which points
at this server) and must run on the server's single long-lived event loop, because the SDK client keeps
a module-global aiohttp session. `async def` functions are awaited on that loop; plain functions run in
a thread pool, as the Python worker runs sync functions. One log line per invocation (function, id,
duration); failures add the traceback.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devhost import functions

__all__ = ["FunctionTimeout", "Invoker"]

log = logging.getLogger("devhost.functions")


class FunctionTimeout(TimeoutError):
    """The invocation exceeded host.json's functionTimeout."""


class Invoker:
    """Calls a function with its trigger value (+ durableClient binding), timing and logging it."""

    def __init__(self, index: functions.FunctionIndex, *, client_json: Callable[[], str],
                 function_timeout: float | None = None, max_workers: int = 16) -> None:
        self.index = index
        self._client_json = client_json
        self.function_timeout = function_timeout
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="devhost-fn")

    def close(self) -> None:
        """Stop the thread pool (running sync invocations finish)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def invoke(self, info: functions.FunctionInfo, trigger_value: Any, *, reason: str,
                     convert: Callable[[Any], Any] | None = None) -> Any:
        """Run `info` with its trigger bound to `trigger_value`; returns the (converted) return value.

        `convert` turns the return value into the output binding's value (e.g. the HTTP response); a
        conversion error fails the invocation as the worker's converter does. Raises what the function
        raised (or FunctionTimeout); either way one log line is written.
        """
        invocation_id = str(uuid.uuid4())
        values: dict[str, Any] = {info.trigger_param: trigger_value}
        if info.client_param:
            values[info.client_param] = self._client_json()
        started = time.perf_counter()
        try:
            kwargs = functions.call_kwargs(info, values, invocation_id=invocation_id, app_dir=self.index.app_dir)
            result = await self._run(info, kwargs)
            if convert is not None:
                result = convert(result)
        except BaseException as exc:
            elapsed = (time.perf_counter() - started) * 1000
            if isinstance(exc, FunctionTimeout):
                log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
                          info.name, invocation_id, elapsed, exc)
            elif isinstance(exc, Exception):
                log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s", info.name,
                          invocation_id, elapsed, _user_traceback(exc))
            raise
        log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms, Reason='%s')",
                 info.name, invocation_id, (time.perf_counter() - started) * 1000, reason)
        return result

    async def _run(self, info: functions.FunctionInfo, kwargs: dict[str, Any]) -> Any:
        fn = info.user_function
        if inspect.iscoroutinefunction(fn):
            call = fn(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(self._pool, functools.partial(_call_sync, fn, kwargs))
        if self.function_timeout is None:
            result = await call
        else:
            try:
                result = await asyncio.wait_for(call, self.function_timeout)
            except TimeoutError:
                raise FunctionTimeout(
                    f"Timeout value of {_timespan(self.function_timeout)} was exceeded by function: "
                    f"Functions.{info.name}") from None
        if inspect.isawaitable(result):
            result = await result
        return result


def _call_sync(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    result = fn(**kwargs)
    # A sync function returning an awaitable is awaited on the worker thread's own loop.
    return functions.run_maybe_async(result)


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the devhost's own frames (what the user needs to see)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_HOST_DIRS)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames),
             *traceback.format_exception_only(exc)]
    return "".join(lines).rstrip()


_HOST_DIRS = (str(Path(__file__).resolve().parent), str(Path(functools.__file__).resolve().parent / "concurrent"),
              str(Path(asyncio.__file__).resolve().parent))


def _timespan(seconds: float) -> str:
    """.NET TimeSpan text, as the host prints functionTimeout (`00:10:00`, `00:00:00.2500000`)."""
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    fraction = round((seconds - whole) * 10_000_000)
    return f"{text}.{fraction:07d}" if fraction else text
