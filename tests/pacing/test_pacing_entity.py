"""The `resource_budget` entity: its operations with the configured rates, what an orchestrator does with its
slots (`ResourceBudget.pace.wait_for_slots`), and the entity running in the product app on devhost."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.engine.clock import VirtualClock
from devhost.testing import DevHost
from ferry import settings as ferry_settings
from ferry.orchestration import pacing
from ResourceBudget import budget
from ResourceBudget.pace import wait_for_slots

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SUB = "00000000-0000-0000-0000-0000000000aa"


def entry(name: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": f"https://{name}.cognitiveservices.azure.com", "region": "eastus", "apiVersion": "2024-11-30",
            "resourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/"
                          f"accounts/{name}", **extra}


RESOURCES = {"src": entry("src"), "free": entry("free", tier="F0"), "raised": entry("raised", managementRate=20)}


def only_our_settings(monkeypatch) -> None:
    """No FERRY_* setting left behind by another test (settings are process-wide environment variables)."""
    import os

    for name in [n for n in os.environ if n.startswith("FERRY_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def configured(monkeypatch):
    only_our_settings(monkeypatch)
    monkeypatch.setenv("FERRY_RESOURCES", json.dumps(RESOURCES))
    ferry_settings.load.cache_clear()
    yield
    ferry_settings.load.cache_clear()


class EntityContext:
    """What `budget.handle` uses of `df.DurableEntityContext`, over a dict of entity states."""

    def __init__(self, states: dict[str, Any], key: str, operation: str, input_: Any) -> None:
        self.states, self.entity_key, self.operation_name, self._input = states, key, operation, input_
        self.result: Any = None

    def get_state(self, initializer: Any = None) -> Any:
        return self.states.get(self.entity_key, initializer() if initializer else None)

    def set_state(self, state: Any) -> None:
        self.states[self.entity_key] = json.loads(json.dumps(state))

    def get_input(self) -> Any:
        return self._input

    def set_result(self, result: Any) -> None:
        self.result = json.loads(json.dumps(result))


def operate(states: dict, key: str, operation: str, input_: Any = None) -> Any:
    ctx = EntityContext(states, key, operation, input_)
    budget.handle(ctx)
    return ctx.result


def test_reserve_paces_each_resource_at_its_tier_or_override(configured):
    states: dict = {}
    at = T0.isoformat()
    waits = {alias: [operate(states, alias, "reserve", {"group": "manage", "at": at})["waitSeconds"]
                     for _ in range(3)] for alias in ("src", "free", "raised")}
    for alias, rate in (("src", 5), ("free", 1), ("raised", 20)):
        expected = [pacing.slots_needed_seconds(n, rate, precise=False) for n in (1, 2, 3)]
        assert waits[alias] == pytest.approx(expected, abs=1e-5)
        assert expected[1] >= pacing.interval(rate) - 1e-5  # spaced below the rate (slots carry microseconds)
    # get and list have their own budgets (S0: 50 and 10 per second)
    assert operate(states, "src", "reserve", {"group": "get", "at": at})["waitSeconds"] == 0
    second = operate(states, "src", "reserve", {"group": "list", "at": at})
    third = operate(states, "src", "reserve", {"group": "list", "at": at})
    assert third["waitSeconds"] - second["waitSeconds"] == pytest.approx(pacing.interval(10), abs=1e-5)
    assert set(operate(states, "src", "get")) == {"manage", "get", "list", "now", "loose"}
    # a precise caller (one that holds its call until the slot) may go with a window's burst
    fresh: dict = {}
    precise = [operate(fresh, "src", "reserve", {"group": "manage", "at": at, "precise": True})["waitSeconds"]
               for _ in range(6)]
    assert precise == pytest.approx([0] * 5 + [pacing.window(5)[1]], abs=1e-5)


def test_the_window_margin_comes_from_the_settings(monkeypatch):
    only_our_settings(monkeypatch)
    monkeypatch.setenv("FERRY_RESOURCES", json.dumps(RESOURCES))
    monkeypatch.setenv("FERRY_PACING_MARGIN_MS", "150")
    ferry_settings.load.cache_clear()
    try:
        states: dict = {}
        waits = [operate(states, "src", "reserve", {"group": "manage", "at": T0.isoformat(), "precise": True})
                 ["waitSeconds"] for _ in range(6)]
    finally:
        ferry_settings.load.cache_clear()
    assert waits[-1] == pytest.approx(1.15, abs=1e-5)


def test_an_alias_the_settings_do_not_know_is_not_held_back(configured, caplog):
    states: dict = {}
    for _ in range(3):
        granted = operate(states, "nowhere", "reserve", {"group": "manage", "at": T0.isoformat()})
        assert granted["waitSeconds"] == 0
    assert "not paced" in caplog.text


def test_route_relays_copies_only_once_the_sources_budget_is_booked_ahead(configured):
    """Copies of one model to 2 targets arriving together: the first go straight from the source (claiming 2
    calls each); once the source is booked 2 s ahead, two in three relay (claiming 1), the first target turn
    after turn, so the source's and the targets' budgets stay equally busy."""
    states: dict = {}
    now = T0.isoformat()
    decisions = [operate(states, "src", "route", {"now": now, "peers": 2, "relayAfter": 2.0}) for _ in range(9)]
    relayed = [d["relay"] for d in decisions]
    # S0: 5 calls a second; claims of 2 calls book 0, 0.4, 0.8, 1.2, 1.6 s: the sixth copy sees 2 s and relays
    assert relayed == [False] * 5 + [True, True, False, True]
    assert [d["backlogSeconds"] for d in decisions] == pytest.approx([0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.2, 2.4, 2.8])
    assert [d["turn"] for d in decisions if d["relay"]] == [0, 1, 2]  # the first target rotates
    # each reservation uses up one claimed call: 15 calls announced, 3 of them reserved, still 15 (3 s)
    for _ in range(3):
        operate(states, "src", "reserve", {"group": "manage", "at": now, "precise": True})
    assert operate(states, "src", "route", {"now": now, "peers": 1, "relayAfter": 2.0})["backlogSeconds"] == \
        pytest.approx(3.0)
    # claims nobody reserved count for CLAIM_SECONDS only; relays off (None) or a single peer never relay
    later = (T0 + timedelta(seconds=pacing.CLAIM_SECONDS + 1)).isoformat()
    assert operate(states, "src", "route", {"now": later, "peers": 2, "relayAfter": 2.0}) == {
        "relay": False, "backlogSeconds": 0.0, "turn": 3}
    busy = {"src": states["src"]}
    assert operate(busy, "src", "route", {"now": now, "peers": 2, "relayAfter": None})["relay"] is False
    assert operate(busy, "src", "route", {"now": now, "peers": 1, "relayAfter": 0})["relay"] is False
    assert operate({}, "src", "route", {"now": now, "peers": 3, "relayAfter": 0})["relay"] is True


def test_recheck_takes_a_relays_held_copies_only_while_the_source_is_booked_less(configured):
    """A relayed copy asks again: the source takes its held copies while it is booked less than `than` seconds
    ahead (FERRY_COPY_RELAY_BACKLOG_SECONDS at the first copy's turn, the first target's backlog once that copy
    is done) and claims them, so relays asking together see each other; `backlog` only reads."""
    states: dict = {}
    now = T0.isoformat()
    for _ in range(5):  # one window of 5 calls booked on the source (S0): 1 s ahead
        operate(states, "src", "reserve", {"group": "manage", "at": now, "precise": True})
    assert operate(states, "src", "backlog", {"now": now}) == {"backlogSeconds": 1.0}
    before = json.dumps(states)
    operate(states, "src", "backlog", {"now": now})
    assert json.dumps(states) == before  # a read
    answers = [operate(states, "src", "recheck", {"now": now, "calls": 2, "than": 2.0}) for _ in range(4)]
    # 1.0 s booked: takes 2 calls (then 1.4 s), 2 more (1.8 s), 2 more (2.2 s), then not
    assert [(a["direct"], a["backlogSeconds"]) for a in answers] == [(True, 1.0), (True, 1.4), (True, 1.8),
                                                                    (False, 2.2)]
    assert operate(states, "src", "backlog", {"now": now}) == {"backlogSeconds": 2.2}  # nothing claimed last
    # booked as much as the first target: the relay keeps its sender (a tie does not go to the source)
    assert operate(states, "src", "recheck", {"now": now, "calls": 1, "than": 2.2})["direct"] is False
    # past CLAIM_SECONDS and every slot, the source is idle again; an unknown resource is never taken
    later = (T0 + timedelta(seconds=pacing.CLAIM_SECONDS + 1)).isoformat()
    assert operate(states, "src", "recheck", {"now": later, "calls": 1, "than": 0.5})["direct"] is True
    assert operate({}, "nowhere", "recheck", {"now": now, "calls": 1, "than": 5})["direct"] is False


def test_unknown_operation_fails(configured):
    with pytest.raises(ValueError, match="no operation 'take'"):
        operate({}, "src", "take")


class OrchestrationContext:
    """`call_entity` runs `budget.handle` at once; a timer moves the orchestration time to its fire time."""

    def __init__(self, states: dict, now: datetime) -> None:
        self.states, self.current_utc_datetime = states, now
        self.calls: list[tuple[str, Any]] = []
        self.timers: list[datetime] = []

    def call_entity(self, entity_id: Any, operation: str, input_: Any = None) -> Any:
        self.calls.append((entity_id.key, input_))
        return operate(self.states, entity_id.key, operation, input_)

    def create_timer(self, fire_at: datetime) -> Any:
        self.timers.append(fire_at)
        return fire_at


def drive(generator: Any, ctx: OrchestrationContext) -> Any:
    send = None
    while True:
        try:
            task = generator.send(send)
        except StopIteration as stop:
            return stop.value
        if isinstance(task, datetime):
            ctx.current_utc_datetime = max(ctx.current_utc_datetime, task)
            send = None
        else:
            send = task


def test_wait_for_slots_chains_the_resources_and_waits_only_when_needed(configured):
    states: dict = {}
    first = OrchestrationContext(states, T0)
    assert drive(wait_for_slots(first, [("src", "manage"), ("raised", "manage")]), first) == T0
    assert first.timers == []  # an idle budget: no timer, no history spent on waiting
    assert [key for key, _ in first.calls] == ["src", "raised"]
    second = OrchestrationContext(states, T0)
    go = drive(wait_for_slots(second, [("src", "manage"), ("raised", "manage")]), second)
    assert go == T0 + timedelta(seconds=pacing.interval(5))
    assert second.timers == [go]
    # the second resource was asked for a slot no earlier than the first's
    assert second.calls[1][1]["at"] == go.isoformat()


def test_the_entity_serialises_callers_in_the_product_app_on_devhost(tmp_path, monkeypatch):
    """The real `resource_budget` function on devhost (the SDK's entity dispatch): signals from many callers end
    in one state that has handed out every slot once."""
    only_our_settings(monkeypatch)
    ferry_settings.load.cache_clear()
    settings = {"FERRY_RESOURCES": json.dumps(RESOURCES)}
    clock = VirtualClock(start=T0.timestamp())
    with DevHost.start(REPO, settings=settings, clock=clock, store=tmp_path / "store.sqlite") as host:
        for _ in range(12):
            host.signal_entity(budget.ENTITY, "src", "reserve", {"group": "manage", "at": T0.isoformat()})
        host.run_until_idle(timeout=30)
        state = host.read_entity(budget.ENTITY, "src")
        slots = state["manage"]
        assert len(slots) == 12 and slots[0] == T0.timestamp()
        # loose slots (a signal holds no call to its slot): spaced, five at most in any late-arrival window
        assert min(b - a for a, b in itertools.pairwise(slots)) >= pacing.interval(5) - 1e-5
        calls, span = pacing.window(5, pacing.LOOSE_LATENESS_SECONDS)
        assert all(slots[i + calls] - slots[i] >= span - 1e-5 for i in range(len(slots) - calls))
        assert len(set(slots)) == 12  # every slot handed out once


class SlowContext(OrchestrationContext):
    """Each entity call takes `round_trip` of orchestration time; releases are signals."""

    def __init__(self, states: dict, now: datetime, round_trip: timedelta) -> None:
        super().__init__(states, now)
        self.round_trip = round_trip
        self.signals: list[tuple[str, str, Any]] = []

    def call_entity(self, entity_id: Any, operation: str, input_: Any = None) -> Any:
        self.current_utc_datetime += self.round_trip
        return super().call_entity(entity_id, operation, input_)

    def signal_entity(self, entity_id: Any, operation: str, input_: Any = None) -> None:
        self.signals.append((entity_id.key, operation, input_))
        operate(self.states, entity_id.key, operation, input_)


@pytest.mark.parametrize(("round_trip_ms", "released"), [(50, 0), (200, 2)])
def test_a_held_caller_that_cannot_make_its_slot_takes_a_later_one(configured, round_trip_ms, released):
    """With a lead (the activity holds its calls until the slot), the slots are precise; when the two reservations
    took so long that less than DISPATCH is left before the slot, both are given back and taken again further
    out (the round trip just seen plus the lead), so the call is not sent late into a window."""
    from ResourceBudget.pace import DISPATCH

    lead = timedelta(milliseconds=400)
    ctx = SlowContext({}, T0, timedelta(milliseconds=round_trip_ms))
    go = drive(wait_for_slots(ctx, [("src", "manage"), ("raised", "manage")], lead=lead), ctx)
    assert all(data["precise"] for _, data in ctx.calls)
    assert [op for _, op, _ in ctx.signals].count("release") == released
    assert go - ctx.current_utc_datetime >= DISPATCH  # awake early enough to send at the slot
    if released:
        first_pass = 2 * timedelta(milliseconds=round_trip_ms)
        assert go == T0 + first_pass + first_pass + lead  # from the wake: the round trip seen, then the lead
        assert sorted(ctx.states["src"]["manage"]) == [pacing.to_epoch(go)]  # the missed slot is free again
    else:
        assert go == T0 + lead
