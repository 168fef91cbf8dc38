"""Every API version: a source model trained in the emulator, copied by HTTP to two targets (one keyless)."""

import pytest
from e2e_support import VERSIONS, alias


@pytest.mark.parametrize("version", VERSIONS)
def test_http_copy_to_two_targets(env, version):
    src, a, b = alias(version, "src"), alias(version, "a"), alias(version, "b")
    model_id = env.train(src, version)
    resp = env.post_copy({"modelId": model_id, "source": src, "targets": [a, b]})
    assert resp.status_code == 202, resp.text
    payload = resp.json()
    assert {"id", "statusQueryGetUri", "terminatePostUri"} <= set(payload)
    status = env.wait(payload["id"])
    assert status["runtimeStatus"] == "Completed", status
    out = status["output"]
    assert out["status"] == "succeeded" and out["modelId"] == model_id and out["source"] == src
    for target in (a, b):
        result = out["targets"][target]
        assert result["status"] == "succeeded" and result["error"] is None
        target_id = result["targetModelId"]
        if version.startswith("v2"):
            assert target_id and target_id != model_id  # service-assigned GUID, recorded in the result
        else:
            assert target_id == model_id
        model = env.cloud.resource(target).model(target_id)
        assert model is not None and model["status"] == "ready"
    # the children ran as their own (completed) sub-orchestrations with deterministic ids
    for target in (a, b):
        child = env.host.status(f"{payload['id']}:{target}")
        assert child["runtimeStatus"] == "Completed"
        assert child["customStatus"]["stage"] == "succeeded"
