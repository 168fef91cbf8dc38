"""What an orchestrator calls before a rate-limited call: reserve slots on resource budgets, wait on a timer.

`wait_for_slots(context, [(alias, group), ...])` reserves one slot on each budget in turn, each no earlier than
the previous one (the calls go out together, in one activity), then waits on a durable timer until the last
slot unless it has already passed. Cost in history: two events per reservation (EventSent, EventRaised) and two
for the timer (TimerCreated, TimerFired) when one is needed, plus the episodes they wake.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from ferry.orchestration.pacing import Reservation

from .budget import ENTITY


def budget_of(alias: str) -> df.EntityId:
    """The entity id of `alias`'s budget."""
    return df.EntityId(ENTITY, alias)


def wait_for_slots(context: Any, needs: Sequence[tuple[str, str]]) -> Generator[Any, Any, datetime]:
    """Reserve `(alias, group)` slots in order and wait until the last; returns the instant the calls may go."""
    at: datetime = context.current_utc_datetime
    for alias, group in needs:
        granted = yield context.call_entity(budget_of(alias), "reserve", {"group": group, "at": at.isoformat()})
        at = max(at, Reservation.from_dict(granted).slot_datetime)
    if at > context.current_utc_datetime:
        yield context.create_timer(at)
    return at
