"""The `resource_budget` entity's operations, as a plain function of the entity context (unit-testable).

State: `{"<group>": [granted slots, epoch seconds, sorted], "loose": {"<group>": [the loose ones]},
"now": <latest caller time>}` (see
`ferry.orchestration.pacing.reserve`). The entity key is the resource
alias (a key of FERRY_RESOURCES); the rate comes from the settings at each operation (the entity is never
replayed, so reading settings here is safe, and a changed rate applies to the very next reservation).

Operations:
* `reserve` `{"group": "manage"|"get"|"list", "at": "<ISO-8601>", "now"?: "<ISO-8601>", "precise"?: bool}` →
  `{"group", "slot": "<ISO-8601>", "waitSeconds"}`: the caller's call may go out at `slot`, the earliest free
  instant no earlier than `at`; `now` is the caller's orchestration time when `at` is later (default `at`);
  `precise` when the caller's activity holds its call until the slot itself (it may share a window's burst).
* `release` `{"group", "slot"}`: gives back a slot the caller will not use (a signal; no answer).
* `route` `{"now": "<ISO-8601>", "peers": n, "relayAfter": seconds | null}` → `{"relay", "backlogSeconds", "turn"}`:
  whether a copy of one model to `n` relay-eligible targets should relay (`ferry.orchestration.relay.copy_route`);
  it claims the source calls it will make.
* `backlog` `{"now": "<ISO-8601>"}` → `{"backlogSeconds"}`: how far ahead its management calls are booked.
* `recheck` `{"now": "<ISO-8601>", "calls": n, "than": seconds}` → `{"direct", "backlogSeconds"}`: whether this
  source sends a relayed copy's `n` held copies itself after all, being booked less than `than` seconds ahead
  (the relay threshold when the first copy is due to leave, the first target's `backlog` once it is done):
  `ferry.orchestration.relay.relay_recheck`; it claims those calls when it takes them.
* `get` → the state (for tests and diagnostics).
"""

from __future__ import annotations

import logging
from typing import Any

from ferry import settings as ferry_settings
from ferry.orchestration import pacing, relay

log = logging.getLogger("modelferry.pacing")

ENTITY = "resource_budget"


def limits_of(alias: str, group: str) -> tuple[float | None, float]:
    """The configured rate of `alias`'s `group` (None, logged, when the settings do not name it) and the
    window margin in seconds (FERRY_PACING_MARGIN_MS)."""
    try:
        settings = ferry_settings.load()
        return settings.resource(alias).rate(group), settings.pacing_margin_ms / 1000.0
    except (ferry_settings.SettingsError, ferry_settings.UnknownResourceError) as exc:
        log.error("resource_budget %s: no rate for %s (%s); the call is not paced", alias, group, exc)
        return None, pacing.MARGIN_SECONDS


def handle(context: Any) -> None:
    """Run one operation on the entity `context` (a `df.DurableEntityContext`)."""
    state = context.get_state(dict) or {}
    operation = context.operation_name
    if operation == "reserve":
        request = context.get_input() or {}
        group = request.get("group", "manage")
        rate, margin = limits_of(context.entity_key, group)
        reservation, state = pacing.reserve(state, group, request["at"], rate, now=request.get("now"),
                                            precise=bool(request.get("precise")), margin=margin)
        context.set_state(state)
        context.set_result(reservation.to_dict())
    elif operation == "release":
        request = context.get_input() or {}
        context.set_state(pacing.release(state, request.get("group", "manage"), request["slot"]))
    elif operation == "route":
        request = context.get_input() or {}
        rate, _ = limits_of(context.entity_key, "manage")
        decision, state = relay.copy_route(state, now=request["now"], peers=int(request.get("peers") or 0),
                                           rate=rate, relay_after=request.get("relayAfter"))
        context.set_state(state)
        context.set_result(decision)
    elif operation == "backlog":
        request = context.get_input() or {}
        rate, _ = limits_of(context.entity_key, "manage")
        context.set_result(relay.booked_ahead(state, now=request["now"], rate=rate))
    elif operation == "recheck":
        request = context.get_input() or {}
        rate, _ = limits_of(context.entity_key, "manage")
        decision, state = relay.relay_recheck(state, now=request["now"], calls=int(request.get("calls") or 0),
                                              rate=rate, than=float(request.get("than") or 0))
        context.set_state(state)
        context.set_result(decision)
    elif operation == "get":
        context.set_result(state)
    else:
        raise ValueError(f"resource_budget has no operation {operation!r}; use reserve, release, route, backlog, "
                         "recheck or get")
