"""`copy_model`'s relays, asked again (fake durable runtime, scripted budget answers): when the first copy is due to
leave the source, a source booked less than FERRY_COPY_RELAY_BACKLOG_SECONDS ahead sends the held copies itself;
when the first copy is done, the less busy of the source and the first target sends them. Plans frozen by older
builds replay without either question."""

from __future__ import annotations

from typing import Any

from fake_durable import Recorder, run_orchestrator, seconds_between
from test_orch_orchestrators import activities, ok, script

from CopyOrchestrator.child import copy_model_to_target
from CopyOrchestrator.parent import copy_model
from ferry.orchestration.policy import CopyPolicy

TARGETS = ("west", "north")


def relay_plan(*, recheck: bool = True, relay_after: float = 2.0) -> dict[str, Any]:
    value = {"request": {"modelId": "m1", "source": "east", "targets": list(TARGETS)},
             "sourceApiVersion": "2024-11-30",
             "targets": [{"alias": t, "apiVersion": "2024-11-30", "targetModelId": "m1", "degrade": False}
                         for t in TARGETS],
             "policy": CopyPolicy(max_parallel_targets=4).to_dict(),
             "relayPeers": list(TARGETS), "relayBacklogSeconds": relay_after}
    if recheck:
        value["relayRecheck"] = True
    return ok(value)


def budget(*, booked: float, rechecks: list[dict[str, Any]], first_target_booked: float = 0.0):
    """The source's budget decides to relay (booked `booked` s ahead); `recheck` answers come from `rechecks`."""
    answers = list(rechecks)

    def on_entity(name: str, key: str, operation: str, data: Any) -> Any:
        assert name == "resource_budget"
        if operation == "reserve":  # idle budgets: the slot is the caller's `at`
            return {"group": data["group"], "slot": data["at"], "waitSeconds": 0.0}
        if operation == "route":
            return {"relay": True, "backlogSeconds": booked, "turn": 0}
        if operation == "backlog":
            return {"backlogSeconds": first_target_booked}
        if operation == "recheck":
            return answers.pop(0)
        raise AssertionError(f"unexpected {operation} on {key}")

    return on_entity


def run(plan: dict[str, Any], on_entity: Any) -> tuple[dict[str, Any], Recorder]:
    rec = Recorder()
    rec.on_entity = on_entity
    # each child's copy takes two polls (about two seconds of the fake clock)
    acts = activities(plan_copy=script(plan))
    return run_orchestrator(copy_model, {"modelId": "m1"}, activities=acts,
                            orchestrators={"copy_model_to_target": copy_model_to_target},
                            instance_id="copy-m1", recorder=rec)


def sources(rec: Recorder) -> dict[str, tuple[str, str | None]]:
    """target → (the resource its child copies from, the origin its provenance names)."""
    return {inp["target"]: (inp["source"], inp.get("origin")) for _, _, inp in rec.children}


def questions(rec: Recorder) -> list[tuple[str, str, Any]]:
    return [(key, op, data) for _, key, op, data in rec.entities if op in ("route", "backlog", "recheck")]


def test_a_source_no_longer_busy_when_the_first_copy_leaves_sends_the_held_copies_itself():
    output, rec = run(relay_plan(), budget(booked=0.5, rechecks=[{"direct": True, "backlogSeconds": 0.2}]))
    assert output["status"] == "succeeded"
    assert sources(rec) == {"west": ("east", None), "north": ("east", None)}
    assert not any(r.get("via") for r in output["targets"].values())
    asked = questions(rec)
    assert [(key, op) for key, op, _ in asked] == [("east", "route"), ("east", "recheck")]
    recheck = asked[1][2]
    assert recheck["calls"] == 1 and recheck["than"] == 2.0  # as a copy arriving then would find the source
    # asked when the first copy was due to leave: the route's backlog after the decision
    timers = [fire for instance, _, fire in rec.timers if instance == "copy-m1"]
    assert seconds_between(rec.timers[0][1], timers[0]) == 0.5
    assert rec.statuses["copy-m1"][-1]["targets"]["north"].get("via") is None


def test_a_relay_still_busy_at_its_turn_goes_from_the_less_busy_holder_once_its_first_copy_is_done():
    output, rec = run(relay_plan(), budget(booked=0.5, first_target_booked=3.0,
                                           rechecks=[{"direct": False, "backlogSeconds": 2.5},
                                                     {"direct": True, "backlogSeconds": 1.0}]))
    assert output["status"] == "succeeded"
    assert sources(rec) == {"west": ("east", None), "north": ("east", None)}
    asked = questions(rec)
    assert [(key, op) for key, op, _ in asked] == [("east", "route"), ("east", "recheck"), ("west", "backlog"),
                                                   ("east", "recheck")]
    assert asked[3][2]["than"] == 3.0  # the first target's backlog
    # the held copy started only after the first copy was done
    names = [instance for _, instance, _ in rec.children]
    assert names == ["copy-m1:west", "copy-m1:north"]


def test_a_relay_the_source_cannot_take_goes_from_the_first_target():
    output, rec = run(relay_plan(), budget(booked=5.0, rechecks=[{"direct": False, "backlogSeconds": 0.0}]))
    assert output["status"] == "succeeded"
    # the first copy (about two seconds) was done before its turn on the source came: one question, at the end
    assert [(key, op) for key, op, _ in questions(rec)] == [("east", "route"), ("west", "backlog"),
                                                            ("east", "recheck")]
    assert sources(rec) == {"west": ("east", None), "north": ("west", "east")}
    assert output["targets"]["north"]["via"] == "west"
    due = [t for t in rec.timers if t[0] == "copy-m1" and seconds_between(t[1], t[2]) == 5.0]
    assert due, "the relay's turn on the source was timed"


def test_a_plan_frozen_before_rechecks_relays_without_asking_again():
    """A parent started by an older build replays its history: no timer, no entity call it did not make."""
    output, rec = run(relay_plan(recheck=False), budget(booked=0.5, rechecks=[]))
    assert [(key, op) for key, op, _ in questions(rec)] == [("east", "route")]
    assert not [t for t in rec.timers if t[0] == "copy-m1"]
    assert sources(rec) == {"west": ("east", None), "north": ("west", "east")}
    assert output["targets"]["north"]["via"] == "west"


def test_relays_always_on_ask_only_once_the_first_copy_is_done():
    """FERRY_COPY_RELAY_BACKLOG_SECONDS=0: the source is never booked less than that, so no timer; the less busy
    holder still sends the held copies."""
    output, rec = run(relay_plan(relay_after=0.0), budget(booked=0.0, first_target_booked=0.0,
                                                          rechecks=[{"direct": False, "backlogSeconds": 0.0}]))
    assert not [t for t in rec.timers if t[0] == "copy-m1"]
    assert [(key, op) for key, op, _ in questions(rec)] == [("east", "route"), ("west", "backlog"),
                                                            ("east", "recheck")]
    assert output["targets"]["north"]["via"] == "west"
