"""v2 (service-assigned target ids): the answer to the copy POST is lost after the service accepted it.

The emulator's `drop` fault lets the copy take effect and then cuts the connection, so ModelFerry cannot know
whether the copy started. A re-issue needs a NEW authorization, i.e. a new target GUID; without recovery the
first copy lands too and leaves an orphan. HTTP in, emulator state out: exactly one model on the target.
"""

import pytest
from e2e_support import alias, requests_since, run_copy


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_lost_copy_answer_leaves_exactly_one_model_and_no_orphan(env, version):
    src, a = alias(version, "src"), alias(version, "a")
    model_id = env.train(src, version)
    before = set(env.model_ids(a))
    src_start, a_start = len(env.cloud.resource(src).request_log()), len(env.cloud.resource(a).request_log())
    env.cloud.resource(src).fail_next("copy", 1, "drop")  # the copy is accepted, then the connection is cut
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert out["status"] == "succeeded" and result["status"] == "succeeded"
    new = set(env.model_ids(a)) - before
    assert new == {result["targetModelId"]}  # exactly one model on the target, and it is the reported one
    assert env.cloud.resource(a).model(result["targetModelId"])["status"] == "ready"
    copies = requests_since(env, src, "copy", src_start)
    authorizations = requests_since(env, a, "authorizeCopy", a_start)
    assert len(copies) == len(authorizations) == 2  # the lost one, and the re-issue with a new authorization
    # the abandoned copy's model landed and was removed, and the result says so
    cleaned = result["cleanedUpTargetModelIds"]
    assert len(cleaned) == 1 and cleaned[0] != result["targetModelId"]
    deletes = requests_since(env, a, "deleteModel", a_start)
    assert [e["status"] for e in deletes] == [204] or [e["status"] for e in deletes] == [200]
    assert env.cloud.resource(a).model(cleaned[0]) is None


def test_lost_copy_that_lands_before_the_reissue_is_adopted_not_copied_again(env):
    src, a = alias("v2.1", "src"), alias("v2.1", "a")
    model_id = env.train(src, "v2.1")
    before = set(env.model_ids(a))
    src_start, a_start = len(env.cloud.resource(src).request_log()), len(env.cloud.resource(a).request_log())
    env.cloud.resource(src).fail_next("copy", 1, "drop")
    # a first 503 on authorize puts the retry after the lost answer on the second backoff step (5 s): by then the
    # lost copy (3 s) has landed on the target
    env.cloud.resource(a).fail_next("authorizeCopy", 1, "5xx", status=503)
    _, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert out["status"] == "succeeded" and result["status"] == "succeeded" and result["adopted"] is True
    assert len(requests_since(env, src, "copy", src_start)) == 1  # no second copy was made
    assert [e["status"] for e in requests_since(env, a, "authorizeCopy", a_start)] == [503, 201]
    assert set(env.model_ids(a)) - before == {result["targetModelId"]}
    assert not requests_since(env, a, "deleteModel", a_start)
    assert "cleanedUpTargetModelIds" not in result


def test_lost_copy_post_the_service_never_took_is_watched_then_reported_unresolved(env):
    src, a = alias("v2.1", "src"), alias("v2.1", "a")
    model_id = env.train(src, "v2.1")
    before = set(env.model_ids(a))
    src_start = len(env.cloud.resource(src).request_log())
    env.cloud.resource(src).fail_next("copy", 1, "5xx", status=503)  # answered 503, nothing started
    iid, out = run_copy(env, {"modelId": model_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert result["status"] == "succeeded" and set(env.model_ids(a)) - before == {result["targetModelId"]}
    assert [e["status"] for e in requests_since(env, src, "copy", src_start)] == [503, 202]
    (unresolved,) = result["unresolvedTargetModelIds"]
    assert unresolved != result["targetModelId"] and env.cloud.resource(a).model(unresolved) is None
    assert "cleanedUpTargetModelIds" not in result
    assert result["durationSeconds"] < 60  # the watch for the lost copy is bounded
    status = env.host.status(f"{iid}:{a}")["customStatus"]
    assert status["stage"] == "succeeded" and len(str(status)) < 4096
