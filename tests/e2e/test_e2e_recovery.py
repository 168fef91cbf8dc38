"""Every recovery and error case, injected with the emulator's fault and copy-behaviour controls.

HTTP in (POST /api/copies), emulator state out (models on the targets, request log), on the shared virtual clock.
"""

from datetime import datetime

import pytest
from e2e_support import alias, requests_since, run_copy

V4 = "2024-11-30"
SRC, A, B = alias(V4, "src"), alias(V4, "a"), alias(V4, "b")


def ops(env, resource, operation, since=0):
    return requests_since(env, resource, operation, since)


def log_len(env, resource):
    return len(env.cloud.resource(resource).request_log())


def timer_waits(env, instance_id):
    """Seconds between each TimerCreated event and its FireAt, in the instance's history."""
    waits = []
    for event in env.host.history(instance_id):
        if event.get("EventType") == 10:
            created = datetime.fromisoformat(event["Timestamp"].replace("Z", "+00:00"))
            fire = datetime.fromisoformat(event["FireAt"].replace("Z", "+00:00"))
            waits.append((fire - created).total_seconds())
    return waits


def test_throttled_authorization_waits_retry_after_on_a_durable_timer(env):
    model_id = env.train(SRC, V4)
    env.cloud.resource(A).fail_next("authorizeCopy", 1, "429", retry_after=7)
    start = log_len(env, A)
    iid, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    assert out["status"] == "succeeded"
    assert [e["status"] for e in ops(env, A, "authorizeCopy", start)] == [429, 200]
    assert any(w >= 7 for w in timer_waits(env, f"{iid}:{A}"))


def test_a_long_run_of_429s_waits_retry_after_and_does_not_use_up_the_transient_retries(env):
    # more 429s in a row than FERRY_MAX_TRANSIENT_RETRIES (6), each asking for 1 s
    model_id = env.train(SRC, V4)
    start = log_len(env, SRC)
    env.cloud.resource(SRC).fail_next("getOperation", 10, "429", retry_after=1)
    iid, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    assert out["status"] == "succeeded" and out["targets"][A]["targetModelId"] == model_id
    statuses = [e["status"] for e in ops(env, SRC, "getOperation", start)]
    assert statuses[:10] == [429] * 10 and statuses[-1] == 200
    throttle_waits = timer_waits(env, f"{iid}:{A}")[1:11]
    assert all(1.0 <= w <= 1.2 for w in throttle_waits), throttle_waits  # Retry-After + a little jitter


def test_server_errors_while_polling_are_retried_with_backoff(env):
    model_id = env.train(SRC, V4)
    start = log_len(env, SRC)
    env.cloud.resource(SRC).fail_next("getOperation", 2, "5xx", status=500)
    iid, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    assert out["status"] == "succeeded" and out["targets"][A]["attempts"] == 1
    statuses = [e["status"] for e in ops(env, SRC, "getOperation", start)]
    assert statuses[:2] == [500, 500] and statuses[-1] == 200
    waits = timer_waits(env, f"{iid}:{A}")
    assert 2.0 in waits and 5.0 in waits  # the transient backoff (2 s, 5 s) on durable timers


def test_lost_answer_to_the_copy_post_does_not_copy_twice(env):
    model_id = env.train(SRC, V4)
    start = log_len(env, SRC)
    env.cloud.resource(SRC).fail_next("copy", 1, "drop")  # processed, then the connection is cut
    _, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    result = out["targets"][A]
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True
    # the emulator lets the same id be authorized again while the first copy runs, so a second copy may be
    # issued; it fails (the id is taken by then) and the failure is recognised as "already there"
    assert 1 <= len(ops(env, SRC, "copy", start)) <= 2
    assert env.model_ids(A).count(model_id) == 1


@pytest.mark.parametrize("version", ["v2.1", V4])
@pytest.mark.parametrize("code", ["2024", "AuthorizationError"])
def test_rejected_authorization_is_replaced_and_the_copy_reissued(env, version, code):
    src, a = alias(version, "src"), alias(version, "a")
    model_id = env.train(src, version)
    env.cloud.resource(src).set_copy_behaviour("fail", 1, code=code)
    start = log_len(env, a)
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert result["status"] == "succeeded" and result["attempts"] == 2
    assert len(ops(env, a, "authorizeCopy", start)) == 2
    assert [m["modelId"] for m in env.models(a) if m["modelId"] == result["targetModelId"]]
    if version.startswith("v2"):
        # nothing else left behind on the target by the first, rejected attempt
        assert not [m for m in env.models(a) if m["status"] != "ready"]


def test_reauthorization_is_bounded(env):
    model_id = env.train(SRC, V4)
    env.cloud.resource(SRC).set_copy_behaviour("fail", 3, code="2024")
    _, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    result = out["targets"][A]
    assert out["status"] == "failed" and result["status"] == "failed" and result["attempts"] == 3
    assert result["error"]["code"] == "2024" and result["error"]["hint"]
    assert model_id not in env.model_ids(A)


def test_v2_copy_failing_with_3013_is_cleaned_up_and_reported(env):
    src, a = alias("v2.1", "src"), alias("v2.1", "a")
    model_id = env.train(src, "v2.1")
    before = set(env.model_ids(a))
    env.cloud.resource(src).set_copy_behaviour("fail_3013", 1)
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    failed = out["targets"][a]
    assert failed["error"]["code"] == "3013" and failed["cleanedUp"] is True
    assert set(env.model_ids(a)) == before  # the invalid model the failed copy left is gone
    # the hint follows what happened: the model was removed, so nothing is left to delete
    assert "was removed" in failed["error"]["hint"] and "may hold" not in failed["error"]["hint"]


