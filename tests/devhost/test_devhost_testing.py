"""devhost.testing: settings in the environment and restored, an external clock shared with others, HTTP."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from devhost.testing import DevHost

APPS = Path(__file__).parent / "apps"


class ProtocolClock:
    """Only the shared protocol (like the emulators' clock): time() and advance()."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.advanced = 0.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.advanced += seconds


def test_external_clock_is_used_and_moved_by_time_skipping(tmp_path):
    clock = ProtocolClock()
    with DevHost.start(APPS / "features", clock=clock, store=tmp_path / "s.db") as host:
        assert host.clock is clock
        iid = host.start_new("poll")
        st = host.wait_for(iid, timeout=20)
        assert st["output"] == 60
        assert clock.advanced == pytest.approx(1800)
        assert st["createdTime"] == "2027-01-15T08:00:00Z"  # stamped from the shared clock


def test_time_skipping_never_leaves_time_to_the_test(tmp_path):
    with DevHost.start(APPS / "features", store=tmp_path / "s.db", time_skipping="never") as host:
        iid = host.start_new("approval")
        host.wait_until(lambda: host.engine.store.next_timer() is not None, what="the 1 h timer")
        with pytest.raises(TimeoutError, match=r"awaiting whenany\(event 'approve', durable timer #0\)"):
            host.wait_for(iid, timeout=0.2)
        host.clock.advance(3600)
        assert host.wait_for(iid)["output"]["timedOut"] is True


def test_settings_are_applied_then_restored(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVHOST_KEEP", "before")
    monkeypatch.delenv("DEVHOST_NEW", raising=False)
    with DevHost.start(APPS / "features", store=tmp_path / "s.db",
                       settings={"DEVHOST_KEEP": "during", "DEVHOST_NEW": "x"}):
        assert os.environ["DEVHOST_KEEP"] == "during" and os.environ["DEVHOST_NEW"] == "x"
    assert os.environ["DEVHOST_KEEP"] == "before" and "DEVHOST_NEW" not in os.environ
    with pytest.raises(TypeError, match="must be a string"):
        DevHost.start(APPS / "features", settings={"N": 1})


def test_store_survives_a_restart_of_the_host(tmp_path):
    store = tmp_path / "s.db"
    with DevHost.start(APPS / "features", store=store) as host:
        iid = host.start_new("waits", instance_id="keep")
        host.wait_for_custom_status(iid, lambda cs: cs == "waiting")
    with DevHost.start(APPS / "features", store=store) as host:
        host.raise_event("keep", "go", "again")
        assert host.wait_for("keep")["output"] == "again"


def test_http_serves_the_durable_api(tmp_path):
    with DevHost.start(APPS / "features", store=tmp_path / "s.db", http=True) as host:
        iid = host.start_new("chain", 3)
        host.wait_for(iid)
        with urllib.request.urlopen(f"{host.url}/runtime/webhooks/durabletask/instances/{iid}",  # noqa: S310
                                    timeout=10) as resp:
            body = json.loads(resp.read())
        assert resp.status == 200 and body["output"] == {"a": 6, "b": 12, "c": "Hello 12!"}
    with DevHost.start(APPS / "features", store=tmp_path / "s2.db") as host, pytest.raises(RuntimeError):
        _ = host.url


class JitterClock(ProtocolClock):
    """A float clock whose advance lands a hair early, as real-time-plus-offset clocks do."""

    def advance(self, seconds: float) -> None:
        super().advance(seconds - 5e-4)  # within the 1 ms due tolerance


def test_long_timer_fires_exactly_once_per_chunk_with_an_imprecise_clock(tmp_path):
    clock = JitterClock()
    with DevHost.start(APPS / "features", clock=clock, store=tmp_path / "s.db") as host:
        iid = host.start_new("long_timer")
        assert host.wait_for(iid)["output"] == pytest.approx(7 * 86400, abs=1e-3)
        assert [e["EventId"] for e in host.history(iid) if e["EventType"] == 10] == [0, 1]


def test_stop_abandons_a_stuck_activity_and_the_next_start_runs_it_again(tmp_path):
    store = tmp_path / "s.db"
    first = DevHost.start(APPS / "features", store=store)
    old_module = first.index.module
    try:
        iid = first.start_new("gated", instance_id="stuck")
        assert old_module.GATE_ENTERED.wait(10)
    finally:
        first.engine.stop(timeout=0.2)  # does not wait for the blocked activity
        first.stop()
    try:
        with DevHost.start(APPS / "features", store=store) as second:
            second.index.module.GATE.set()  # the re-run (at least once) passes at once
            st = second.wait_for(iid)
            assert st["output"]["winner"] == "activity"
    finally:
        old_module.GATE.set()  # release the abandoned thread of the first host
