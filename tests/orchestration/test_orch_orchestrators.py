"""The two orchestrator generators driven by a synchronous fake runtime with scripted activity results."""

from datetime import timedelta

import pytest
from fake_durable import Recorder, run_orchestrator, seconds_between

from CopyOrchestrator.child import copy_model_to_target
from CopyOrchestrator.parent import copy_model
from ferry.errors import FerryError
from ferry.orchestration.outcome import TargetCopyFailed
from ferry.orchestration.policy import CopyPolicy

FP = {"generation": "v3", "createdDateTime": "2026-01-01T00:00:00Z", "digest": "abc"}
OTHER_FP = {"generation": "v3", "createdDateTime": "2025-01-01T00:00:00Z", "digest": "zzz"}
POLICY = CopyPolicy(deadline_seconds=120, max_authorization_attempts=3, max_transient_retries=3)


def ok(value):
    return {"ok": True, "value": value}


def err(kind, code, retry_after=None, message="m", hint="h"):
    return {"ok": False, "error": FerryError(kind=kind, code=code, message=message, hint=hint,
                                             retry_after=retry_after).to_dict()}


def script(*results):
    """An activity whose successive calls return `results` (the last one repeats)."""
    items = list(results)

    def activity(_input):
        value = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(value, Exception):
            raise value
        return value
    return activity


def activities(**overrides):
    base = {
        "check_source_model": script(ok({"ready": True, "status": "ready", "fingerprint": FP,
                                         "description": "d", "tags": {"k": "v"}})),
        "authorize_and_start_copy": script(ok({"operationUrl": "http://127.0.0.1/op/1", "targetModelId": "m1"})),
        "poll_copy": script(ok({"status": "running"}), ok({"status": "succeeded", "targetModelId": "m1"})),
        "get_target_model": script(ok({"exists": True, "status": "ready", "fingerprint": FP})),
        "delete_target_model": script(ok({"deleted": True})),
        "list_target_copies": script(ok({"ready": [], "creating": []})),
    }
    base.update(overrides)
    return base


def child_input(**extra):
    data = {"modelId": "m1", "source": "east", "target": "west", "targetModelId": "m1", "apiVersion": "2024-11-30",
            "degrade": False, "policy": POLICY.to_dict()}
    data.update(extra)
    return data


def run_child(acts, **extra):
    return run_orchestrator(copy_model_to_target, child_input(**extra), activities=acts, instance_id="p:west")


def names(rec):
    return [name for name, _ in rec.activities]


def stages(rec, instance="p:west"):
    out = []
    for status in rec.statuses[instance]:
        if not out or out[-1] != status["stage"]:
            out.append(status["stage"])
    return out


def test_happy_path_polls_on_timers_and_verifies():
    result, rec = run_child(activities())
    assert result["status"] == "succeeded" and result["targetModelId"] == "m1" and result["error"] is None
    assert names(rec) == ["check_source_model", "authorize_and_start_copy", "poll_copy", "poll_copy",
                          "get_target_model"]
    assert stages(rec) == ["checking", "authorizing", "copying", "polling", "verifying", "succeeded"]
    first_set, first_fire = rec.timers[0][1], rec.timers[0][2]
    assert seconds_between(first_set, first_fire) == pytest.approx(1.0)
    assert seconds_between(rec.timers[1][1], rec.timers[1][2]) == pytest.approx(POLICY.poll_backoff_factor)
    start = dict(rec.activities)["authorize_and_start_copy"]
    assert start["description"] == "d" and start["tags"] == {"k": "v"} and start["degrade"] is False
    assert dict(rec.activities)["poll_copy"]["targetModelId"] == "m1"


def test_throttled_start_waits_retry_after_on_a_durable_timer():
    acts = activities(authorize_and_start_copy=script(
        err("throttled", "429", retry_after=7),
        ok({"operationUrl": "http://127.0.0.1/op/1", "targetModelId": "m1"})))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and result["attempts"] == 1
    assert 7.0 <= seconds_between(rec.timers[0][1], rec.timers[0][2]) <= 8.0  # Retry-After + a little jitter
    assert names(rec).count("authorize_and_start_copy") == 2


def test_a_long_run_of_429s_waits_retry_after_each_time_and_is_not_a_transient_failure():
    throttled = [err("throttled", "429", retry_after=1) for _ in range(3 * POLICY.max_transient_retries)]
    acts = activities(poll_copy=script(*throttled, err("transient", "503"),
                                       ok({"status": "succeeded", "targetModelId": "m1"})))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded"
    waits = [seconds_between(a, b) for _, a, b in rec.timers][1:]  # after the first poll delay
    assert len(waits) == len(throttled) + 1
    assert all(1.0 <= w <= 1.2 for w in waits[:-1]) and waits[-1] == 2.0  # 429s, then the first transient backoff


