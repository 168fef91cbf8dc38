"""What an orchestrator calls before a rate-limited call: reserve slots on resource budgets, wait on a timer.

`wait_for_slots(context, [(alias, group), ...])` gets one slot on each budget for the same instant (the calls go
out together, in one activity) and waits on a durable timer until that instant:
* it reserves on each budget in turn, each no earlier than the previous slot; when a later budget has no room at
  that instant, the earlier slots are given back (`release`, a signal) and reserved again at the later instant;
* with a `lead` (the caller's activity holds its calls until the slot), the slots are *precise* (they may share
  a window's burst) and only worth something if the caller can still make them: when the answer arrives, or the
  timer fires, less than DISPATCH before the slot (a busy host, slow queues), the slots are given back and
  reserved again from the current time plus the round trip just observed plus the lead. Without a lead the
  slots are *loose* (spaced; see `ferry.orchestration.pacing`).
Both loops are bounded (MAX_ROUNDS); past them the call goes anyway (a 429 is still handled by the caller).
Cost in history: two events per reservation (EventSent, EventRaised), one per release, two for the timer
(TimerCreated, TimerFired) when one is needed, plus the episodes they wake: 4–6 events in the common case.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from ferry.orchestration.pacing import Reservation

from .budget import ENTITY

MAX_ROUNDS = 3
DISPATCH = timedelta(milliseconds=40)
"""The least time before its slot a caller must be awake to still send its calls at the slot (activity dispatch)."""
SAME_INSTANT = timedelta(milliseconds=1)


def budget_of(alias: str) -> df.EntityId:
    """The entity id of `alias`'s budget."""
    return df.EntityId(ENTITY, alias)


def wait_for_slots(context: Any, needs: Sequence[tuple[str, str]], lead: timedelta = timedelta(0),
                   ) -> Generator[Any, Any, datetime]:
    """Reserve `(alias, group)` slots for one instant and wait until it; returns the instant the calls may go.

    With `lead`, the slots are asked for no earlier than `lead` from now and the timer fires `lead` before them:
    for an activity that holds its calls until the instant itself (`ferry.steps.hold_until`), so neither the
    entity's answer time nor the activity's dispatch time shifts them; and a caller woken less than DISPATCH
    before its slot reserves again. Without `lead` the slots are loose and kept however late."""
    held: dict[int, datetime] = {}
    at: datetime = context.current_utc_datetime + lead
    for _ in range(MAX_ROUNDS):
        asked = context.current_utc_datetime
        at = yield from _reserve_together(context, needs, at, held, precise=bool(lead))
        round_trip = context.current_utc_datetime - asked
        if at - lead > context.current_utc_datetime:
            yield context.create_timer(at - lead)
        if not lead or at - context.current_utc_datetime >= DISPATCH:
            return at
        _release(context, needs, held)
        at = context.current_utc_datetime + round_trip + lead
    return context.current_utc_datetime


def _reserve_together(context: Any, needs: Sequence[tuple[str, str]], at: datetime,
                      held: dict[int, datetime], precise: bool) -> Generator[Any, Any, datetime]:
    """Slots on every budget at one instant `>= at` (or the latest one got within MAX_ROUNDS passes)."""
    for _ in range(MAX_ROUNDS):
        for index, (alias, group) in enumerate(needs):
            if index in held and abs(held[index] - at) < SAME_INSTANT:
                continue
            if index in held:
                context.signal_entity(budget_of(alias), "release", {"group": group, "slot": held[index].isoformat()})
            granted = yield context.call_entity(budget_of(alias), "reserve", {
                "group": group, "at": at.isoformat(), "now": context.current_utc_datetime.isoformat(),
                "precise": precise})
            held[index] = Reservation.from_dict(granted).slot_datetime
            at = max(at, held[index])
        if all(abs(slot - at) < SAME_INSTANT for slot in held.values()):
            break
    return at


def _release(context: Any, needs: Sequence[tuple[str, str]], held: dict[int, datetime]) -> None:
    for index, slot in held.items():
        alias, group = needs[index]
        context.signal_entity(budget_of(alias), "release", {"group": group, "slot": slot.isoformat()})
    held.clear()
