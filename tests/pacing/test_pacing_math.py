"""ferry.orchestration.pacing: slots at the resource's rate (a window at a time for precise callers, spaced for
loose ones), and what the service's gateway (the emulator's sliding-window limiter) makes of calls sent at those
slots, latency jitter included."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from emulators.docintel.errors import ServiceError
from emulators.docintel.gateway import RateLimiter
from ferry.orchestration import pacing

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def reserve_many(times: list[datetime], rate: float, group: str = "manage", precise: bool = False) -> list[float]:
    state: dict = {}
    slots = []
    for at in times:
        granted, state = pacing.reserve(state, group, at, rate, precise=precise)
        slots.append(granted.slot)
    return slots


def test_precise_callers_go_a_window_at_a_time():
    """Callers that hold their call until the slot may go together: the service's limit is per one-second span, so
    five copy calls at once and five more a window later is as fast as it admits."""
    slots = reserve_many([T0] * 12, rate=5, precise=True)
    calls, span = pacing.window(5)
    assert (calls, span) == (5, pytest.approx(1 + pacing.MARGIN_SECONDS))
    start = T0.timestamp()
    assert slots == pytest.approx([start] * 5 + [start + span] * 5 + [start + 2 * span] * 2)


def test_loose_callers_are_spaced_below_the_rate():
    slots = reserve_many([T0] * 12, rate=5)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert slots[0] == T0.timestamp()
    assert gaps[:4] == pytest.approx([1 / (5 * pacing.LOOSE_HEADROOM)] * 4, abs=1e-5)
    assert min(gaps) >= pacing.interval(5) - 1e-6 and pacing.interval(5) > 0.2  # slower than the limit itself
    # and no more than five in any span that late arrivals could squeeze into one second
    assert all(slots[i + 5] - slots[i] >= 1 + pacing.LOOSE_LATENESS_SECONDS - 1e-6 for i in range(len(slots) - 5))


def test_loose_and_precise_slots_keep_their_distance_in_one_budget():
    state: dict = {}
    burst = []
    for _ in range(3):
        granted, state = pacing.reserve(state, "manage", T0, 5, precise=True)
        burst.append(granted.slot)
    loose, state = pacing.reserve(state, "manage", T0, 5)
    assert loose.slot == pytest.approx(T0.timestamp() + pacing.interval(5))  # away from the burst
    after, state = pacing.reserve(state, "manage", T0, 5, precise=True)
    assert after.slot == pytest.approx(T0.timestamp())  # the window still has room at T0 ...
    crowded, state = pacing.reserve(state, "manage", loose.slot_datetime, 5, precise=True)
    assert crowded.slot == pytest.approx(loose.slot + pacing.interval(5))  # ... but nothing crowds a loose slot
    assert state["loose"] == {"manage": [loose.slot]}
    # a window never holds more than its calls, whatever the mix
    slots = sorted(state["manage"])
    calls, span = pacing.window(5)
    assert all(slots[i + calls] - slots[i] >= span - 1e-6 for i in range(len(slots) - calls))


def test_releasing_one_of_a_burst_gives_back_only_that_one():
    state: dict = {}
    for _ in range(5):
        granted, state = pacing.reserve(state, "manage", T0, 5, precise=True)
    state = pacing.release(state, "manage", granted.to_dict()["slot"])
    assert state["manage"] == [T0.timestamp()] * 4
    again, state = pacing.reserve(state, "manage", T0, 5, precise=True)
    assert again.slot == T0.timestamp()  # the window has room again at T0


def test_an_idle_budget_grants_the_callers_own_time_and_a_late_caller_is_not_held_back():
    state: dict = {}
    first, state = pacing.reserve(state, "manage", T0, 5)
    later, state = pacing.reserve(state, "manage", T0 + timedelta(seconds=30), 5)
    assert first.wait_seconds == 0 and later.wait_seconds == 0
    assert later.slot_datetime == T0 + timedelta(seconds=30)


def test_groups_are_independent_and_the_state_is_new():
    queued_until = [T0.timestamp() + i * pacing.interval(5) for i in range(450)]
    state: dict = {"manage": queued_until}
    granted, new = pacing.reserve(state, "get", T0, 50)
    assert granted.wait_seconds == 0 and new["manage"] == state["manage"] and "get" not in state
    queued, after = pacing.reserve(state, "manage", T0, 5)
    loose_span = pacing.window(5, pacing.LOOSE_LATENESS_SECONDS)[1]  # after the queue: spaced, and windowed
    expected = max(450 * pacing.interval(5), queued_until[-5] - T0.timestamp() + loose_span)
    assert queued.wait_seconds == pytest.approx(expected, abs=1e-5)
    assert len(after["manage"]) == 451 and len(state["manage"]) == 450


def test_a_request_that_arrives_late_gets_the_gap_at_its_own_time():
    """Callers do not control the order in which their requests reach the entity: one asking for a slot at
    t=1 after others took t=3, 3.2, ... still goes at t=1, not behind them."""
    step = pacing.interval(5)
    later = [T0 + timedelta(seconds=3 + i * step) for i in range(5)]
    state: dict = {}
    for at in later:
        _, state = pacing.reserve(state, "manage", at, 5, now=T0)
    early, state = pacing.reserve(state, "manage", T0 + timedelta(seconds=1), 5, now=T0)
    assert early.slot_datetime == T0 + timedelta(seconds=1)
    # a request just before the queued slots cannot squeeze in closer than one interval: it goes after them
    close, state = pacing.reserve(state, "manage", later[0] - timedelta(seconds=step / 2), 5, now=T0)
    assert close.slot == pytest.approx(later[-1].timestamp() + step)
    slots = sorted(state["manage"])
    assert min(b - a for a, b in itertools.pairwise(slots)) >= step - 1e-6


def test_a_released_slot_is_granted_again_and_old_slots_are_forgotten():
    state: dict = {}
    first, state = pacing.reserve(state, "manage", T0, 5)
    state = pacing.release(state, "manage", first.to_dict()["slot"])
    again, state = pacing.reserve(state, "manage", T0, 5)
    assert again.slot == first.slot and state["manage"] == [first.slot]
    much_later = T0 + timedelta(seconds=pacing.HORIZON_SECONDS + 60)
    _, state = pacing.reserve(state, "manage", much_later, 5)
    assert state["manage"] == [much_later.timestamp()]  # the budget's state stays as small as the queue


def test_unknown_rate_does_not_pace_and_bad_input_is_refused():
    granted, state = pacing.reserve({}, "manage", T0, None)
    assert granted.wait_seconds == 0 and state == {}
    with pytest.raises(ValueError, match="rate group"):
        pacing.reserve({}, "analyze", T0, 5)
    with pytest.raises(ValueError, match="rate"):
        pacing.interval(0)


def test_reservation_round_trips_through_json_and_iso_times():
    granted, _ = pacing.reserve({"manage": [T0.timestamp() - 0.1]}, "manage", T0.isoformat(), 5)
    again = pacing.Reservation.from_dict(granted.to_dict())
    assert again.slot == pytest.approx(granted.slot, abs=1e-6)
    assert again.slot_datetime == T0 + timedelta(seconds=pacing.interval(5) - 0.1)
    assert pacing.to_epoch("2026-12-04T12:00:00Z") == T0.timestamp()
    assert pacing.to_epoch(datetime(2026, 12, 4, 12)) == T0.timestamp()  # naive = UTC


@pytest.mark.parametrize(("rate", "jitter", "precise"), [
    (5, 0.0, False), (5, pacing.LOOSE_LATENESS_SECONDS, False), (1, pacing.LOOSE_LATENESS_SECONDS, False),
    (50, pacing.LOOSE_LATENESS_SECONDS, False),
    (5, 0.0, True), (5, pacing.MARGIN_SECONDS * 0.9, True), (1, pacing.MARGIN_SECONDS * 0.9, True),
    (50, pacing.MARGIN_SECONDS * 0.9, True)])
def test_calls_at_the_slots_pass_the_services_sliding_window_even_with_latency_jitter(rate, jitter, precise):
    """Many callers at once; each call reaches the gateway up to `jitter` seconds after its slot (a loose caller's
    dispatch varies more than a precise one's: up to LOOSE_LATENESS_SECONDS; a precise one's only by the margin)."""
    rnd = random.Random(7)
    ats = sorted(T0 + timedelta(seconds=rnd.uniform(0, 3)) for _ in range(120))
    slots = reserve_many(ats, rate, precise=precise)
    arrivals = sorted(s + rnd.uniform(0, jitter) for s in sorted(slots))
    clock = Clock(arrivals[0])
    limiter = RateLimiter(clock, {"manage": rate})
    throttled = 0
    for when in arrivals:
        clock.now = when
        try:
            limiter.admit("manage", "apim", "Manage - Copy model", "S0")
        except ServiceError:
            throttled += 1
    assert throttled == 0
    if precise:  # ... as fast as the service admits: every window of the busy stretch is full
        calls, span = pacing.window(rate)
        ordered = sorted(slots)
        assert max(ordered) - min(ordered) <= (len(ordered) // calls + 1) * span
        return
    # ... and the budget wastes no slot: each call goes at its own time, one interval after the previous one, or
    # as soon as the window it would crowd has room
    calls, span = pacing.window(rate, pacing.LOOSE_LATENESS_SECONDS)
    for i in range(1, len(slots)):
        earliest = max(ats[i].timestamp(), slots[i - 1] + pacing.interval(rate),
                       slots[i - calls] + span if i >= calls else 0.0)
        assert slots[i] == pytest.approx(earliest, abs=1e-5)


def test_without_pacing_the_same_calls_are_throttled():
    """The check above can fail: the same burst sent at the callers' own times is answered 429."""
    clock = Clock(T0.timestamp())
    limiter = RateLimiter(clock, {"manage": 5})
    refused = 0
    for _ in range(20):
        try:
            limiter.admit("manage", "apim", "Manage - Copy model", "S0")
        except ServiceError:
            refused += 1
    assert refused == 15