def test_429s_are_bounded_by_the_copy_deadline():
    acts = activities(authorize_and_start_copy=script(err("throttled", "429", retry_after=30)))
    rec = Recorder()
    with pytest.raises(TargetCopyFailed) as info:
        run_orchestrator(copy_model_to_target, child_input(), activities=acts, instance_id="p:west", recorder=rec)
    assert info.value.result["error"]["code"] == "429"
    assert rec.timers and all(fire <= rec.timers[0][1] + timedelta(seconds=POLICY.deadline_seconds)
                              for _, _, fire in rec.timers)

def test_transient_poll_errors_are_retried_with_backoff():
    acts = activities(poll_copy=script(err("transient", "503"), err("transient", "503"),
                                       ok({"status": "succeeded", "targetModelId": "m1"})))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded"
    waits = [seconds_between(a, b) for _, a, b in rec.timers]
    assert waits == [1.0, 2.0, 5.0]


def test_retry_after_on_a_running_poll_is_honoured():
    acts = activities(poll_copy=script(ok({"status": "running", "retryAfter": 4}),
                                       ok({"status": "succeeded", "targetModelId": "m1"})))
    _, rec = run_child(acts)
    assert [seconds_between(a, b) for _, a, b in rec.timers] == [1.0, 4.0]


INVALID = ok({"exists": True, "status": "invalid", "fingerprint": None})
ABSENT = ok({"exists": False, "fingerprint": None})
READY = ok({"exists": True, "status": "ready", "fingerprint": FP})


def test_rejected_authorization_is_replaced_and_the_copy_reissued():
    acts = activities(poll_copy=script(
        ok({"status": "failed", "error": {"code": "2024", "message": "Could not retrieve authorization metadata",
                                          "kind": "authorization"}}),
        ok({"status": "succeeded", "targetModelId": "m1"})),
        get_target_model=script(ABSENT, READY))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and result["attempts"] == 2
    assert names(rec).count("authorize_and_start_copy") == 2 and "delete_target_model" not in names(rec)


def test_failed_copy_whose_model_is_already_on_the_target_counts_as_done():
    acts = activities(poll_copy=script(ok({"status": "failed", "error": {"code": "Conflict", "kind": "terminal"}})),
                      get_target_model=script(READY))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True
    assert "delete_target_model" not in names(rec)


def test_expired_authorization_on_the_copy_post_is_bounded():
    acts = activities(authorize_and_start_copy=script(err("authorization", "1002")))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    result = info.value.result
    assert result["error"]["code"] == "1002" and result["attempts"] == POLICY.max_authorization_attempts


def test_service_timeout_3013_cleans_up_the_invalid_model_and_reports():
    acts = activities(poll_copy=script(ok({"status": "failed", "error": {
        "code": "3013", "message": "Operation exceeded maximum processing time", "hint": "retry",
        "kind": "timeout"}})), get_target_model=script(INVALID))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    result = info.value.result
    assert result["error"]["code"] == "3013" and result["cleanedUp"] is True and result["status"] == "failed"
    # the hint says what happened: the invalid model is gone, nothing to delete
    assert "was removed" in result["error"]["hint"] and "may hold" not in result["error"]["hint"]
    assert "delete" not in result["error"]["hint"].lower()


def test_3013_whose_cleanup_failed_names_the_model_to_delete():
    acts = activities(poll_copy=script(ok({"status": "failed", "error": {
        "code": "3013", "message": "Operation exceeded maximum processing time", "hint": "retry",
        "kind": "timeout"}})), get_target_model=script(INVALID), delete_target_model=script(err("terminal", "403")))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    result = info.value.result
    assert result["cleanedUp"] is False and "'m1'" in result["error"]["hint"] and "delete it" in result["error"]["hint"]


