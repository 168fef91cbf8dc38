"""Custom classifier copies end to end: HTTP in (POST /api/copies with `classifierId`, the Event Grid webhook),
emulator state out (classifiers on the targets, the request log), on the shared virtual clock.

Every guarantee a model copy has, for a classifier: the fields a copy keeps, idempotent re-runs (a classifier has
no tags: it is recognised by id + modifiedDateTime, expirationDateTime, description, doc types), 429 / 5xx
recovery, expired and reused authorizations, 3013 and the deadline with cleanup, a lost copy answer; and the
region / API version refusals up front.
"""

import uuid

import pytest
from e2e_support import alias, requests_since, run_copy

SRC, A, B, FAR = "cls-src", "cls-a", "cls-b", "cls-far"


def seed(env, name=SRC, **fields):
    return env.cloud.resource(name).seed_classifier(f"cls-{uuid.uuid4().hex[:10]}", **fields)


def classifier_ids(env, name):
    return [c["classifierId"] for c in env.cloud.resource(name).classifiers()]


def log_len(env, name):
    return len(env.cloud.resource(name).request_log())


def copy_classifier(env, classifier_id, targets=(A,)):
    return run_copy(env, {"classifierId": classifier_id, "source": SRC, "targets": list(targets)})


def test_classifier_copy_keeps_the_fields_a_copy_keeps_and_a_rerun_finds_it_present(env):
    classifier_id = seed(env, description="routes invoices and receipts")
    env.cloud.advance(120)  # a copy's createdDateTime is the copy's time: it must differ from the source's
    src_start = log_len(env, SRC)
    iid, out = copy_classifier(env, classifier_id, (A, B))
    assert out["status"] == "succeeded" and out["classifierId"] == classifier_id and out["kind"] == "classifier"
    assert "modelId" not in out
    source = env.cloud.resource(SRC).classifier(classifier_id)
    for target in (A, B):
        result = out["targets"][target]
        assert result["status"] == "succeeded" and result["targetModelId"] == classifier_id, result
        assert result["attempts"] == 1 and not result.get("alreadyPresent")
        copied = env.cloud.resource(target).classifier(classifier_id)
        for kept in ("modifiedDateTime", "expirationDateTime", "description", "docTypes"):
            assert copied[kept] == source[kept], kept
        assert copied["createdDateTime"] != source["createdDateTime"]
    assert len(requests_since(env, SRC, "copyClassifier", src_start)) == 2
    assert env.host.status(iid)["customStatus"]["classifierId"] == classifier_id

    # the same request again: a new run that finds both classifiers present and copies nothing
    src_start = log_len(env, SRC)
    _, again = copy_classifier(env, classifier_id, (A, B))
    assert again["status"] == "succeeded"
    assert all(again["targets"][t]["alreadyPresent"] is True for t in (A, B))
    assert requests_since(env, SRC, "copyClassifier", src_start) == []
    assert classifier_ids(env, A).count(classifier_id) == 1


def test_a_different_classifier_under_the_id_is_not_taken_for_the_copy(env):
    classifier_id = seed(env, description="the source's")
    env.cloud.resource(A).seed_classifier(classifier_id, description="somebody else's")
    before = env.cloud.resource(A).classifier(classifier_id)
    _, out = copy_classifier(env, classifier_id)
    error = out["targets"][A]["error"]
    assert out["status"] == "failed" and error["code"] == "TargetModelExists", error
    assert env.cloud.resource(A).classifier(classifier_id) == before  # untouched


def test_throttled_classifier_authorization_waits_and_retries(env):
    classifier_id = seed(env)
    env.cloud.resource(A).fail_next("authorizeClassifierCopy", 1, "429", retry_after=7)
    a_start = log_len(env, A)
    _, out = copy_classifier(env, classifier_id)
    assert out["targets"][A]["status"] == "succeeded"
    assert [e["status"] for e in requests_since(env, A, "authorizeClassifierCopy", a_start)] == [429, 200]
    assert classifier_id in classifier_ids(env, A)


def test_server_errors_while_polling_a_classifier_copy_are_retried(env):
    classifier_id = seed(env)
    src_start = log_len(env, SRC)
    env.cloud.resource(SRC).fail_next("getOperation", 2, "5xx", status=500)
    _, out = copy_classifier(env, classifier_id)
    assert out["targets"][A]["status"] == "succeeded" and out["targets"][A]["attempts"] == 1
    statuses = [e["status"] for e in requests_since(env, SRC, "getOperation", src_start)]
    assert statuses[:2] == [500, 500] and statuses[-1] == 200


@pytest.mark.parametrize("behaviour, code", [("expire_authorization", None), ("fail", "2024")])
def test_expired_or_reused_classifier_authorization_is_replaced(env, behaviour, code):
    classifier_id = seed(env)
    env.cloud.resource(SRC).set_copy_behaviour(behaviour, 1, code=code)
    a_start = log_len(env, A)
    _, out = copy_classifier(env, classifier_id)
    result = out["targets"][A]
    assert result["status"] == "succeeded" and result["attempts"] == 2, result
    assert len(requests_since(env, A, "authorizeClassifierCopy", a_start)) == 2
    assert classifier_ids(env, A).count(classifier_id) == 1


