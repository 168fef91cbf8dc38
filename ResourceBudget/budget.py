"""The `resource_budget` entity's operations, as a plain function of the entity context (unit-testable).

State: `{"<group>": [granted slots, epoch seconds, sorted], "now": <latest caller time>}` (see
`ferry.orchestration.pacing.reserve`). The entity key is the resource
alias (a key of FERRY_RESOURCES); the rate comes from the settings at each operation (the entity is never
replayed, so reading settings here is safe, and a changed rate applies to the very next reservation).

Operations:
* `reserve` `{"group": "manage"|"get"|"list", "at": "<ISO-8601>", "now"?: "<ISO-8601>"}` →
  `{"group", "slot": "<ISO-8601>", "waitSeconds"}`: the caller's call may go out at `slot`, the earliest free
  instant no earlier than `at`; `now` is the caller's orchestration time when `at` is later (default `at`).
* `release` `{"group", "slot"}`: gives back a slot the caller will not use (a signal; no answer).
* `get` → the state (for tests and diagnostics).
"""

from __future__ import annotations

import logging
from typing import Any

from ferry import settings as ferry_settings
from ferry.orchestration import pacing

log = logging.getLogger("modelferry.pacing")

ENTITY = "resource_budget"


def rate_of(alias: str, group: str) -> float | None:
    """The configured rate of `alias`'s `group`, or None (logged) when the settings do not name it."""
    try:
        return ferry_settings.load().resource(alias).rate(group)
    except (ferry_settings.SettingsError, ferry_settings.UnknownResourceError) as exc:
        log.error("resource_budget %s: no rate for %s (%s); the call is not paced", alias, group, exc)
        return None


def handle(context: Any) -> None:
    """Run one operation on the entity `context` (a `df.DurableEntityContext`)."""
    state = context.get_state(dict) or {}
    operation = context.operation_name
    if operation == "reserve":
        request = context.get_input() or {}
        group = request.get("group", "manage")
        reservation, state = pacing.reserve(state, group, request["at"], rate_of(context.entity_key, group),
                                            now=request.get("now"))
        context.set_state(state)
        context.set_result(reservation.to_dict())
    elif operation == "release":
        request = context.get_input() or {}
        context.set_state(pacing.release(state, request.get("group", "manage"), request["slot"]))
    elif operation == "get":
        context.set_result(state)
    else:
        raise ValueError(f"resource_budget has no operation {operation!r}; use reserve, release or get")
