"""Relays: which copies of a sync are sent from a replica that another target received earlier in the same sync.

Why: every copy costs one model-management call on the resource that sends it (copyTo) and one on the resource
that receives it (authorizeCopy), and each resource has a budget of its own (S0: 5 per second). Copied straight
from the source, a sync of m models to n targets puts m·n calls on the source's budget and m on each target's:
the source is the bottleneck while the targets' budgets sit idle. A copy keeps the model as it is
(createdDateTime, expirationDateTime, doc types: `ferry.docintel.fingerprint`), so a target that has just
received and verified its replica can send it on. Spread so that every budget is equally busy, the busiest one
carries about 2·m·n/(n+1) calls instead of m·n: 40 instead of 60 for 30 models and 2 targets, 45 instead of 90
with 3 targets.

A relayed copy is the same copy workflow with the replica's target as its `source` and the sync's source as its
`origin`: the replica's provenance tags name the origin (`ferry.provenance`), so it is indistinguishable from a
direct copy to every later sync, prune and catalog. Nothing depends on a relay: when the replica it would come
from was not copied, or the relayed copy fails for any reason, the row is copied from the source (`sync_lane`).

Which rows relay (`assign`): models only (classifiers have their own copy call and no provenance tags), rows that
copy or replace, between targets in `peers` (same API version and encryption as the source, so a relay never
needs another header than the direct copy; v2 targets never). Each route is one model: its first row is copied
from the source to the target whose budget is least busy, and every other row of the model goes from whichever
holder (the source or a target already in the route) has the least busy budget, counting calls / rate of every
call the sync makes in plan order. A row sent from the source leaves the route and runs on its own.

A copy of one model to several targets (`/api/copies`, Event Grid) relays only when the source is busy
(`copy_route`): sent side by side from the source, its copies finish one copy time after their slots, while a
relay makes the others wait for the first whole copy; worth it only once the source's budget is booked
FERRY_COPY_RELAY_BACKLOG_SECONDS ahead, which is when many copies arrive together. Decided on arrival, a relay
is asked again (`relay_recheck`) when its first copy is due to leave the source and when that copy is done: late
in a burst the source empties while the targets fill with the other relays' copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ferry.orchestration import pacing
from ferry.settings import DEFAULT_TIER, TIER_RATES

RELAYABLE_ACTIONS = ("copy", "stale")
DEFAULT_RATE = TIER_RATES[DEFAULT_TIER]["manage"]  # a resource missing from `rates` (history of an older build)


def assign(rows: list[dict[str, Any]], *, source: str, peers: Iterable[str],
           rates: Mapping[str, float]) -> list[list[dict[str, Any]]]:
    """The sync's executable rows as routes, in execution order: prunes first, then model by model. In a route
    of several rows each row after the first carries `via` (the target it is copied from, which the route holds
    earlier); a row without `via` is copied from the source."""
    peer_set = set(peers)
    load: dict[str, float] = {}

    def per_call(alias: str) -> float:
        return 1.0 / float(rates.get(alias) or DEFAULT_RATE)

    def spend(alias: str, calls: int = 1) -> None:
        load[alias] = load.get(alias, 0.0) + calls * per_call(alias)

    def cost(alias: str) -> float:
        return load.get(alias, 0.0) + per_call(alias)

    prunes = [[row] for row in rows if row.get("action") == "prune"]
    for row in rows:
        if row.get("action") == "prune":
            spend(row["target"])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("action") != "prune":
            groups.setdefault((row.get("kind") or "model", str(row["id"])), []).append(row)

    routes: list[list[dict[str, Any]]] = []
    for (kind, _), group in groups.items():
        for row in group:  # every row's target authorizes (and deletes its stale replica first)
            spend(row["target"], 2 if row.get("action") == "stale" else 1)
        relayable = [row for row in group
                     if kind == "model" and row.get("action") in RELAYABLE_ACTIONS and row["target"] in peer_set]
        for row in group:
            if row not in relayable or len(relayable) < 2:
                spend(source)
                routes.append([row])
        if len(relayable) < 2:
            continue
        first = min(relayable, key=lambda row: load.get(row["target"], 0.0))
        spend(source)
        route, holders = [first], [first["target"]]
        for row in relayable:
            if row is first:
                continue
            sender = min([source, *holders], key=lambda alias: (cost(alias), alias != source))
            spend(sender)
            if sender == source:
                routes.append([row])
            else:
                route.append({**row, "via": sender})
                holders.append(row["target"])
        routes.append(route)
    return prunes + routes


def routes_of(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows (as `assign` flattened them) back into routes: a row with `via` belongs to the route before it."""
    routes: list[list[dict[str, Any]]] = []
    for row in rows:
        if row.get("via") and routes:
            routes[-1].append(row)
        else:
            routes.append([row])
    return routes


