"""Fixtures for the devhost host-layer tests: load a sample app, serve it, always stop the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.functions import load_app
from devhost.http import HostKeys, HostServer

APPS = Path(__file__).parent / "apps"


class ManualClock:
    """The clock protocol (time/advance) with time that only moves when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sample_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """File the sample functions append JSON lines to (what ran, with what)."""
    path = tmp_path / "sample.log"
    path.touch()
    monkeypatch.setenv("SAMPLE_LOG", str(path))
    return path


@pytest.fixture
def web_app(sample_log: Path):
    return load_app(APPS / "web")


@pytest.fixture
def serve() -> Iterator:
    """`serve(index, engine=None, **kw)` → a started HostServer, stopped at teardown."""
    servers: list[HostServer] = []

    def start(index, engine=None, **kwargs) -> HostServer:
        server = HostServer(index, engine, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def keys(web_app) -> HostKeys:
    return HostKeys.generate([f.name for f in web_app.functions.values()])


@pytest.fixture
def make_clock():
    """`make_clock(start_epoch)` → a ManualClock."""
    return ManualClock


@pytest.fixture
def durable_app():
    return load_app(APPS / "durable")


@pytest.fixture
def durable_host(durable_app, tmp_path, serve):
    """`durable_host(keys=None)` → (server, engine) on a fresh store with a virtual clock; both stopped after."""
    from devhost.engine.clock import VirtualClock
    from devhost.engine.engine import Engine

    engines = []

    def start(**kwargs):
        engine = Engine(durable_app, store_path=tmp_path / f"store{len(engines)}.sqlite", clock=VirtualClock(),
                        hub_name="SampleHub", time_skipping="never").start()
        # "never": the app has no durable timers, and an idle "always" clock would now run through its leap-day
        # timer trigger's occurrences (time skipping stops at timer triggers too), starting instances
        engines.append(engine)
        return serve(durable_app, engine, **kwargs), engine

    yield start
    for engine in engines:
        engine.stop()