def test_copy_that_never_finishes_is_abandoned_at_the_deadline_and_cleaned_up():
    rec = Recorder()
    acts = activities(poll_copy=script(ok({"status": "running"})),
                      get_target_model=script(ok({"exists": True, "status": "creating", "fingerprint": None})))
    with pytest.raises(TargetCopyFailed) as info:
        run_orchestrator(copy_model_to_target, child_input(), activities=acts, instance_id="p:west", recorder=rec)
    result = info.value.result
    assert result["error"]["code"] == "CopyDeadlineExceeded" and result["cleanedUp"] is True
    start = rec.timers[0][1]
    assert all(fire <= start + timedelta(seconds=POLICY.deadline_seconds) for _, _, fire in rec.timers)
    assert 120 <= result["durationSeconds"] <= 121
    assert rec.statuses["p:west"][-1]["stage"] == "failed"


def test_existing_copy_of_the_same_model_counts_as_done():
    acts = activities(authorize_and_start_copy=script(err("model_exists", "Conflict")))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True
    assert "poll_copy" not in names(rec)


def test_existing_different_model_is_a_clear_error_and_is_not_deleted():
    acts = activities(authorize_and_start_copy=script(err("model_exists", "Conflict")),
                      get_target_model=script(ok({"exists": True, "status": "ready", "fingerprint": OTHER_FP})))
    rec = Recorder()
    with pytest.raises(TargetCopyFailed) as info:
        run_orchestrator(copy_model_to_target, child_input(), activities=acts, instance_id="p:west", recorder=rec)
    assert info.value.result["error"]["code"] == "TargetModelExists"
    assert "delete_target_model" not in names(rec)


def test_invalid_leftover_is_deleted_and_the_copy_reauthorized():
    acts = activities(
        authorize_and_start_copy=script(err("model_exists", "Conflict"),
                                        ok({"operationUrl": "http://127.0.0.1/op/2", "targetModelId": "m1"})),
        get_target_model=script(ok({"exists": True, "status": "invalid", "fingerprint": FP}),
                                ok({"exists": True, "status": "ready", "fingerprint": FP})))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and result["attempts"] == 2 and "delete_target_model" in names(rec)


@pytest.mark.parametrize("kind, code", [("degrade_required", "DataProtectionTransformServiceError"),
                                        ("unauthorized", "401"), ("quota", "QuotaExceeded")])
def test_terminal_errors_are_reported_with_code_and_hint_without_cleanup(kind, code):
    acts = activities(authorize_and_start_copy=script(err(kind, code, hint="do this")))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    assert info.value.result["error"] == {"code": code, "message": "m", "hint": "do this"}


def test_source_still_training_is_waited_for_a_while():
    ready = ok({"ready": True, "status": "ready", "fingerprint": FP})
    acts = activities(check_source_model=script(ok({"ready": False, "status": "creating"}), ready))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and names(rec).count("check_source_model") == 2
    assert seconds_between(rec.timers[0][1], rec.timers[0][2]) == POLICY.poll_initial_seconds


def test_source_not_ready_and_missing():
    acts = activities(check_source_model=script(ok({"ready": False, "status": "creating", "fingerprint": FP})))
    rec = Recorder()
    with pytest.raises(TargetCopyFailed) as info:
        run_orchestrator(copy_model_to_target, child_input(), activities=acts, instance_id="p:west", recorder=rec)
    assert info.value.result["error"]["code"] == "SourceModelNotReady"
    # waited at the polling pace for the whole copy deadline, not for a fixed number of tries
    assert seconds_between(rec.timers[0][1], rec.timers[-1][2]) == pytest.approx(POLICY.deadline_seconds)
    acts = activities(check_source_model=script(err("not_found", "ModelNotFound")))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    assert info.value.result["error"]["code"] == "ModelNotFound"


def test_a_bug_in_an_activity_still_ends_failed_with_a_readable_result():
    acts = activities(poll_copy=script(RuntimeError("boom")))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    assert info.value.result["error"]["code"] == "InternalError" and "boom" in info.value.result["error"]["message"]


def test_v2_gets_a_new_service_assigned_id_after_reauthorization():
    acts = activities(
        authorize_and_start_copy=script(ok({"operationUrl": "http://x/op/1", "targetModelId": "g1"}),
                                        ok({"operationUrl": "http://x/op/2", "targetModelId": "g2"})),
        poll_copy=script(ok({"status": "failed", "error": {"code": "2024", "kind": "authorization"}}),
                         ok({"status": "succeeded", "targetModelId": "g2"})),
        get_target_model=script(INVALID, READY))
    result, rec = run_child(acts, targetModelId=None, apiVersion="v2.1")
    assert result["targetModelId"] == "g2"
    starts = [inp for name, inp in rec.activities if name == "authorize_and_start_copy"]
    assert [s["targetModelId"] for s in starts] == [None, None]
    deletes = [inp["targetModelId"] for name, inp in rec.activities if name == "delete_target_model"]
    assert deletes == ["g1"]


