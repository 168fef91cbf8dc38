"""The copy child waits for its resources' budgets before each rate-limited call (fake durable runtime)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orchestration"))

import pytest
from fake_durable import Recorder, run_orchestrator

from CopyOrchestrator.child import copy_model_to_target
from ferry.orchestration import pacing
from ferry.orchestration.outcome import TargetCopyFailed
from ferry.orchestration.policy import CopyPolicy

FP = {"generation": "v3", "createdDateTime": "2026-01-01T00:00:00Z", "digest": "abc"}
POLICY = CopyPolicy(deadline_seconds=120)
LEAD = timedelta(milliseconds=POLICY.pacing_lead_ms)  # FERRY_PACING_LEAD_MS, frozen in the policy


def ok(value):
    return {"ok": True, "value": value}


def child_input():
    return {"modelId": "m1", "source": "east", "target": "west", "targetModelId": "m1", "apiVersion": "2024-11-30",
            "degrade": False, "policy": POLICY.to_dict()}


def activities(rec: Recorder, calls: list, **overrides):
    def at(name, value):
        def activity(input_):
            calls.append((name, rec.now, input_))
            return value() if callable(value) else value
        return activity

    base = {
        "check_source_model": ok({"ready": True, "status": "ready", "fingerprint": FP}),
        "authorize_and_start_copy": ok({"operationUrl": "http://127.0.0.1/op/1", "targetModelId": "m1"}),
        "poll_copy": ok({"status": "succeeded", "targetModelId": "m1"}),
        "get_target_model": ok({"exists": True, "status": "ready", "fingerprint": FP}),
        "delete_target_model": ok({"deleted": True}),
    }
    base.update(overrides)
    return {name: at(name, value) for name, value in base.items()}


def budgets(rates: dict[str, float], queued: dict[str, int]):
    """Entity answers from the real slot math, each (alias, group) budget with `queued` slots already taken."""
    states: dict[str, dict] = {}

    def on_entity(name, key, operation, data):
        assert name == "resource_budget"
        state = states.setdefault(key, {})
        if operation == "release":
            states[key] = pacing.release(state, data["group"], data["slot"])
            return None
        group = data["group"]
        if group not in state and queued.get(f"{key}/{group}"):
            for _ in range(queued[f"{key}/{group}"]):  # copies already waiting, from the caller's first `at`
                _, state = pacing.reserve(state, group, data["at"], rates[group], precise=True)
        granted, states[key] = pacing.reserve(state, group, data["at"], rates[group], now=data.get("now"),
                                              precise=bool(data.get("precise")))
        return granted.to_dict()

    return on_entity


def test_every_call_with_a_rate_budget_reserves_it_first():
    rec = Recorder()
    rec.on_entity = budgets({"manage": 5, "get": 50}, {})
    calls: list = []
    result, rec = run_orchestrator(copy_model_to_target, child_input(), activities=activities(rec, calls),
                                   instance_id="p:west", recorder=rec)
    assert result["status"] == "succeeded"
    reserved = [(key, data["group"]) for name, key, op, data in rec.entities if op == "reserve"]
    assert reserved == [("east", "get"), ("east", "manage"), ("west", "manage")]
    _, woken, sent = next(c for c in calls if c[0] == "authorize_and_start_copy")
    # an idle budget: no timer; the slot is the lead ahead, and the activity holds its calls until then
    assert datetime.fromisoformat(sent["notBefore"]) == woken + LEAD
    # the copy's calls are held to their slot (precise); the source check's get is not (loose)
    assert [data.get("precise") for _, _, op, data in rec.entities if op == "reserve"] == [False, True, True]
    assert len(rec.timers) == 1  # the poll's, none for pacing


def test_a_busy_source_budget_holds_the_copy_until_its_slot():
    rec = Recorder()
    rec.on_entity = budgets({"manage": 5, "get": 50}, {"east/manage": 10})
    calls: list = []
    start = rec.now
    result, rec = run_orchestrator(copy_model_to_target, child_input(), activities=activities(rec, calls),
                                   instance_id="p:west", recorder=rec)
    assert result["status"] == "succeeded"
    _, woken, sent = next(c for c in calls if c[0] == "authorize_and_start_copy")
    slot = datetime.fromisoformat(sent["notBefore"])
    # ten copies wait before it: two full windows of five, so it goes with the third
    assert slot - start >= timedelta(seconds=pacing.slots_needed_seconds(11, 5) + POLICY.pacing_lead_ms / 1000
                                     - 1e-3)
    assert slot - woken == LEAD  # woken a little early; the activity holds the calls until the slot
    # the target's slot was taken for the same instant (no release needed: the target was idle)
    reserves = [data for _, key, op, data in rec.entities if op == "reserve" and key == "west"]
    assert reserves[0]["at"] == sent["notBefore"]
    assert [op for _, _, op, _ in rec.entities].count("release") == 0


def test_a_busy_target_moves_the_source_slot_too():
    rec = Recorder()
    rec.on_entity = budgets({"manage": 5, "get": 50}, {"west/manage": 5})  # west's window is full
    calls: list = []
    result, rec = run_orchestrator(copy_model_to_target, child_input(), activities=activities(rec, calls),
                                   instance_id="p:west", recorder=rec)
    assert result["status"] == "succeeded"
    manage = [(key, op, data) for _, key, op, data in rec.entities if data.get("group") == "manage"]
    # east granted at once, west only later: east's slot is given back and taken again at west's instant
    assert [(key, op) for key, op, _ in manage] == [("east", "reserve"), ("west", "reserve"), ("east", "release"),
                                                    ("east", "reserve")]
    sent = next(c[2] for c in calls if c[0] == "authorize_and_start_copy")
    assert manage[-1][2]["at"] == sent["notBefore"]


def test_a_cleanup_delete_waits_for_the_targets_budget():
    rec = Recorder()
    calls: list = []
    failed_copy = ok({"status": "failed", "error": {"kind": "timeout", "code": "3013", "message": "m", "hint": "h"}})
    leftover = ok({"exists": True, "status": "invalid", "fingerprint": FP})
    acts = activities(rec, calls, poll_copy=failed_copy, get_target_model=leftover)
    with pytest.raises(TargetCopyFailed) as failed:
        run_orchestrator(copy_model_to_target, child_input(), activities=acts, instance_id="p:west", recorder=rec)
    assert failed.value.result["cleanedUp"] is True
    assert "delete_target_model" in [c[0] for c in calls]
    reserved = [(key, data["group"]) for _, key, op, data in rec.entities if op == "reserve"]
    assert reserved[-1] == ("west", "manage")


def test_sync_prunes_and_stale_deletes_wait_for_the_targets_budget():
    """The sync's own model-management calls (prune, delete of a stale replica) share the target's budget."""
    from SyncOrchestrator.chunk import sync_lane

    rec = Recorder()
    rec.on_entity = budgets({"manage": 5, "get": 50}, {"west/manage": 5})  # west's first window is full
    calls: list = []
    acts = activities(rec, calls, sync_prune=ok({}),
                      check_source_model=ok({"ready": True, "status": "ready", "fingerprint": FP}))
    rows = [{"id": "gone", "kind": "model", "target": "west", "action": "prune"},
            {"id": "m1", "kind": "model", "target": "west", "action": "stale"}]
    data = {"source": "east", "rows": rows, "policy": POLICY.to_dict(),
            "targets": {"west": {"apiVersion": "2024-11-30", "degrade": False}}}
    start = rec.now
    out, rec = run_orchestrator(sync_lane, data, activities=acts, orchestrators={
        "copy_model_to_target": copy_model_to_target}, instance_id="s:c0000", recorder=rec)
    assert [item["result"] for item in out["items"]] == ["pruned", "replaced"]
    reserved = [(key, data["group"]) for _, key, op, data in rec.entities if op == "reserve"]
    assert reserved[:3] == [("west", "manage"), ("east", "get"), ("west", "manage")]
    when = {c[0]: c[1] for c in reversed(calls)}  # the first call of each activity
    assert when["sync_prune"] - start >= timedelta(seconds=pacing.window(5)[1] - 1e-3)
    assert when["delete_target_model"] - when["sync_prune"] >= timedelta(seconds=pacing.interval(5) - 1e-3)


def test_a_missed_slot_takes_a_new_one_without_a_retry_or_a_lost_answer_check():
    """The activity started too late and sent nothing: the child reserves again at once (no backoff timer), does
    not look for a copy that might have landed (none was sent) and does not count a retry."""
    rec = Recorder()
    rec.on_entity = budgets({"manage": 5, "get": 50}, {})
    calls: list = []
    answers = iter([
        {"ok": False, "error": {"kind": "missed_slot", "code": "MissedRateSlot", "message": "late", "hint": "h"}},
        ok({"operationUrl": "http://127.0.0.1/op/1", "targetModelId": "m1"})])
    acts = activities(rec, calls, authorize_and_start_copy=lambda: next(answers))
    result, rec = run_orchestrator(copy_model_to_target, child_input(), activities=acts, instance_id="p:west",
                                   recorder=rec)
    assert result["status"] == "succeeded" and result.get("retries", 0) == 0
    sent = [c for c in calls if c[0] == "authorize_and_start_copy"]
    assert len(sent) == 2 and all(c[2]["notBefore"] for c in sent)  # each with a slot of its own reservation
    manage = [(key, op) for _, key, op, data in rec.entities if data.get("group") == "manage"]
    assert manage == [("east", "reserve"), ("west", "reserve")] * 2
    assert "get_target_model" not in [c[0] for c in calls[:3]]  # no lost-answer look before the second try
    assert len(rec.timers) == 1  # the poll's only
