"""An expired copy authorization (400 1002 on the copy POST) end to end, both API generations.

Inside one activity the authorization cannot age between authorize and POST, so the emulator's copy behaviour
`expire_authorization` makes the next copy POST answer exactly what the service answers for an expired one.
HTTP in (POST /api/copies), emulator state out (request log, models on the target).
"""

import pytest
from e2e_support import alias, requests_since, run_copy

from ferry.errors import HINTS


@pytest.mark.parametrize("version", ["v2.1", "2024-11-30"])
def test_expired_authorization_is_replaced_and_the_copy_reissued(env, version):
    src, a = alias(version, "src"), alias(version, "a")
    model_id = env.train(src, version)
    before = set(env.model_ids(a))
    env.cloud.resource(src).set_copy_behaviour("expire_authorization", 1)
    src_start, a_start = len(env.cloud.resource(src).request_log()), len(env.cloud.resource(a).request_log())
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert out["status"] == "succeeded" and result["status"] == "succeeded" and result["attempts"] == 2
    assert [e["status"] for e in requests_since(env, src, "copy", src_start)] == [400, 202]
    assert len(requests_since(env, a, "authorizeCopy", a_start)) == 2  # a fresh authorization for the re-issue
    new = set(env.model_ids(a)) - before
    assert new == {result["targetModelId"]}  # exactly one model landed
    if not version.startswith("v2"):
        assert result["targetModelId"] == model_id


@pytest.mark.parametrize("version", ["v2.1", "2024-11-30"])
def test_every_authorization_expired_gives_up_after_the_configured_attempts(env, monkeypatch, version):
    monkeypatch.setenv("FERRY_MAX_AUTHORIZATION_ATTEMPTS", "2")
    src, a = alias(version, "src"), alias(version, "a")
    model_id = env.train(src, version)
    before = set(env.model_ids(a))
    env.cloud.resource(src).set_copy_behaviour("expire_authorization", 3)
    src_start = len(env.cloud.resource(src).request_log())
    iid, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert out["status"] == "failed" and result["status"] == "failed" and result["attempts"] == 2
    assert [e["status"] for e in requests_since(env, src, "copy", src_start)] == [400, 400]  # bounded by the setting
    assert result["error"]["code"] == "1002" and "expired" in result["error"]["message"]
    assert result["error"]["hint"] == HINTS["authorization"]
    assert "FERRY_MAX_AUTHORIZATION_ATTEMPTS" in result["error"]["hint"]
    assert env.cloud.resource(src).copy_behaviours() == [{"behaviour": "expire_authorization", "code": None,
                                                          "message": None}]
    assert set(env.model_ids(a)) == before  # nothing was copied, nothing left behind
    assert env.host.status(f"{iid}:{a}")["runtimeStatus"] == "Failed"