# ------------------------------------------------------------------------------------------------ parent

def plan(targets=("west", "north", "south"), parallel=2):
    return ok({"request": {"modelId": "m1", "source": "east", "targets": list(targets)},
               "sourceApiVersion": "2024-11-30",
               "targets": [{"alias": t, "apiVersion": "2024-11-30", "targetModelId": "m1", "degrade": t == "north"}
                           for t in targets],
               "policy": CopyPolicy(max_parallel_targets=parallel).to_dict()})


def test_parent_fans_out_with_deterministic_ids_and_collects_partial_results():
    def start(inp):
        if inp["target"] == "north":
            return err("degrade_required", "DataProtectionTransformServiceError", hint="set FERRY_ALLOW_CMK_DEGRADE")
        return ok({"operationUrl": "http://127.0.0.1/op", "targetModelId": "m1"})

    acts = activities(plan_copy=script(plan()), authorize_and_start_copy=start)
    output, rec = run_orchestrator(copy_model, {"modelId": "m1"}, activities=acts,
                                   orchestrators={"copy_model_to_target": copy_model_to_target},
                                   instance_id="copy-m1-abc")
    assert [c[1] for c in rec.children] == ["copy-m1-abc:west", "copy-m1-abc:north", "copy-m1-abc:south"]
    assert [c[2]["degrade"] for c in rec.children] == [False, True, False]
    assert output["status"] == "partial" and output["modelId"] == "m1" and output["source"] == "east"
    assert output["targets"]["west"]["status"] == "succeeded"
    assert output["targets"]["north"]["error"] == {"code": "DataProtectionTransformServiceError", "message": "m",
                                                   "hint": "set FERRY_ALLOW_CMK_DEGRADE"}
    final = rec.statuses["copy-m1-abc"][-1]
    assert final["targets"]["north"]["stage"] == "failed" and final["targets"]["west"]["stage"] == "succeeded"
    first = rec.statuses["copy-m1-abc"][0]
    assert first["targets"]["south"]["stage"] == "queued"  # parallelism 2: the third waits
    assert first["targets"]["west"]["stage"] == "copying"


def test_parent_reports_a_rejected_request():
    acts = activities(plan_copy=script(err("terminal", "UnknownAlias", message="target 'moon' is not configured")))
    output, _ = run_orchestrator(copy_model, {"modelId": "m1", "targets": ["moon"]}, activities=acts)
    assert output["status"] == "failed" and output["targets"] == {}
    assert output["error"]["code"] == "UnknownAlias"


def test_lost_copy_answer_waits_for_the_running_copy_instead_of_failing():
    # transient failure of the copy POST (answer lost, copy started) → re-authorize answers 409 while it runs
    acts = activities(
        authorize_and_start_copy=script(err("transient", "ConnectionError"), err("model_exists", "Conflict"),
                                        err("model_exists", "Conflict"), err("model_exists", "Conflict")),
        get_target_model=script(ok({"exists": False}), ok({"exists": False}),
                                ok({"exists": True, "status": "ready", "fingerprint": FP})))
    result, rec = run_child(acts)
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True and result["attempts"] == 1
    assert "poll_copy" not in names(rec)


def test_target_id_busy_until_the_deadline_is_reported():
    acts = activities(authorize_and_start_copy=script(err("model_exists", "Conflict")),
                      get_target_model=script(ok({"exists": False})))
    with pytest.raises(TargetCopyFailed) as info:
        run_child(acts)
    assert info.value.result["error"]["code"] == "TargetModelIdBusy"


def test_registered_orchestrators_run_under_the_sdk_generator_wrapper():
    """The functions the blueprint registers (not only the bodies), driven by the SDK's own test helper."""
    from azure.durable_functions.testing import orchestrator_generator_wrapper
    from fake_durable import FakeContext

    import CopyOrchestrator

    registered = CopyOrchestrator.copy_model_to_target.build().get_user_function().orchestrator_function
    rec = Recorder()
    ctx = FakeContext("p:west", child_input(), rec, activities(), {})
    steps = list(orchestrator_generator_wrapper(registered(ctx)))
    result = steps[-1]
    assert result["status"] == "succeeded" and result["targetModelId"] == "m1"
    assert [t.kind for t in steps[:-1]].count("timer") == 2
    trigger = CopyOrchestrator.copy_model.build().get_trigger()
    assert trigger.get_binding_name() == "orchestrationTrigger" and trigger.name == "context"
