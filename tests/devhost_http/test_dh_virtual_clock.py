"""`--clock virtual`: time skipping stops at timer-trigger occurrences as well as at durable timers."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.engine.clock import VirtualClock
from devhost.engine.engine import Engine
from devhost.functions import load_app
from devhost.testing import read_json_lines

APPS = Path(__file__).parent / "apps"
T0 = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)   # 10 s past a 5-minute boundary


def _timer_runs(path: Path) -> list[dict]:
    return [r for r in read_json_lines(path) if r.get("kind") == "timer"]


def _wait_runs(path: Path, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(_timer_runs(path)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return _timer_runs(path)


@pytest.fixture
def clocked(sample_log, tmp_path, serve):
    """(server, engine, clock) on the `clocked` app, `--clock virtual` style (skipping whenever idle)."""
    index = load_app(APPS / "clocked")
    clock = VirtualClock(T0)
    engine = Engine(index, store_path=tmp_path / "clocked.sqlite", clock=clock, time_skipping="always").start()
    try:
        yield serve(index, engine), engine, clock
    finally:
        engine.stop()


def test_timer_trigger_fires_on_schedule_with_no_orchestration(clocked, sample_log):
    _server, engine, _clock = clocked
    runs = _wait_runs(sample_log, 3)[:3]
    assert [r["at"] for r in runs] == ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00",
                                       "2026-01-01T00:15:00+00:00"]
    assert [r["past_due"] for r in runs] == [False, False, False]
    assert runs[0]["next"] == "2026-01-01T00:10:00+00:00"
    assert engine.stats["time_skips"] >= 3


def test_durable_timers_and_timer_trigger_share_the_virtual_clock(sample_log, tmp_path, serve):
    index = load_app(APPS / "clocked")
    # "while_waiting": nothing moves the clock until this test waits, so the first episode runs at T0
    engine = Engine(index, store_path=tmp_path / "s.sqlite", clock=VirtualClock(T0),
                    time_skipping="while_waiting").start()
    try:
        serve(index, engine)
        # durable timers at 00:07:10 and 00:10:00 (the instant of a timer-trigger occurrence)
        iid = engine.start_new("napper", input_json=json.dumps(json.dumps([420, 170])))  # as the SDK client sends
        status = engine.wait_for(iid, timeout=10)
        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == ["2026-01-01T00:07:10+00:00", "2026-01-01T00:10:00+00:00"]
        runs = engine.wait_until(lambda: (r := _timer_runs(sample_log)) and len(r) >= 3 and r, timeout=10,
                                 what="three timer runs")
        assert [r["at"] for r in runs[:3]] == ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00",
                                               "2026-01-01T00:15:00+00:00"]
        assert not any(r["past_due"] for r in runs)
    finally:
        engine.stop()


def test_a_stopped_server_does_not_hold_the_clock(sample_log, tmp_path, serve):
    index = load_app(APPS / "clocked")
    clock = VirtualClock(T0)
    engine = Engine(index, store_path=tmp_path / "s.sqlite", clock=clock, time_skipping="always").start()
    try:
        server = serve(index, engine)
        _wait_runs(sample_log, 1)
        server.stop()
        iid = engine.start_new("napper", input_json=json.dumps(json.dumps([3600])))
        assert engine.wait_for(iid, timeout=10)["runtimeStatus"] == "Completed"
    finally:
        engine.stop()


def test_in_process_waits_reach_timer_triggers_on_schedule(sample_log, tmp_path):
    """devhost.testing's default ("while_waiting"): a test waiting for a timer trigger's effect gets it on time."""
    from devhost.testing import DevHost

    with DevHost.start(APPS / "clocked", store=tmp_path / "t.sqlite", clock=VirtualClock(T0), http=True) as host:
        host.wait_until(lambda: len(_timer_runs(sample_log)) >= 2, timeout=10, what="two timer runs")
        runs = _timer_runs(sample_log)
        assert [(r["at"], r["past_due"]) for r in runs[:2]] == [("2026-01-01T00:05:00+00:00", False),
                                                                ("2026-01-01T00:10:00+00:00", False)]
        stopped_at = host.clock.time()
        time.sleep(0.2)   # nobody waits: the clock stays where it is
        assert host.clock.time() == stopped_at
