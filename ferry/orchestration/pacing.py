"""Pacing at the service's rate limits: when may the next call of a rate group go to a resource?

Why: Document Intelligence limits each resource per operation group (S0: 5 model-management calls per second,
50 gets, 10 lists) and answers 429 beyond. Copies started by a sync, by `/api/copies` and by Event Grid all call
the same resources, possibly from several Function App instances at once, so the budget must be one shared,
serialised record per resource (the `resource_budget` durable entity) and a 429 stays the exception.

The model: the service counts calls in sliding one-second windows, so what it admits is at most `floor(rate)`
calls in any one-second span. A budget hands out *slots* (instants) that keep that rule with a small margin
(`window`): a caller asks for a slot no earlier than its own orchestration time `at` and gets the earliest
instant from there where one more call keeps every span within the limit. A *precise* caller — an activity that
holds its calls until the slot (`ferry.steps.hold_until`) — may share an instant with others: a window's calls
go together and the next window's one span later, which is as fast as the service admits. A *loose* caller
sends its call whenever its activity happens to run, so its arrival varies with dispatch; its slot is also kept
`interval(rate)` (LOOSE_HEADROOM of the rate) away from every other slot and keeps the window with a margin of
LOOSE_LATENESS_SECONDS, so late ones cannot crowd a window.

Pure: state in, state out; times are the callers' deterministic orchestration times (or epoch seconds).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.settings import RATE_GROUPS, default_of

MARGIN_SECONDS = float(default_of("FERRY_PACING_MARGIN_MS")) / 1000.0
"""Added to each window by default (FERRY_PACING_MARGIN_MS): what may still vary between a held call's slot and
its arrival at the service."""

LOOSE_HEADROOM = 0.9
"""A loose slot (a call not held to its instant) is spaced at this fraction of the rate: its arrival varies
with activity dispatch, and the spacing keeps a late one from crowding a window."""

LOOSE_LATENESS_SECONDS = 0.3
"""How late a loose call may reach the service (activity dispatch on a busy host): loose slots keep the window
with this as its margin, so loose calls dispatched late all at once still fit the service's limit."""

GROUPS = RATE_GROUPS  # manage, get, list: defined with the rates in ferry.settings

HORIZON_SECONDS = 5.0
"""Slots older than this before the latest caller time seen are forgotten (they can no longer crowd a call)."""

EPSILON = 1e-6


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


def window(rate: float, margin: float = MARGIN_SECONDS) -> tuple[int, float]:
    """The budget's window at `rate`: (calls, seconds) — at most `calls` slots in any span shorter than `seconds`.

    The service admits `rate` calls in any one-second span (its windows slide), so a budget may grant
    `floor(rate)` calls at one instant and as many again one second later; `margin` more absorbs what still
    varies between a held call's slot and its arrival (client load, network, clock skew)."""
    _check_rate(rate)
    if margin < 0:
        raise ValueError(f"a window margin must be >= 0 seconds, got {margin!r}")
    calls = max(1, int(rate + EPSILON))
    return calls, calls / rate + margin


def interval(rate: float) -> float:
    """Seconds between a loose slot and any other slot of a budget paced at `rate` (LOOSE_HEADROOM of the rate)."""
    _check_rate(rate)
    return 1.0 / (rate * LOOSE_HEADROOM)


def reserve(state: dict[str, Any] | None, group: str, at: datetime | str | float, rate: float | None,
            now: datetime | str | float | None = None, *, precise: bool = False, margin: float = MARGIN_SECONDS,
            ) -> tuple[Reservation, dict[str, Any]]:
    """Grant the earliest free slot of `group` no earlier than `at`; returns the reservation and the new state.

    `state` maps group → the sorted slots (epoch seconds) granted and not yet `HORIZON_SECONDS` old, and
    "loose" → group → the loose ones among them. A precise slot keeps the window (`window(rate, margin)`: no more
    than its calls in any shorter span) and stays `interval(rate)` away from loose slots. A loose slot (`precise`
    False: a call sent when its activity happens to run) keeps the window with LOOSE_LATENESS_SECONDS as its
    margin and stays `interval(rate)` away from every slot. A request that arrives late
    (its `at` earlier than slots already handed out) still gets room at its own time when there is some,
    instead of a place at the end: requests reach the entity in an order their callers do not control. `now` is
    the caller's orchestration time (default `at`; `at` may be later, e.g. the slot of another budget): the
    latest `now` seen, minus HORIZON_SECONDS, is the oldest slot kept. `rate` None means "no known limit": the
    slot is `at` and the state is unchanged."""
    _check_group(group)
    new_state = dict(state or {})
    start = to_epoch(at)
    if rate is None:
        return Reservation(group, start, 0.0), new_state
    seen = max(float(new_state.get("now", 0.0)), to_epoch(now) if now is not None else start)
    new_state["now"] = seen
    oldest = seen - HORIZON_SECONDS
    slots = [s for s in new_state.get(group, ()) if s >= oldest]
    loose_by_group = dict(new_state.get("loose") or {})
    loose = [s for s in loose_by_group.get(group, ()) if s >= oldest]
    limit = window(rate, margin if precise else max(margin, LOOSE_LATENESS_SECONDS))
    slot = _earliest_free(slots, loose, start, limit, interval(rate), precise)
    slot = round(slot, 6)  # what its ISO-8601 text (microseconds) carries
    bisect.insort(slots, slot)
    new_state[group] = slots
    if not precise:
        bisect.insort(loose, slot)
    if loose:
        loose_by_group[group] = loose
    else:
        loose_by_group.pop(group, None)
    new_state["loose"] = loose_by_group
    claims = _live_claims(new_state, group, seen)
    if claims:  # the call a claim announced has now reserved its slot
        claims[0] = [claims[0][0], claims[0][1] - 1]
    _set_claims(new_state, group, [c for c in claims if c[1] > 0])
    return Reservation(group, slot, slot - start), new_state


