"""Pacing at the service's rate limits: when may the next call of a rate group go to a resource?

Why: Document Intelligence limits each resource per operation group (S0: 5 model-management calls per second,
50 gets, 10 lists) and answers 429 beyond. Copies started by a sync, by `/api/copies` and by Event Grid all call
the same resources, possibly from several Function App instances at once, so the budget must be one shared,
serialised record per resource (the `resource_budget` durable entity) and a 429 stays the exception.

The model: the service counts calls in sliding one-second windows. A budget hands out *slots* (instants) at
least `interval(rate)` apart, strictly in order, never bursting: a caller asks for a slot no earlier than its own
orchestration time `at`, gets `max(at, next free)`, and the next free slot moves one interval on. The interval
is computed at `HEADROOM` of the limit, because a slot is the instant the caller's timer fires, not the instant
its request reaches the service: the latency in between varies (timer delivery, activity dispatch, connection
set-up), and a call that lands late must not make the window it lands in hold one call too many.

Pure: state in, state out; times are the callers' deterministic orchestration times (or epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

HEADROOM = 0.9
"""Fraction of the service's limit the budget hands out (the rest absorbs call-latency jitter)."""

GROUPS: tuple[str, ...] = ("manage", "get", "list")


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
            ) -> tuple[Reservation, dict[str, Any]]:
    """Grant the next slot of `group` no earlier than `at`; returns the reservation and the new state.

    `state` maps group → the next free slot (epoch seconds). `rate` None means "no known limit": the slot is
    `at` and the state is unchanged (a resource the budget cannot look up is not held back)."""
    if group not in GROUPS:
        raise ValueError(f"unknown rate group {group!r}; groups are {', '.join(GROUPS)}")
    new_state = dict(state or {})
    start = to_epoch(at)
    if rate is None:
        return Reservation(group, start, 0.0), new_state
    slot = max(start, float(new_state.get(group, start)))
    new_state[group] = slot + interval(rate)
    return Reservation(group, slot, slot - start), new_state


def slots_needed_seconds(calls: int, rate: float) -> float:
    """How long `calls` calls take at `rate` through one budget (the first goes at once)."""
    return max(calls - 1, 0) * interval(rate)


def list_pages_seconds(items: int, page_size: int, rate: float) -> float:
    """How long listing `items` models takes in pages of `page_size` at `rate` list calls per second."""
    pages = max(1, -(-items // max(page_size, 1)))
    return slots_needed_seconds(pages, rate)
