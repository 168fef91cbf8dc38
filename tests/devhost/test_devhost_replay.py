"""The host-side replayer on hand-built histories: id allocation, retries, non-determinism explanations, and
an engine whose ids disagree with the SDK failing loudly instead of hanging."""

from __future__ import annotations

import json

import pytest

from devhost.engine import NonDeterminismError
from devhost.engine import history as h
from devhost.engine.clock import iso_z
from devhost.engine.replay import Replayer

T0 = 1_700_000_000.0


def act(name, value=1):
    return {"actionType": 0, "functionName": name, "input": json.dumps(value)}


def start(*extra):
    return [h.orchestrator_started(T0),
            h.execution_started(T0, instance_id="i", execution_id="e", name="o", input_text=None), *extra]


def test_new_work_takes_sequential_ids_and_whenall_children_in_order():
    actions = [act("a"), {"actionType": 12, "compoundActions": [act("b"), act("c"),
                                                                  {"actionType": 5, "fireAt": iso_z(T0 + 5),
                                                                   "isCanceled": False}]}]
    res = Replayer("i", actions).run(start(h.task_scheduled(T0, 0, "a", "1"), h.orchestrator_completed(T0),
                                           h.orchestrator_started(T0 + 1), h.task_completed(T0 + 1, 0, "2")))
    assert [(w.kind, w.id, w.name) for w in res.new_work] == [("activity", 1, "b"), ("activity", 2, "c"),
                                                              ("timer", 3, None)]
    assert res.blocked


def test_retry_allocates_timer_then_attempt_ids_while_replaying_failures():
    retry = {"actionType": 1, "functionName": "f", "input": "1",
             "retryOptions": {"firstRetryIntervalInMilliseconds": 2000, "maxNumberOfAttempts": 2}}
    hist = start(h.task_scheduled(T0, 0, "f", "1"), h.orchestrator_completed(T0),
                 h.orchestrator_started(T0 + 1), h.task_failed(T0 + 1, 0, "boom", "d"))
    res = Replayer("i", [retry]).run(hist)
    assert [(w.kind, w.id, w.fire_at) for w in res.new_work] == [("timer", 1, iso_z(T0 + 3))]
    hist += [h.timer_created(T0 + 1, 1, iso_z(T0 + 3)), h.orchestrator_completed(T0 + 1),
             h.orchestrator_started(T0 + 3), h.timer_fired(T0 + 3, 1, iso_z(T0 + 3))]
    res = Replayer("i", [retry]).run(hist)
    assert [(w.kind, w.id, w.name) for w in res.new_work] == [("activity", 2, "f")]
    hist += [h.task_scheduled(T0 + 3, 2, "f", "1"), h.orchestrator_completed(T0 + 3),
             h.orchestrator_started(T0 + 4), h.task_failed(T0 + 4, 2, "boom", "d")]
    res = Replayer("i", [retry]).run(hist)
    assert [(w.kind, w.id) for w in res.new_work] == [("timer", 3)]  # a timer even after the last attempt
    hist += [h.timer_created(T0 + 4, 3, iso_z(T0 + 6)), h.orchestrator_completed(T0 + 4),
             h.orchestrator_started(T0 + 6), h.timer_fired(T0 + 6, 3, iso_z(T0 + 6))]
    res = Replayer("i", [retry, act("next")]).run(hist)
    assert [(w.kind, w.id, w.name) for w in res.new_work] == [("activity", 4, "next")]


def test_changed_activity_name_is_explained():
    hist = start(h.task_scheduled(T0, 0, "old_step", "1"), h.orchestrator_completed(T0))
    with pytest.raises(NonDeterminismError) as err:
        Replayer("i", [act("new_step")]).run(hist)
    text = str(err.value)
    assert text.startswith("Non-Deterministic workflow detected:")
    assert "'old_step'" in text and "'new_step'" in text and "sequence id 0" in text


def test_scheduled_task_the_replay_does_not_reach_is_explained():
    hist = start(h.task_scheduled(T0, 0, "a", "1"), h.orchestrator_completed(T0))
    with pytest.raises(NonDeterminismError, match="has not scheduled any task with sequence id 0"):
        Replayer("i", []).run(hist)


def test_completion_for_an_unknown_id_fails_instead_of_hanging():
    hist = start(h.task_scheduled(T0, 0, "a", "1"), h.orchestrator_completed(T0),
                 h.orchestrator_started(T0 + 1), h.task_completed(T0 + 1, 7, "1"))
    with pytest.raises(NonDeterminismError, match="no task with that id"):
        Replayer("i", [act("a")]).run(hist)


def test_timer_replaced_by_activity_is_a_kind_mismatch():
    hist = start(h.timer_created(T0, 0, iso_z(T0 + 5)), h.orchestrator_completed(T0))
    with pytest.raises(NonDeterminismError, match="activity task 'a'"):
        Replayer("i", [act("a")]).run(hist)


def test_whenany_with_buffered_event_completes_and_cancelled_timer_is_still_recorded():
    actions = [{"actionType": 11, "compoundActions": [
        {"actionType": 6, "externalEventName": "go", "reason": "ExternalEvent"},
        {"actionType": 5, "fireAt": iso_z(T0 + 60), "isCanceled": True}]}, act("after")]
    hist = start(h.event_raised(T0, "go", '"x"'))
    res = Replayer("i", actions).run(hist)
    assert [(w.kind, w.id) for w in res.new_work] == [("timer", 0), ("activity", 1)]


def test_engine_with_wrong_ids_fails_the_instance_with_an_explanation(host, monkeypatch):
    """Simulate a host numbering bug (ids start at 1): the SDK would wait forever for id 0; the engine notices."""
    from devhost.engine import replay

    real_init = replay.Replayer.__init__

    def off_by_one(self, *a, **kw):
        real_init(self, *a, **kw)
        self.counter = 1

    monkeypatch.setattr(replay.Replayer, "__init__", off_by_one)
    iid = host.start_new("chain", 1)
    st = host.wait_for(iid, timeout=10)
    assert st["runtimeStatus"] == "Failed"
    assert "disagree about event ids" in st["output"]
