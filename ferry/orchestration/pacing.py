"""Pacing at the service's rate limits: when may the next call of a rate group go to a resource?

Why: Document Intelligence limits each resource per operation group (S0: 5 model-management calls per second,
50 gets, 10 lists) and answers 429 beyond. Copies started by a sync, by `/api/copies` and by Event Grid all call
the same resources, possibly from several Function App instances at once, so the budget must be one shared,
serialised record per resource (the `resource_budget` durable entity) and a 429 stays the exception.

The model: the service counts calls in sliding one-second windows. A budget hands out *slots* (instants) at
least `interval(rate)` apart, never bursting: a caller asks for a slot no earlier than its own orchestration
time `at` and gets the earliest instant from there that is one interval away from every slot granted. The interval
is computed at `HEADROOM` of the limit, because a slot is the instant the caller's timer fires, not the instant
its request reaches the service: the latency in between varies (timer delivery, activity dispatch, connection
set-up), and a call that lands late must not make the window it lands in hold one call too many.

Pure: state in, state out; times are the callers' deterministic orchestration times (or epoch seconds).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.settings import RATE_GROUPS

HEADROOM = 0.9
"""Fraction of the service's limit the budget hands out (the rest absorbs call-latency jitter)."""

GROUPS = RATE_GROUPS  # manage, get, list: defined with the rates in ferry.settings

HORIZON_SECONDS = 5.0
"""Slots older than this before the latest caller time seen are forgotten (they can no longer crowd a call)."""

EPSILON = 1e-6


def interval(rate: float) -> float:
    """Seconds between two slots of a budget paced at `rate` requests per second (with HEADROOM)."""
    if rate <= 0:
        raise ValueError(f"a rate must be > 0 requests per second, got {rate!r}")
    return 1.0 / (rate * HEADROOM)


def to_epoch(when: datetime | str | float) -> float:
    """Seconds since the epoch of an aware datetime, an ISO-8601 text (naive = UTC) or a number."""
    if isinstance(when, int | float):
        return float(when)
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def to_datetime(epoch: float) -> datetime:
    """The aware UTC datetime of `epoch` seconds."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=epoch)


@dataclass(frozen=True)
class Reservation:
    """One granted slot: when the call may go out, and how long after `at` that is."""

    group: str
    slot: float  # epoch seconds
    wait_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "slot": to_datetime(self.slot).isoformat(), "waitSeconds": self.wait_seconds}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reservation:
        return cls(group=str(data["group"]), slot=to_epoch(data["slot"]), wait_seconds=float(data["waitSeconds"]))

    @property
    def slot_datetime(self) -> datetime:
        return to_datetime(self.slot)


def reserve(state: dict[str, Any] | None, group: str, at: datetime | str | float, rate: float | None,
            now: datetime | str | float | None = None) -> tuple[Reservation, dict[str, Any]]:
    """Grant the earliest free slot of `group` no earlier than `at`; returns the reservation and the new state.

    `state` maps group → the sorted slots (epoch seconds) granted and not yet `HORIZON_SECONDS` old. A slot is
    free when it is at least one interval away from every granted one, so a request that arrives late (its
    `at` earlier than slots already handed out) still gets a gap before them instead of a place at the end:
    requests reach the entity in an order their callers do not control. `now` is the caller's orchestration
    time (default `at`; `at` may be later, e.g. the slot of another budget): the latest `now` seen, minus
    HORIZON_SECONDS, is the oldest slot kept. `rate` None means "no known limit": the slot is `at` and the
    state is unchanged."""
    _check_group(group)
    new_state = dict(state or {})
    start = to_epoch(at)
    if rate is None:
        return Reservation(group, start, 0.0), new_state
    step = interval(rate)
    seen = max(float(new_state.get("now", 0.0)), to_epoch(now) if now is not None else start)
    new_state["now"] = seen
    slots = [s for s in new_state.get(group, ()) if s >= seen - HORIZON_SECONDS]
    index = bisect.bisect_left(slots, start - step + EPSILON)
    slot = start
    while index < len(slots) and slots[index] < slot + step - EPSILON:
        slot = max(slot, slots[index] + step)
        index += 1
    slot = round(slot, 6)  # what its ISO-8601 text (microseconds) carries
    bisect.insort(slots, slot)
    new_state[group] = slots
    return Reservation(group, slot, slot - start), new_state


def release(state: dict[str, Any] | None, group: str, slot: datetime | str | float) -> dict[str, Any]:
    """Give back a granted slot that will not be used (its caller goes at a later one)."""
    _check_group(group)
    new_state = dict(state or {})
    when = to_epoch(slot)
    new_state[group] = [s for s in new_state.get(group, ()) if abs(s - when) > EPSILON]
    return new_state


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ValueError(f"unknown rate group {group!r}; groups are {', '.join(GROUPS)}")


def slots_needed_seconds(calls: int, rate: float) -> float:
    """How long `calls` calls take at `rate` through one budget (the first goes at once)."""
    return max(calls - 1, 0) * interval(rate)


def list_pages_seconds(items: int, page_size: int, rate: float) -> float:
    """How long listing `items` models takes in pages of `page_size` at `rate` list calls per second."""
    pages = max(1, -(-items // max(page_size, 1)))
    return slots_needed_seconds(pages, rate)
