"""ferry.pacer: list pages of one resource paced by the budget's window rule at its list rate, across threads;
other resources unaffected."""

from __future__ import annotations

import threading

import pytest

from ferry.orchestration.pacing import window
from ferry.pacer import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_pages_go_a_window_at_a_time_and_keys_are_independent():
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    calls, span = window(10)
    waits = [pacer.wait("src", 10) for _ in range(2 * calls + 1)]
    # ten pages at once (each waits for the previous answer anyway), the eleventh a window later, and so on
    assert waits == pytest.approx([0] * calls + [span] + [0] * (calls - 1) + [span])
    assert pacer.wait("other", 10) == 0  # another resource has its own budget


def test_an_idle_pacer_does_not_wait():
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    pacer.wait("src", 10)
    clock.now += 5
    assert pacer.wait("src", 10) == 0


def test_threads_share_one_spacing():
    clock = Clock()
    pacer = Pacer(clock, lambda s: None)  # real threads; the time is only read
    waits: list[float] = []
    threads = [threading.Thread(target=lambda: waits.append(pacer.wait("src", 10))) for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls, span = window(10)
    assert sorted(waits) == pytest.approx([0] * calls + [span] * calls + [2 * span] * 5)