def deal(routes: list[list[dict[str, Any]]], lanes: int) -> list[list[dict[str, Any]]]:
    """Routes dealt in order to `lanes` lanes, each to the lane with the fewest rows so far (the first such): a
    lane runs its rows one after the other, so a lane dealt two relayed routes while another got two single rows
    would finish a whole copy or two after the rest. Single-row routes alone are dealt round robin."""
    dealt: list[list[dict[str, Any]]] = [[] for _ in range(max(1, lanes))]
    for route in routes:
        min(dealt, key=len).extend(route)
    return [lane for lane in dealt if lane]


def flatten(routes: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for route in routes for row in route]


def copy_route(state: dict[str, Any] | None, *, now: str, peers: int, rate: float | None,
               relay_after: float | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source budget's decision for one copy to `peers` relay-eligible targets (an operation of the
    `resource_budget` entity, so copies deciding at once see each other). While the budget is booked less than
    `relay_after` seconds ahead (None: never relay) every copy goes straight from the source. Beyond, copies
    relay, except one in `peers + 1`: a direct copy costs the source `peers` calls and each target one, a relay
    costs the source one, its first target `peers` (its authorization and the copies it sends on) and each other
    target one, so that share keeps the source's and the targets' budgets equally busy (2 targets: a third
    direct). The first target rotates, so the relays spread over every target. Each decision claims the calls
    it will make on the source (`ferry.orchestration.pacing.claim`). Returns `{"relay", "backlogSeconds",
    "turn"}` (turn: which peer receives a relayed copy first) and the new state."""
    new_state = dict(state or {})
    if rate is None or peers < 1:
        return {"relay": False, "backlogSeconds": 0.0, "turn": 0}, new_state
    backlog = pacing.backlog_seconds(new_state, "manage", now, rate)
    busy = relay_after is not None and peers >= 2 and backlog >= relay_after
    busy_turn, turn = int(new_state.get("busyTurn") or 0), int(new_state.get("relayTurn") or 0)
    relay = busy and busy_turn % (peers + 1) != peers
    if busy:
        new_state["busyTurn"] = busy_turn + 1
    if relay:
        new_state["relayTurn"] = turn + 1
    new_state = pacing.claim(new_state, "manage", now, 1 if relay else peers)
    return {"relay": relay, "backlogSeconds": round(backlog, 3), "turn": turn}, new_state


def relay_recheck(state: dict[str, Any] | None, *, now: str, calls: int, rate: float | None,
                  than: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source budget's second look at a relayed copy (an operation of the `resource_budget` entity): the
    source takes the copy's `calls` held copies itself while it is booked less than `than` seconds ahead, and
    claims them. Asked twice: when the first copy is due to leave the source, `than` is the relay threshold (a
    copy arriving then would go straight); when it is done, `than` is the first target's backlog (the less busy
    holder sends, as the sync's `assign` chooses). Why: late in a burst the source's windows empty while the
    targets' fill with the other relays' copies; sent from the first target, the held copies would wait behind
    them while the source idles. Returns `{"direct", "backlogSeconds"}` and the new state."""
    new_state = dict(state or {})
    if rate is None or calls < 1:
        return {"direct": False, "backlogSeconds": 0.0}, new_state
    backlog = pacing.backlog_seconds(new_state, "manage", now, rate)
    direct = backlog < than
    if direct:
        new_state = pacing.claim(new_state, "manage", now, calls)
    return {"direct": direct, "backlogSeconds": round(backlog, 3)}, new_state


def booked_ahead(state: dict[str, Any] | None, *, now: str, rate: float | None) -> dict[str, Any]:
    """`{"backlogSeconds"}`: how far ahead a budget's management calls are booked at `now` (0 without a rate)."""
    backlog = pacing.backlog_seconds(state, "manage", now, rate) if rate is not None else 0.0
    return {"backlogSeconds": round(backlog, 3)}
