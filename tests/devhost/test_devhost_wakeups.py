"""Engine.add_wakeup_source: time skipping stops at foreign instants (timer triggers) and never skips past them."""

import threading
from pathlib import Path

import pytest

from devhost.testing import DevHost

APPS = Path(__file__).parent / "apps"


class Occurrences:
    """A wakeup source like the timer service: names its next instant; `serve()` records and moves past it."""

    def __init__(self, clock, first: float, every: float) -> None:
        self.clock = clock
        self.next = first
        self.every = every
        self.seen: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __call__(self) -> float:
        return self.next

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            now = self.clock.time()
            if now >= self.next:
                self.seen.append(now)
                self.next += self.every

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_clock_stops_exactly_at_each_wakeup_before_a_later_durable_timer(tmp_path, run_log):
    with DevHost.start(APPS / "features", store=tmp_path / "s.sqlite", settings={"RUN_LOG": str(run_log)}) as host:
        t0 = host.clock.time()
        with Occurrences(host.clock, t0 + 7, 7) as source:
            host.engine.add_wakeup_source(source)
            iid = host.start_new("sleeper", 30)   # one durable timer at t0 + 30
            assert host.wait_for(iid)["output"] == 30
            assert host.clock.time() == pytest.approx(t0 + 30)
            # every occurrence before the durable timer was reached exactly, none skipped over
            assert [round(s - t0, 6) for s in source.seen[:4]] == [7, 14, 21, 28]


def test_run_until_idle_with_skip_timers_respects_wakeups(tmp_path, run_log):
    with DevHost.start(APPS / "features", store=tmp_path / "s.sqlite", settings={"RUN_LOG": str(run_log)}) as host:
        t0 = host.clock.time()
        with Occurrences(host.clock, t0 + 10, 10) as source:
            host.engine.add_wakeup_source(source)
            host.start_new("sleeper", 25)
            host.run_until_idle(skip_timers=True, timeout=10)
            assert [round(s - t0, 6) for s in source.seen[:2]] == [10, 20]


def test_a_failing_source_is_ignored(tmp_path, run_log):
    def broken() -> float:
        raise RuntimeError("boom")

    with DevHost.start(APPS / "features", store=tmp_path / "s.sqlite", settings={"RUN_LOG": str(run_log)}) as host:
        host.engine.add_wakeup_source(broken)
        assert host.wait_for(host.start_new("sleeper", 5))["output"] == 5
        with pytest.raises(TypeError):
            host.engine.add_wakeup_source(42)
