"""Recovery decisions, custom-status size, per-target results and the child-failure marker."""

import json

import pytest

from ferry.errors import FerryError
from ferry.orchestration import outcome, progress, recovery
from ferry.orchestration.policy import CopyPolicy

POLICY = CopyPolicy(max_authorization_attempts=3, max_transient_retries=2)


def err(kind, code="X", retry_after=None):
    return FerryError(kind=kind, code=code, message="m", hint="h", retry_after=retry_after)


def delay(error, retries=0):
    return recovery.retry_delay(error, recovery.Retries(transient=retries), POLICY, seed="copy-x:west")


def decide(error, attempts=1):
    return recovery.after_failed_start(error, authorization_attempts=attempts, policy=POLICY)


def test_throttling_waits_retry_after_plus_jitter_and_never_uses_the_transient_budget():
    retries = recovery.Retries(transient=POLICY.max_transient_retries)
    waits = [recovery.retry_delay(err("throttled", "429", retry_after=2), retries, POLICY, seed="copy-x:west")
             for _ in range(50)]
    assert all(w is not None and 2 <= w <= 2.4 for w in waits)  # Retry-After + at most a fifth of it
    assert len(set(waits)) > 40  # jittered per retry...
    again = recovery.Retries(transient=POLICY.max_transient_retries)
    assert waits == [recovery.retry_delay(err("throttled", "429", retry_after=2), again, POLICY, seed="copy-x:west")
                     for _ in range(50)]  # ...and the same on replay
    assert retries.throttled == 50 and retries.transient == POLICY.max_transient_retries
    assert 20 <= delay(err("throttled", "429", retry_after=20)) <= 21  # jitter at most 1 s
    assert 1 <= delay(err("throttled", "429", retry_after=0)) <= 1.2  # never a busy loop


def test_transient_failures_back_off_within_their_budget():
    assert delay(err("transient", "503")) == 2
    assert delay(err("transient", "503"), retries=2) is None
    assert delay(err("not_ready", "ModelNotReady")) == 2
    assert delay(err("authorization", "1002")) is None


def test_rejected_authorization_is_replaced_a_bounded_number_of_times():
    assert decide(err("authorization", "1002"), attempts=2) is recovery.Next.REAUTHORIZE
    assert decide(err("authorization", "1002"), attempts=3) is recovery.Next.FAIL


def test_existing_target_model_is_checked_and_terminal_errors_fail():
    assert decide(err("model_exists", "Conflict")) is recovery.Next.CHECK_EXISTING
    for kind in ("not_found", "unauthorized", "degrade_required", "quota", "terminal"):
        assert decide(err(kind)) is recovery.Next.FAIL, kind


def test_failed_copy_operations():
    auth = FerryError(kind="authorization", code="2024", message="Could not retrieve authorization metadata",
                      hint="h")
    assert recovery.after_failed_copy(auth, authorization_attempts=1, policy=POLICY) is recovery.Next.REAUTHORIZE
    assert recovery.after_failed_copy(auth, authorization_attempts=3,
                                      policy=POLICY) is recovery.Next.CLEANUP_AND_FAIL
    timeout = FerryError(kind="timeout", code="3013", message="Operation exceeded maximum processing time",
                         hint="h")
    assert recovery.after_failed_copy(timeout, authorization_attempts=1,
                                      policy=POLICY) is recovery.Next.CLEANUP_AND_FAIL


def test_public_error_keeps_only_code_message_hint():
    public = recovery.public_error(err("terminal", "1002"))
    assert set(public) == {"code", "message", "hint"} and public["code"] == "1002"


def test_custom_status_stays_well_under_16kb_even_with_many_targets_and_long_errors():
    targets = {f"target-{i:03d}": progress.parent_target_entry(
        stage="failed", instance_id="copy-" + "x" * 60 + f":target-{i:03d}", attempts=3,
        target_model_id="m" * 64, error_code="DataProtectionTransformServiceError") for i in range(200)}
    status = progress.parent_status(model_id="m1", source="east", targets=targets)
    text = json.dumps(status)
    assert len(text) <= progress.MAX_STATUS_CHARS and status["truncated"]
    assert status["targetCounts"] == {"failed": 200}
    child = progress.child_status(target="west", stage="failed", attempts=1, target_model_id="m1",
                                  error={"code": "1002", "message": "x" * 20000})
    assert len(json.dumps(child)) < 1000


def test_small_statuses_are_untouched():
    entry = progress.parent_target_entry(stage="copying", instance_id="p:west")
    status = progress.parent_status(model_id="m1", source="east", targets={"west": entry})
    assert status == {"modelId": "m1", "source": "east", "stage": "copying",
                      "targets": {"west": {"stage": "copying", "instanceId": "p:west"}}}


def test_child_failure_carries_its_result_through_the_exception_text():
    result = outcome.target_result(target="west", status="failed", target_model_id="m1", attempts=2,
                                   error=FerryError(kind="timeout", code="3013", message="too slow", hint="retry"),
                                   cleaned_up=True)
    exc = outcome.TargetCopyFailed(result)
    # what the parent sees: the orchestrator failure wrapped by the host with extra text around it
    wrapped = Exception(f"Orchestrator function 'copy_model_to_target' failed: {exc} \n Traceback ...")
    back = outcome.result_from_child_failure(wrapped, "west")
    assert back["error"] == {"code": "3013", "message": "too slow", "hint": "retry"}
    assert back["cleanedUp"] is True and back["attempts"] == 2


def test_unparseable_child_failure_is_still_reported():
    back = outcome.result_from_child_failure(Exception("boom\nstack"), "west")
    assert back["status"] == "failed" and back["error"]["code"] == "TargetOrchestrationFailed"
    assert "boom" in back["error"]["message"]


@pytest.mark.parametrize("statuses, expected", [
    (["succeeded", "succeeded"], "succeeded"), (["succeeded", "failed"], "partial"),
    (["failed", "failed"], "failed"), ([], "failed"),
])
def test_aggregate_status(statuses, expected):
    results = {f"t{i}": {"status": s} for i, s in enumerate(statuses)}
    assert outcome.aggregate_status(results) == expected


def test_parent_output_shape():
    ok = outcome.target_result(target="b", status="succeeded", target_model_id="m1", error=None, attempts=1,
                               duration_seconds=3.21)
    bad = outcome.target_result(target="a", status="failed", target_model_id=None, attempts=1,
                                error=FerryError(kind="unauthorized", code="401", message="denied", hint="fix key"))
    out = outcome.parent_output(model_id="m1", source="east", results={"b": ok, "a": bad})
    assert out["status"] == "partial" and list(out["targets"]) == ["a", "b"]
    assert out["targets"]["a"]["error"] == {"code": "401", "message": "denied", "hint": "fix key"}
    assert out["targets"]["b"] == {"status": "succeeded", "targetModelId": "m1", "error": None, "attempts": 1,
                                   "durationSeconds": 3.21}
    rejected = outcome.parent_output(model_id="m1", source=None, results={},
                                     error=FerryError(kind="invalid_request", code="UnknownAlias", message="no",
                                                      hint="h"))
    assert rejected["status"] == "failed" and rejected["error"]["code"] == "UnknownAlias"
