"""ferry.pacer: list pages of one resource spaced at its list rate, across threads; other resources unaffected."""

from __future__ import annotations

import threading

import pytest

from ferry.orchestration.pacing import interval
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


def test_pages_are_spaced_at_the_list_rate_and_keys_are_independent():
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    waits = [pacer.wait("src", 10) for _ in range(4)]
    assert waits == pytest.approx([0, interval(10), interval(10), interval(10)], abs=1e-5)  # microseconds
    assert pacer.wait("other", 10) == 0  # another resource has its own spacing


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
    threads = [threading.Thread(target=lambda: waits.append(pacer.wait("src", 10))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([i * interval(10) for i in range(8)], abs=1e-5)


def test_a_call_that_wakes_too_late_for_its_slot_takes_a_new_one():
    """The first sleep ends 0.5 s late (a stalled process; on a shared virtual clock, another resource's listing
    moving it on). Sent at once, that call would land in the same second as the ten whose slots follow: eleven
    calls where the service admits ten. It takes a new slot instead."""
    clock = Clock()
    overshoots = [0.5]

    def sleep(seconds: float) -> None:
        clock.sleep(seconds + (overshoots.pop() if overshoots else 0.0))

    pacer = Pacer(clock, sleep)
    sent = []
    for _ in range(30):
        pacer.wait("src", 10)
        sent.append(clock.now)
    assert not overshoots  # the stall happened
    assert max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent) <= 10