CLAIM_SECONDS = 30.0
"""How long a claim (calls announced before their slots are reserved, `claim`) counts when no reservation uses it."""


def backlog_seconds(state: dict[str, Any] | None, group: str, now: datetime | str | float, rate: float) -> float:
    """How far ahead `group`'s budget is booked at `now`: its slots from `now` on, plus the calls claimed and not
    yet reserved, at `rate` — the wait a call asking now would roughly have."""
    _check_group(group)
    _check_rate(rate)
    state = state or {}
    at = to_epoch(now)
    booked = sum(1 for s in state.get(group, ()) if s >= at)
    claimed = sum(calls for _, calls in _live_claims(state, group, at))
    return (booked + claimed) / rate


def claim(state: dict[str, Any] | None, group: str, now: datetime | str | float, calls: int) -> dict[str, Any]:
    """Announce `calls` calls of `group` that will reserve their slots in a moment (a copy's children reserve
    theirs after they start): `backlog_seconds` counts them until they do (each `reserve` uses up one claimed
    call) or for CLAIM_SECONDS. Why: callers deciding at the same instant see each other's decisions."""
    _check_group(group)
    new_state = dict(state or {})
    at = to_epoch(now)
    claims = _live_claims(new_state, group, at)
    if calls > 0:
        claims.append([at + CLAIM_SECONDS, int(calls)])
    _set_claims(new_state, group, claims)
    return new_state


def _live_claims(state: dict[str, Any], group: str, at: float) -> list[list[float]]:
    return [[float(until), int(calls)] for until, calls in (state.get("claims") or {}).get(group, ())
            if float(until) > at and int(calls) > 0]


def _set_claims(state: dict[str, Any], group: str, claims: list[list[float]]) -> None:
    by_group = dict(state.get("claims") or {})
    if claims:
        by_group[group] = claims
    else:
        by_group.pop(group, None)
    if by_group:
        state["claims"] = by_group
    else:
        state.pop("claims", None)


def _earliest_free(slots: list[float], loose: list[float], start: float, limit: tuple[int, float], step: float,
                   precise: bool) -> float:
    """The earliest instant from `start` where a slot keeps both rules. The instants that would break a rule
    form open intervals ending at `slot + span` (window) or `slot + interval` (spacing), so the answer is
    `start` or one of those ends."""
    calls, span = limit
    spaced_from = loose if precise else slots
    ends = {s + span for s in slots} | {s + step for s in spaced_from}
    for candidate in (start, *sorted(e for e in ends if e > start)):
        if _keeps_window(slots, candidate, calls, span) and _keeps_spacing(spaced_from, candidate, step):
            return candidate
    raise AssertionError("the last end always fits")  # pragma: no cover


def _keeps_window(slots: list[float], t: float, calls: int, span: float) -> bool:
    """Whether every run of `calls + 1` consecutive slots that would contain t spans at least `span`."""
    at = bisect.bisect_right(slots, t)
    run = [*slots[max(0, at - calls):at], t, *slots[at:at + calls]]
    return all(run[i + calls] - run[i] >= span - EPSILON for i in range(len(run) - calls))


def _keeps_spacing(others: list[float], t: float, step: float) -> bool:
    """Whether t is at least `step` away from its nearest neighbours in `others`."""
    at = bisect.bisect_left(others, t)
    return all(abs(t - s) >= step - EPSILON for s in others[max(0, at - 1):at + 1])


def release(state: dict[str, Any] | None, group: str, slot: datetime | str | float) -> dict[str, Any]:
    """Give back one granted slot that will not be used (its caller goes at a later one). Precise slots may
    share an instant: only one of them is given back."""
    _check_group(group)
    new_state = dict(state or {})
    when = to_epoch(slot)
    new_state[group] = _without_one(new_state.get(group, ()), when)
    loose_by_group = dict(new_state.get("loose") or {})
    if group in loose_by_group:
        loose_by_group[group] = _without_one(loose_by_group[group], when)
        new_state["loose"] = {g: v for g, v in loose_by_group.items() if v}
    return new_state


def _without_one(slots: Any, when: float) -> list[float]:
    kept = list(slots)
    for index, s in enumerate(kept):
        if abs(s - when) <= EPSILON:
            del kept[index]
            break
    return kept


def _check_rate(rate: float) -> None:
    if rate <= 0:
        raise ValueError(f"a rate must be > 0 requests per second, got {rate!r}")


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ValueError(f"unknown rate group {group!r}; groups are {', '.join(GROUPS)}")


def slots_needed_seconds(calls: int, rate: float, *, precise: bool = True) -> float:
    """How long `calls` calls take at `rate` through an idle budget: the last slot `reserve` grants them when
    they all ask at once (precise: a window's calls go together)."""
    state: dict[str, Any] = {}
    last = 0.0
    for _ in range(calls):
        granted, state = reserve(state, "manage", 0.0, rate, precise=precise)
        last = granted.slot
    return last


def list_pages_seconds(items: int, page_size: int, rate: float) -> float:
    """How long listing `items` models takes at least, in pages of `page_size` at `rate` list calls per second:
    `ferry.pacer` starts a window's pages back to back and the next ones a window after those ended."""
    return slots_needed_seconds(max(1, -(-items // max(page_size, 1))), rate)
