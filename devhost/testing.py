"""In-process devhost for pytest: start the real app on the durable engine with a controllable clock.

Why: the app's own tests should drive orchestrations end to end (real SDK, real replay, real store) without
sockets or sleeps when they don't need them, and share one clock with the emulators so that copy durations,
authorization expiry and durable timers move together (Temporal's time-skipping test environment is the model).

    from devhost.testing import DevHost, VirtualClock

    clock = VirtualClock()                          # or any object with time()/advance(seconds), e.g. the emulators'
    with DevHost.start(app_dir, settings={"FERRY_RESOURCES": "..."}, clock=clock,
                       store=tmp_path / "s.db", http=False) as host:
        iid = host.start_new("copy_model", {"modelId": "m1"})
        status = host.wait_for(iid, timeout=10)     # skips virtual time to due timers while waiting
        assert status["runtimeStatus"] == "Completed"
        host.history(iid)                           # raw DurableTask events
        host.clock.advance(60)

Time skipping (``time_skipping=``): ``"while_waiting"`` (default) moves the clock to the next due durable timer
only while a ``wait_*`` call blocks and nothing else is runnable (no episode, activity or entity operation queued
or running — an activity calling an emulator is never overtaken by the clock); ``"always"`` also when nobody
waits (what ``--clock virtual`` does); ``"never"`` leaves the clock to the test. Waits use real-time timeouts and
a condition variable, never sleeps.

``http=True`` also serves the app over HTTP (``HostServer``: HTTP triggers, the Durable HTTP API, Event
Grid webhook, admin API) on a free loopback port: ``host.url``. ``settings`` are put into ``os.environ`` for the
lifetime of the host and restored afterwards. ``host.json`` in the app dir is honoured (hub name, concurrency,
route prefix, function timeout).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from azure.durable_functions.models.utils.df_serialization import df_dumps

from devhost.engine import Engine
from devhost.engine.clock import RealClock, VirtualClock
from devhost.functions import FunctionIndex, load_app

__all__ = ["DevHost", "RealClock", "VirtualClock", "read_json_lines", "wait_for_json"]

TERMINAL = ("Completed", "Failed", "Terminated")


class DevHost:
    """A started engine (and optionally HTTP server) on one app; use ``DevHost.start(...)``."""

    def __init__(self, app_dir: Path, *, engine: Engine, index: FunctionIndex, server: Any = None,
                 saved_env: dict[str, str | None] | None = None, added_path: str | None = None,
                 tempdir: tempfile.TemporaryDirectory | None = None) -> None:
        self.app_dir = app_dir
        self.engine = engine
        self.index = index
        self.server = server
        self._saved_env = saved_env or {}
        self._added_path = added_path
        self._tempdir = tempdir
        self._stopped = False

    # ------------------------------------------------------------------------------------------ lifecycle
    @classmethod
    def start(cls, app_dir: Path | str, *, settings: Mapping[str, str] | None = None, clock: Any = None,
              store: Path | str | None = None, http: bool = False, port: int = 0, keys: Any = None,
              time_skipping: str = "while_waiting", hub_name: str | None = None, max_activities: int | None = None,
              max_orchestrators: int | None = None, function_timeout: float | None = None) -> DevHost:
        """Load the app (with ``settings`` in the environment), open the store, start the engine (and HTTP).

        ``clock``: any object with ``time()`` and ``advance(seconds)``; default a new :class:`VirtualClock`.
        ``store``: SQLite path (default: a temporary file removed at stop). ``keys``: a ``devhost.http.HostKeys``
        to enforce function keys over HTTP (default: off, like ``func start``).
        """
        app_dir = Path(app_dir).resolve()
        saved: dict[str, str | None] = {}
        for k, v in (settings or {}).items():
            if not isinstance(v, str):
                raise TypeError(f"setting {k!r} must be a string (app settings are environment variables), "
                                f"got {type(v).__name__}")
            saved.setdefault(k, os.environ.get(k))
            os.environ[k] = v
        added = str(app_dir) if str(app_dir) not in sys.path else None
        tempdir = None
        try:
            config = _host_config(app_dir)
            index = load_app(app_dir)
            if store is None:
                tempdir = tempfile.TemporaryDirectory(prefix="devhost-")
                store = Path(tempdir.name) / "store.sqlite"
            engine = Engine(
                index, store_path=Path(store), clock=clock if clock is not None else VirtualClock(),
                hub_name=hub_name or getattr(config, "hub_name", "TestHubName"),
                max_activities=max_activities or getattr(config, "max_activities", 10),
                max_orchestrators=max_orchestrators or getattr(config, "max_orchestrators", 10),
                function_timeout=function_timeout if function_timeout is not None
                else getattr(config, "function_timeout", None),
                time_skipping=time_skipping)
            host = cls(app_dir, engine=engine, index=index, saved_env=saved, added_path=added, tempdir=tempdir)
        except BaseException:
            _restore_env(saved)
            if tempdir is not None:
                tempdir.cleanup()
            raise
        engine.start()
        if http:
            try:
                from devhost.http import HostServer
                host.server = HostServer(index, engine, port=port, route_prefix=getattr(config, "route_prefix", "api"),
                                         keys=keys, hub_name=engine.hub_name,
                                         function_timeout=engine.function_timeout, clock=engine.clock).start()
            except BaseException:
                host.stop()
                raise
        return host

    def stop(self) -> None:
        """Stop HTTP and the engine, restore the environment, remove a temporary store."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            self.engine.stop()
            _restore_env(self._saved_env)
            if self._added_path and self._added_path in sys.path:
                sys.path.remove(self._added_path)
            if self._tempdir is not None:
                self._tempdir.cleanup()

    def __enter__(self) -> DevHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ properties
    @property
    def clock(self) -> Any:
        """The clock the engine runs on (hand it to the emulators to share time)."""
        return self.engine.clock

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the HTTP server (only with ``http=True``)."""
        if self.server is None:
            raise RuntimeError("this DevHost was started with http=False; pass http=True to serve HTTP")
        return self.server.url

    # ------------------------------------------------------------------------------------------ operations
    def start_new(self, name: str, input: Any = None, *, instance_id: str | None = None) -> str:
        """Start orchestrator ``name`` with a Python value, stored exactly as when the SDK client starts it."""
        input_json = None if input is None else json.dumps(df_dumps(input))
        return self.engine.start_new(name, instance_id, input_json)

    def status(self, instance_id: str, *, show_history: bool = False, show_history_output: bool = False) -> dict | None:
        """The status JSON the HTTP API would return (None when the instance does not exist)."""
        return self.engine.get_status(instance_id, show_history=show_history,
                                      show_history_output=show_history_output)

    def wait_for(self, instance_id: str, *, statuses: Iterable[str] = TERMINAL, timeout: float = 30.0) -> dict:
        """Block until the instance reaches one of ``statuses`` (default: terminal); returns its status JSON."""
        return self.engine.wait_for(instance_id, statuses=statuses, timeout=timeout)

    def wait_until(self, predicate: Any, *, timeout: float = 30.0, what: str = "condition") -> Any:
        """Block until ``predicate()`` is truthy, re-checked after every engine change (time skips meanwhile)."""
        return self.engine.wait_until(predicate, timeout=timeout, what=what)

    def wait_for_custom_status(self, instance_id: str, predicate: Any, *, timeout: float = 30.0) -> dict:
        """Block until ``predicate(customStatus)`` is truthy; returns the status JSON."""
        def check() -> dict | None:
            st = self.engine.get_status(instance_id)
            return st if st is not None and predicate(st.get("customStatus")) else None

        return self.engine.wait_until(check, timeout=timeout, what=f"custom status of {instance_id!r}")

    def run_until_idle(self, *, timeout: float = 30.0, skip_timers: bool = False) -> None:
        """Block until nothing is runnable now (optionally moving the clock through every pending timer)."""
        self.engine.run_until_idle(timeout=timeout, skip_timers=skip_timers)

    def history(self, instance_id: str) -> list[dict]:
        """Raw DurableTask history events of the current execution."""
        return self.engine.history(instance_id)

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Raise an external event carrying ``data`` (as a curl POST of its JSON would; over HTTP the SDK
        client's double encoding, Azure/azure-functions-durable-python#295, applies)."""
        self.engine.raise_event(instance_id, name, json.dumps(data))

    def terminate(self, instance_id: str, reason: str = "") -> None:
        self.engine.terminate(instance_id, reason)

    def suspend(self, instance_id: str, reason: str = "") -> None:
        self.engine.suspend(instance_id, reason)

    def resume(self, instance_id: str, reason: str = "") -> None:
        self.engine.resume(instance_id, reason)

    def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        return self.engine.restart(instance_id, new_instance_id)

    def purge(self, instance_id: str) -> int:
        return self.engine.purge(instance_id)

    def signal_entity(self, name: str, key: str, op: str, input: Any = None) -> None:
        """Signal an entity operation with a Python value, as the SDK client does."""
        self.engine.signal_entity(name, key, op, None if input is None else json.dumps(json.dumps(input)))

    def read_entity(self, name: str, key: str) -> Any:
        """The entity's state as a Python value (None when it does not exist)."""
        text = self.engine.read_entity(name, key)
        return None if text is None else json.loads(text)


def _host_config(app_dir: Path) -> Any:
    try:
        from devhost.config import load_host_config
    except ImportError:  # host layer absent: engine defaults
        return object()
    return load_host_config(app_dir)


def _restore_env(saved: Mapping[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# ------------------------------------------------------------------ files written by the app under test
def read_json_lines(path: str | os.PathLike[str]) -> list[Any]:
    """The complete JSON lines appended to ``path`` so far; [] before the file exists.

    Why: a function writing the file runs in another thread or process, so the last line may be half written
    when the test reads; only lines whose newline has arrived are parsed.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    complete = text[:text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for_json(path: str | os.PathLike[str], timeout: float = 10.0) -> Any:
    """The JSON document at ``path`` once it is complete: waits for content that parses, not for existence.

    Why: a file appears (empty) before its writer has written it; reading at existence is a race.
    """
    deadline = time.monotonic() + timeout
    last = "the file does not exist"
    while True:
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            last = "the file does not exist"
        except ValueError as exc:  # empty or half written
            last = f"its content does not parse yet ({exc})"
        if time.monotonic() >= deadline:
            raise AssertionError(f"{path}: no complete JSON within {timeout:.0f}s; {last}")
        time.sleep(0.02)