def test_classifier_copy_failing_with_3013_is_cleaned_up(env):
    classifier_id = seed(env)
    env.cloud.resource(SRC).set_copy_behaviour("fail_3013", 1)
    _, out = copy_classifier(env, classifier_id)
    failed = out["targets"][A]
    assert failed["status"] == "failed" and failed["error"]["code"] == "Timeout" and failed["cleanedUp"] is True
    assert classifier_id not in classifier_ids(env, A)  # the incomplete classifier the copy left is gone
    assert requests_since(env, A, "deleteClassifier", 0)


def test_classifier_copy_past_the_deadline_is_abandoned_and_cleaned_up(env):
    classifier_id = seed(env)
    env.cloud.resource(SRC).set_copy_behaviour("never_finish", 1)
    _, out = copy_classifier(env, classifier_id)
    result = out["targets"][A]
    assert result["status"] == "failed" and result["error"]["code"] == "CopyDeadlineExceeded"
    assert 600 <= result["durationSeconds"] < 700
    assert classifier_id not in classifier_ids(env, A)


def test_lost_answer_to_the_classifier_copy_post_copies_once(env):
    classifier_id = seed(env)
    src_start = log_len(env, SRC)
    env.cloud.resource(SRC).fail_next("copyClassifier", 1, "drop")  # processed, then the connection is cut
    _, out = copy_classifier(env, classifier_id)
    result = out["targets"][A]
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True, result
    assert 1 <= len(requests_since(env, SRC, "copyClassifier", src_start)) <= 2
    assert classifier_ids(env, A).count(classifier_id) == 1


@pytest.mark.parametrize("body, names", [
    ({"source": SRC, "targets": [A, FAR]}, ["cls-far", "northeurope"]),
    ({"source": FAR, "targets": [A]}, ["cls-far", "northeurope"]),
    ({"source": alias("2023-07-31", "src"), "targets": [alias("2023-07-31", "a")]}, ["2023-07-31"]),
])
def test_classifier_copy_outside_the_regions_or_versions_is_refused_up_front(env, body, names):
    before = len(env.instances())
    resp = env.post_copy({"classifierId": "cls-anything", **body})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "ClassifierCopyNotSupported"
    for allowed in ("eastus", "westus2", "westeurope", "2024-11-30", *names):
        assert allowed in error["message"] + error["hint"], allowed
    assert len(env.instances()) == before


@pytest.mark.parametrize("body, code", [
    ({"modelId": "m-x", "classifierId": "cls-x", "source": SRC, "targets": [A]}, "AmbiguousArtifact"),
    ({"classifierId": "cls-x", "source": SRC, "targets": [A], "targetModelId": "other"}, "InvalidTargetModelId"),
    ({"classifierId": "not a valid id!", "source": SRC, "targets": [A]}, "InvalidModelId"),
])
def test_bad_classifier_requests_are_400(env, body, code):
    resp = env.post_copy(body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == code, resp.text


def test_model_trained_event_with_a_classifier_id_copies_the_classifier(env, monkeypatch):
    monkeypatch.setenv("FERRY_TARGETS", f"{A},{B}")
    classifier_id = seed(env)
    event = {"id": str(uuid.uuid4()), "eventType": "ModelTrained", "subject": f"classifiers/{classifier_id}",
             "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1.0",
             "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventGrid/topics/training",
             "data": {"classifierId": classifier_id, "source": SRC}}
    assert env.publish([event]).status_code in (200, 202)
    runs = env.host.wait_until(lambda: [i for i in env.instances("evt-") if i["name"] == "copy_model"
                                        and classifier_id in (i.get("input") or "")] or None,
                               timeout=30, what=f"replication of {classifier_id}")
    assert len(runs) == 1
    status = env.wait(runs[0]["instanceId"], timeout=90)
    assert status["output"]["status"] == "succeeded" and status["output"]["classifierId"] == classifier_id
    assert classifier_id in classifier_ids(env, A) and classifier_id in classifier_ids(env, B)


def test_a_classifier_still_being_built_is_waited_for(env):
    import requests

    handle = env.cloud.resource(SRC)
    classifier_id = f"cls-{uuid.uuid4().hex[:10]}"
    body = {"classifierId": classifier_id, "description": "built just now",
            "docTypes": {name: {"azureBlobSource": {"containerUrl": "https://contoso.blob.core.windows.net/c",
                                                     "prefix": f"{name}/"}} for name in ("letter", "form")}}
    resp = requests.post(f"{handle.endpoint}/documentintelligence/documentClassifiers:build",
                         params={"api-version": "2024-11-30"}, json=body,
                         headers={"Ocp-Apim-Subscription-Key": handle.key}, timeout=10)
    assert resp.status_code == 202, resp.text
    assert handle.classifier(classifier_id) is None  # not there yet: the copy starts while the build runs
    start = log_len(env, SRC)
    _, out = copy_classifier(env, classifier_id)
    assert out["targets"][A]["status"] == "succeeded", out
    # the first look answered 404, and the operations list told "being built" from "no such classifier"
    assert requests_since(env, SRC, "getClassifier", start)[0]["status"] == 404
    assert requests_since(env, SRC, "listOperations", start)
    assert env.cloud.resource(A).classifier(classifier_id)["description"] == "built just now"