def test_durations_of_a_batch_and_of_a_listing():
    span = pacing.window(5)[1]
    assert pacing.slots_needed_seconds(60, 5) == pytest.approx(11 * span)  # twelve windows of five
    assert pacing.slots_needed_seconds(5, 5) == 0 and pacing.slots_needed_seconds(1, 5) == 0
    # 100 pages: ten at once, then ten more a window later, ...
    expected = 9 * pacing.window(10)[1]
    assert pacing.list_pages_seconds(5000, 50, 10) == pytest.approx(expected, abs=1e-5)


def test_a_window_margin_is_set_per_call_and_checked():
    assert pacing.window(5, margin=0.1) == (5, pytest.approx(1.1))
    assert pacing.window(0.5, margin=0) == (1, pytest.approx(2.0))  # below one per second: one per 1/rate
    with pytest.raises(ValueError, match="margin"):
        pacing.window(5, margin=-0.01)


def test_the_activity_holds_its_calls_until_the_slot_only_when_it_is_near(monkeypatch):
    from ferry import steps

    slept: list[float] = []
    monkeypatch.setattr(steps, "_now", lambda: T0.timestamp())
    monkeypatch.setattr(steps, "_sleep", slept.append)
    assert steps.hold_until((T0 + timedelta(seconds=0.3)).isoformat()) == pytest.approx(0.3)
    assert steps.hold_until("2026-12-04T12:00:00.25Z") == pytest.approx(0.25)
    for far_or_past in (T0 + timedelta(seconds=steps.MAX_HOLD_SECONDS + 1), T0 - timedelta(seconds=1), T0):
        assert steps.hold_until(far_or_past.isoformat()) == 0
    assert steps.hold_until(None) == 0 and steps.hold_until("not a time") == 0
    assert slept == pytest.approx([0.3, 0.25])
