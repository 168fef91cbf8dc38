"""ferry.pacer: calls of one resource within its sliding window whenever they really arrive, across threads;
other resources unaffected."""

from __future__ import annotations

import random
import threading
import time

import pytest

from emulators.docintel.errors import ServiceError
from emulators.docintel.gateway import RateLimiter
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


def most_in_one_second(arrivals: list[float]) -> int:
    """What the service's sliding one-second window sees at its fullest (a call counts for one second)."""
    ordered = sorted(arrivals)
    return max(sum(1 for t in ordered if start - 1.0 < t <= start) for start in ordered)


def test_a_window_of_calls_goes_at_once_and_the_next_one_window_after_they_ended():
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    calls, span = window(10)
    waits = []
    for _ in range(calls + 2):
        with pacer.call("src", 10) as waited:
            waits.append(waited)
            clock.now += 0.01  # each answer takes 10 ms
    # the eleventh waits until the first (which ended at 0.01) is a window old; the twelfth, started when the
    # eleventh ended, finds the second (ended at 0.02) just as old
    assert waits[:calls] == [0] * calls
    assert waits[calls] == pytest.approx(0.01 + span - calls * 0.01, abs=1e-9)
    assert waits[calls + 1] == pytest.approx(0, abs=1e-9)
    with pacer.call("other", 10) as waited:  # another resource has its own window
        assert waited == 0


def test_an_idle_pacer_does_not_wait():
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    for _ in range(10):
        with pacer.call("src", 10):
            pass
    clock.now += 5
    with pacer.call("src", 10) as waited:
        assert waited == 0


class Service:
    """The emulator's gateway on the test's clock: it counts a call when the call arrives."""

    def __init__(self, clock: Clock, rate: float) -> None:
        self.limiter = RateLimiter(_Time(clock), {"list": rate})
        self.arrivals: list[float] = []
        self.refused = 0

    def arrive(self) -> None:
        try:
            self.limiter.admit("list", "List models", "Document Intelligence", "S0")
            self.arrivals.append(self.limiter.clock.time())
        except ServiceError:
            self.refused += 1


class _Time:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.now


@pytest.mark.parametrize("late", [0.31, 0.5, 1.0])
@pytest.mark.parametrize("which", [10, 17])
def test_a_call_that_reaches_the_service_late_does_not_crowd_the_next_window(late, which):
    """One page reaches the service `late` seconds after it started (a stall, a slow connection; on a shared
    virtual clock, another resource's listing moving time on), the others at once. Sent by slots handed out
    ahead, it landed in the same second as the ten slotted after it: the 429 CI saw in the 5,000-model plan."""
    clock = Clock()
    clock.now = 1_764_921_150.123457  # epoch seconds, as the host's clocks read them
    pacer, service = Pacer(clock, clock.sleep), Service(clock, 10)
    for i in range(40):
        with pacer.call("src", 10):
            clock.now += late if i == which else 0.0
            service.arrive()
    assert service.refused == 0
    assert most_in_one_second(service.arrivals) <= window(10)[0]


def test_calls_that_arrive_at_any_moment_of_their_call_never_crowd_a_window():
    """Each call reaches the service at some moment between its start and its end, and sleeps overshoot."""
    rng = random.Random(7)
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds + rng.choice((0.0, 0.0, 0.05, 0.6)))

    pacer, service = Pacer(clock, sleep), Service(clock, 10)
    for _ in range(300):
        with pacer.call("src", 10):
            took = rng.choice((0.0, 0.001, 0.005, 0.02, 0.4, 1.2))
            before = rng.random() * took
            clock.now += before
            service.arrive()
            clock.now += took - before
    assert service.refused == 0 and len(service.arrivals) == 300


def test_threads_share_one_window_and_wait_for_calls_in_flight():
    """Eight threads of one resource at rate 2: two go at once; the others wait until a call two before them has
    ended (really: the bodies hold for a moment), then a window more."""
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    starts: list[float] = []
    ends: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        with pacer.call("src", 2):
            with lock:
                starts.append(clock.now)
            time.sleep(0.02)  # real time: the next waiters see this call in flight
            with lock:
                ends.append(clock.now)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(starts) == 8
    assert sorted(starts)[:2] == [100.0, 100.0]
    assert most_in_one_second(starts) <= 2
    calls, span = window(2)
    ordered = sorted(starts)
    assert all(ordered[i + calls] - ordered[i] >= span - 1e-9 for i in range(len(ordered) - calls))


def test_a_call_that_fails_still_counts():
    clock = Clock()
    pacer = Pacer(clock, clock.sleep)
    with pytest.raises(RuntimeError), pacer.call("src", 1):
        raise RuntimeError("connection reset")
    with pacer.call("src", 1) as waited:
        assert waited == pytest.approx(window(1)[1])