def test_copy_failing_with_3013_is_cleaned_up_and_reported(env):
    model_id = env.train(SRC, V4)
    env.cloud.resource(B).set_copy_behaviour("fail_3013", 1)  # copies INTO b fail mid-way
    iid, out = run_copy(env, {"modelId": model_id, "targets": [A, B]})
    assert out["status"] == "partial"
    assert out["targets"][A]["status"] == "succeeded"
    failed = out["targets"][B]
    # v3+ reports 3013 as code "Timeout" (innererror 3013): the service's code is passed through
    assert failed["status"] == "failed" and failed["error"]["code"] == "Timeout" and failed["cleanedUp"] is True
    assert "maximum processing time" in failed["error"]["message"]
    assert model_id not in env.model_ids(B)  # the invalid model left by the service is gone
    assert "was removed" in failed["error"]["hint"] and "may hold" not in failed["error"]["hint"]
    child = env.host.status(f"{iid}:{B}")
    assert child["runtimeStatus"] == "Failed"  # the portal shows the failed target


def test_copy_exceeding_the_deadline_is_abandoned_and_cleaned_up(env):
    model_id = env.train(SRC, V4)
    env.cloud.resource(SRC).set_copy_behaviour("never_finish", 1)
    _, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    result = out["targets"][A]
    assert result["error"]["code"] == "CopyDeadlineExceeded" and result["status"] == "failed"
    assert 600 <= result["durationSeconds"] < 700
    assert model_id not in env.model_ids(A)
    polls = len(ops(env, SRC, "getOperation"))
    assert polls < 120  # backed off to the 15 s cap, not once a second for ten minutes


def test_live_custom_status_while_copying(env):
    model_id = env.train(SRC, V4)
    env.cloud.resource(SRC).set_copy_behaviour("never_finish", 1)
    resp = env.post_copy({"modelId": model_id, "targets": [A]})
    iid = resp.json()["id"]
    child = env.host.wait_for_custom_status(f"{iid}:{A}", lambda s: bool(s) and s.get("polls", 0) >= 2)
    custom = child["customStatus"]
    assert custom["stage"] == "polling" and custom["attempts"] == 1 and custom["targetModelId"] == model_id
    parent = env.host.status(iid)["customStatus"]
    assert parent["targets"][A]["stage"] == "copying" and parent["targets"][A]["instanceId"] == f"{iid}:{A}"
    assert len(str(parent)) < 4096 and len(str(custom)) < 4096
    final = env.wait(iid, timeout=90)
    assert final["customStatus"]["targets"][A]["stage"] == "failed"


def test_target_model_id_taken_by_another_model_is_a_clear_error(env):
    model_id = env.train(SRC, V4)
    env.cloud.advance(90)  # another model, built later under the same id
    env.cloud.resource(A).seed_model("v3", model_id, description="somebody else's model")
    before = env.cloud.resource(A).model(model_id)
    _, out = run_copy(env, {"modelId": model_id, "targets": [A]})
    error = out["targets"][A]["error"]
    assert error["code"] == "TargetModelExists" and "targetModelId" in error["hint"]
    assert env.cloud.resource(A).model(model_id) == before  # untouched


def test_target_model_id_can_be_chosen(env):
    model_id = env.train(SRC, V4)
    _, out = run_copy(env, {"modelId": model_id, "targets": [A], "targetModelId": f"{model_id}-dr"})
    assert out["targets"][A]["targetModelId"] == f"{model_id}-dr"
    assert f"{model_id}-dr" in env.model_ids(A)


def test_cmk_to_non_cmk_needs_the_degrade_setting(env, monkeypatch):
    model_id = env.train("cmk-src", V4)
    _, out = run_copy(env, {"modelId": model_id, "source": "cmk-src", "targets": ["cmk-a"]})
    error = out["targets"]["cmk-a"]["error"]
    assert error["code"] == "DataProtectionTransformServiceError" and "FERRY_ALLOW_CMK_DEGRADE" in error["hint"]
    monkeypatch.setenv("FERRY_ALLOW_CMK_DEGRADE", "true")
    _, out = run_copy(env, {"modelId": model_id, "source": "cmk-src", "targets": ["cmk-a"]})
    assert out["targets"]["cmk-a"]["status"] == "succeeded"


def test_copy_of_a_model_still_training_waits_for_it(env):
    src, a = alias("v2.1", "src"), alias("v2.1", "a")
    model_id = env.train(src, "v2.1", wait=False)
    assert env.cloud.resource(src).model(model_id)["status"] == "creating"
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    assert out["targets"][a]["status"] == "succeeded"


def test_unknown_source_model_fails_every_target_with_the_service_error(env):
    iid, out = run_copy(env, {"modelId": "no-such-model", "targets": [A, B]})
    assert out["status"] == "failed"
    for target in (A, B):
        error = out["targets"][target]["error"]
        assert error["code"] == "ModelNotFound" and error["message"] and error["hint"]
        assert env.host.status(f"{iid}:{target}")["runtimeStatus"] == "Failed"


def test_key_rotation_is_picked_up_after_a_401(env):
    model_id = env.train(SRC, V4)
    run_copy(env, {"modelId": model_id, "targets": [A]})  # the keys are cached now
    new_key = env.cloud.resource(SRC).rotate_key("key1")
    env.cloud.keyvault.set_secret(f"key-{SRC}", new_key)
    env.resource_keys[SRC].append(new_key)
    start = log_len(env, SRC)
    _, out = run_copy(env, {"modelId": model_id, "targets": [B]})
    assert out["targets"][B]["status"] == "succeeded"
    statuses = [e["status"] for e in env.cloud.resource(SRC).request_log()[start:]]
    assert 401 in statuses and statuses[-1] == 200
