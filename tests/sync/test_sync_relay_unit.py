"""Which copies of a sync are relayed from a target's fresh replica (`ferry.orchestration.relay`): the rule that
spreads model-management calls over every resource's budget, its limits, and how routes are kept whole."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ferry.orchestration import relay
from ferry.orchestration.sync_plan import chunks


def rows_for(models: int, targets: list[str], action: str = "copy", kind: str = "model") -> list[dict[str, Any]]:
    """As the plan lists them: target after target."""
    return [{"id": f"m{i:03d}", "kind": kind, "target": t, "action": action} for t in targets for i in range(models)]


def calls(routes: list[list[dict[str, Any]]], source: str = "src") -> Counter:
    """Model-management calls per resource: the sender's copyTo and the receiver's authorizeCopy (+ a delete for
    a stale replica, or the delete of a prune)."""
    spent: Counter = Counter()
    for row in relay.flatten(routes):
        if row["action"] == "prune":
            spent[row["target"]] += 1
            continue
        spent[row.get("via") or source] += 1
        spent[row["target"]] += 2 if row["action"] == "stale" else 1
    return spent


def assert_well_formed(routes: list[list[dict[str, Any]]], rows: list[dict[str, Any]]) -> None:
    """Every row exactly once; a relayed row comes after a row of the same model into the target it relays from;
    flattening and regrouping gives the same routes."""
    flat = relay.flatten(routes)
    assert sorted((r["id"], r["target"]) for r in flat) == sorted((r["id"], r["target"]) for r in rows)
    for route in routes:
        assert not route[0].get("via")
        for k, row in enumerate(route[1:], start=1):
            assert row["via"] in {r["target"] for r in route[:k]} and row["id"] == route[0]["id"]
    assert relay.routes_of(flat) == routes


@pytest.mark.parametrize(("targets", "source_calls", "busiest"), [(2, 40, 40), (3, 46, 46)])
def test_relays_spread_the_calls_so_no_budget_carries_much_more_than_2mn_over_n_plus_1(
        targets: int, source_calls: int, busiest: int) -> None:
    names = [f"t{k}" for k in range(targets)]
    rows = rows_for(30, names)
    routes = relay.assign(rows, source="src", peers=names, rates={})
    assert_well_formed(routes, rows)
    spent = calls(routes)
    direct = 30 * targets                                    # every copy from the source: 60 / 90 calls there
    assert spent["src"] == source_calls < direct
    assert max(spent.values()) == busiest                     # 2·m·n/(n+1) = 40 / 45, up to rounding
    assert all(spent[t] >= 30 for t in names)                 # every target authorizes each of its 30 copies


def test_relays_are_interleaved_with_direct_copies_not_left_to_the_end() -> None:
    names = ["a", "b"]
    routes = relay.assign(rows_for(30, names), source="src", peers=names, rates={})
    relayed_at = [k for k, route in enumerate(routes) if len(route) > 1]
    assert len(relayed_at) == 20                             # 20 of the 60 copies are sent by a target
    assert relayed_at[0] < len(routes) // 4 and relayed_at[-1] > 3 * len(routes) // 4


def test_a_slow_budget_is_not_made_a_sender() -> None:
    """A target on F0 (1 call per second) already spends 30 s authorizing its copies: it never relays, and the
    fast target takes every first copy."""
    routes = relay.assign(rows_for(30, ["fast", "slow"]), source="src", peers=["fast", "slow"],
                          rates={"src": 5, "fast": 5, "slow": 1})
    flat = relay.flatten(routes)
    assert not any(r.get("via") == "slow" for r in flat)
    assert any(r.get("via") == "fast" for r in flat)
    assert all(route[0]["target"] == "fast" for route in routes if len(route) > 1)


@pytest.mark.parametrize(("rows", "peers"), [
    (rows_for(5, ["a", "b"], kind="classifier"), ["a", "b"]),   # classifiers: no provenance, own copy call
    (rows_for(5, ["a", "b"]), ["a"]),                            # b has another API version or encryption
    (rows_for(5, ["a", "b"]), []),                               # FERRY_SYNC_RELAY=false
    (rows_for(5, ["a"]), ["a"]),                                 # one target: nothing to relay to
    (rows_for(5, ["a", "b"], action="prune"), ["a", "b"]),
])
def test_nothing_is_relayed_outside_the_rule(rows: list[dict[str, Any]], peers: list[str]) -> None:
    routes = relay.assign(rows, source="src", peers=peers, rates={})
    assert_well_formed(routes, rows)
    assert all(len(route) == 1 and not route[0].get("via") for route in routes)


def test_stale_rows_count_their_delete_and_prunes_come_first() -> None:
    """Replacing a stale replica costs its target a delete and an authorization: with two targets those are as
    busy as the source already (nothing relayed), with three the source is the busiest and relays help."""
    prune = {"id": "gone", "kind": "model", "target": "b", "action": "prune"}
    two = [*rows_for(10, ["a", "b"], action="stale"), prune]
    routes = relay.assign(two, source="src", peers=["a", "b"], rates={})
    assert_well_formed(routes, two)
    assert routes[0] == [prune] and not any(r.get("via") for r in relay.flatten(routes))
    assert calls(routes) == {"src": 20, "a": 20, "b": 21}
    three = rows_for(10, ["a", "b", "c"], action="stale")
    routes = relay.assign(three, source="src", peers=["a", "b", "c"], rates={})
    assert_well_formed(routes, three)
    assert any(r.get("via") for r in relay.flatten(routes))
    assert max(calls(routes).values()) < 30                   # all from the source: 30 calls there


def test_chunks_never_split_a_route() -> None:
    names = ["a", "b", "c"]
    routes = relay.assign(rows_for(20, names), source="src", peers=names, rates={})
    assert any(len(route) == 3 for route in routes)
    parts = chunks(routes, 4)
    assert relay.flatten(routes) == [row for part in parts for row in part]
    assert all(len(part) <= 4 for part in parts)
    for part in parts:                                        # each chunk starts a route and holds whole routes
        assert relay.flatten(relay.routes_of(part)) == part and not part[0].get("via")


def test_lanes_get_about_the_same_number_of_rows() -> None:
    names = ["a", "b"]
    routes = relay.assign(rows_for(30, names), source="src", peers=names, rates={})
    lanes = relay.deal(routes, 20)
    sizes = [len(lane) for lane in lanes]
    robin = [len(relay.flatten(routes[k::20])) for k in range(20)]
    assert len(lanes) == 20 and sum(sizes) == 60 and max(sizes) <= max(robin)
    assert sum(size > 3 for size in sizes) < sum(size > 3 for size in robin)
    assert sorted(map(str, relay.flatten(lanes))) == sorted(map(str, relay.flatten(routes)))
    for lane in lanes:
        assert relay.flatten(relay.routes_of(lane)) == lane and not lane[0].get("via")
    singles = [[row] for row in rows_for(5, ["a"])]
    assert relay.deal(singles, 3) == [[singles[0][0], singles[3][0]], [singles[1][0], singles[4][0]], [singles[2][0]]]
