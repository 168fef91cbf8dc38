"""A copy started while its v3+ source model is still being built (a `ModelTrained` event that arrives early, or
a pipeline that copies right after `documentModels:build`): the model does not exist yet (404), its build is a
running operation on the source; the copy waits for it on durable timers and succeeds. A build that fails is
reported with the build's error, not as ModelNotFound.

HTTP in (POST /api/copies), emulator state out, on the shared virtual clock.
"""

import pytest
from e2e_support import alias, run_copy

BUILD_SECONDS = 40.0  # long enough that the copy's first looks find the build still running


def slow_builds(env, monkeypatch, name):
    monkeypatch.setattr(env.cloud.resource(name).backend.settings, "train_seconds", BUILD_SECONDS)


def source_calls(env, name, since):
    return [e for e in env.cloud.resource(name).request_log()[since:]
            if e["operation"] in ("getModel", "listOperations")]


@pytest.mark.parametrize("version", ["2023-07-31", "2024-11-30"])
def test_copy_right_after_a_build_waits_for_the_build_and_succeeds(env, monkeypatch, version):
    src, a = alias(version, "src"), alias(version, "a")
    slow_builds(env, monkeypatch, src)
    start = len(env.cloud.resource(src).request_log())
    model_id = env.train(src, version, wait=False)
    assert model_id not in env.model_ids(src)  # still being built: the source answers 404 for it
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert out["status"] == "succeeded" and result["targetModelId"] == model_id and result["error"] is None
    assert env.model_ids(a).count(model_id) == 1
    calls = source_calls(env, src, start)
    first_look = [c["status"] for c in calls[:2]]
    assert first_look == [404, 200]  # GET 404, then the operations list showed the running build
    assert [c["operation"] for c in calls].count("listOperations") >= 2  # looked again while it was building


def test_a_failed_build_is_reported_with_the_builds_error(env, monkeypatch):
    version = "2024-11-30"
    src, a = alias(version, "src"), alias(version, "a")
    slow_builds(env, monkeypatch, src)
    env.cloud.resource(src).fail_next_builds(1)
    model_id = env.train(src, version, wait=False)
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    error = out["targets"][a]["error"]
    assert out["status"] == "failed" and error["code"] != "ModelNotFound"
    assert error["code"] == "InvalidRequest" and "build failed" in error["message"]
    assert "Training data is missing" in error["message"] and "build" in error["hint"]
    assert model_id not in env.model_ids(a)


def test_a_model_neither_existing_nor_being_built_is_model_not_found(env):
    version = "2023-07-31"
    src, a = alias(version, "src"), alias(version, "a")
    _, out = run_copy(env, {"modelId": "never-built", "source": src, "targets": [a]})
    assert out["targets"][a]["error"]["code"] == "ModelNotFound"
