"""Both triggers from the outside: POST /api/copies (keys enforced) and the Event Grid webhook (both schemas)."""

import json
import uuid

import pytest
from e2e_support import alias

V4 = "2024-11-30"
SRC, A, B = alias(V4, "src"), alias(V4, "a"), alias(V4, "b")


def copy_instances(env, model_id):
    return [i for i in env.instances() if i["name"] == "copy_model" and model_id in (i.get("input") or "")]


# ------------------------------------------------------------------------------------------------ HTTP

def test_defaults_apply_and_status_links_work(env):
    model_id = env.train(SRC, V4)
    resp = env.post_copy({"modelId": model_id})
    assert resp.status_code == 202
    assert resp.headers["Location"] == resp.json()["statusQueryGetUri"]
    status = env.wait(resp.json()["id"])
    assert set(status["output"]["targets"]) == {A, B}
    # the check-status URL is served by the host (system key already in the URL)
    polled = json.loads(__import__("requests").get(resp.json()["statusQueryGetUri"], timeout=10).text)
    assert polled["runtimeStatus"] == "Completed" and polled["output"]["status"] == "succeeded"


def test_function_key_is_required(env):
    assert env.post_copy({"modelId": "whatever"}, key=None).status_code == 401
    assert env.post_copy({"modelId": "whatever"}, key="not-a-key").status_code == 401


@pytest.mark.parametrize("body, raw, code", [
    (None, b"{not json", "InvalidJson"),
    (None, b"", "InvalidJson"),
    ([1, 2], None, "InvalidRequest"),
    ({"targets": [A]}, None, "MissingModelId"),
    ({"modelId": "m-x", "source": "nowhere"}, None, "UnknownAlias"),
    ({"modelId": "m-x", "targets": ["moon"]}, None, "UnknownAlias"),
    ({"modelId": "m-x", "targets": [SRC, A]}, None, "SourceAmongTargets"),
    ({"modelId": "m-x", "targets": []}, None, "NoTargets"),
    ({"modelId": "m-x", "targets": [A, A]}, None, "DuplicateTargets"),
    ({"modelId": "not a valid id!"}, None, "InvalidModelId"),
    ({"modelId": "not-a-guid", "source": alias("v2.1", "src"), "targets": [alias("v2.1", "a")]}, None,
     "InvalidModelId"),
    ({"modelId": "m-x", "endpoint": "https://attacker.example"}, None, "InvalidRequest"),
])
def test_bad_requests_are_400_and_start_nothing(env, body, raw, code):
    before = len(env.instances())
    resp = env.post_copy(body, raw=raw)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]
    assert len(env.instances()) == before


def test_invalid_settings_give_a_500_naming_the_setting(env, monkeypatch):
    monkeypatch.setenv("FERRY_MAX_PARALLEL_TARGETS", "lots")
    resp = env.post_copy({"modelId": "m-x"})
    assert resp.status_code == 500
    error = resp.json()["error"]
    assert error["code"] == "InvalidSettings" and "FERRY_MAX_PARALLEL_TARGETS" in error["message"]
    assert "Traceback" not in resp.text


def test_identical_request_while_running_joins_the_running_copy(env):
    model_id = env.train(SRC, V4)
    never = env.cloud.resource(SRC)
    never.set_copy_behaviour("never_finish", count=2)
    first = env.post_copy({"modelId": model_id, "targets": [A, B]})
    second = env.post_copy({"modelId": model_id, "targets": [B, A]})  # same copy, other order
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["statusQueryGetUri"] == second.json()["statusQueryGetUri"]
    assert len(copy_instances(env, model_id)) == 1
    iid = first.json()["id"]
    children = [f"{iid}:{target}" for target in (A, B)]
    env.host.wait_until(lambda: all(env.host.status(c) for c in children), timeout=30, what="children started")
    for instance in [iid, *children]:
        env.host.terminate(instance, "test over")


def test_rerun_after_completion_is_idempotent(env):
    model_id = env.train(SRC, V4)
    first = env.wait(env.post_copy({"modelId": model_id, "targets": [A]}).json()["id"])
    assert first["output"]["status"] == "succeeded"
    again = env.post_copy({"modelId": model_id, "targets": [A]})
    assert again.status_code == 202
    second = env.wait(again.json()["id"])
    out = second["output"]["targets"][A]
    assert out["status"] == "succeeded" and out["alreadyPresent"] is True
    assert env.model_ids(A).count(model_id) == 1


# ------------------------------------------------------------------------------------------------ Event Grid

def eg_event(model_id, event_id=None, event_type="ModelTrained", data=None):
    return {"id": event_id or str(uuid.uuid4()), "eventType": event_type, "subject": f"models/{model_id}",
            "eventTime": "2026-11-26T05:00:00Z", "dataVersion": "1.0",
            "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventGrid/topics/training",
            "data": {"modelId": model_id, "source": SRC} if data is None else data}


def cloud_event(model_id, event_id=None):
    return {"specversion": "1.0", "id": event_id or str(uuid.uuid4()), "type": "com.contoso.ModelTrained",
            "source": "/training/pipeline", "time": "2026-11-26T05:00:00Z", "subject": f"models/{model_id}",
            "datacontenttype": "application/json", "data": {"modelId": model_id}}


def wait_replication(env, model_id):
    found = env.host.wait_until(lambda: copy_instances(env, model_id) or None, timeout=30,
                                what=f"replication of {model_id}")
    assert len(found) == 1
    return env.wait(found[0]["instanceId"])


def test_event_grid_schema_replicates_to_default_targets_once_despite_duplicates(env):
    model_id = env.train(SRC, V4)
    event = eg_event(model_id)
    assert env.publish([event]).status_code in (200, 202)
    status = wait_replication(env, model_id)
    assert status["output"]["status"] == "succeeded" and set(status["output"]["targets"]) == {A, B}
    # redelivery (after completion) and a batch carrying the same event twice: still one replication
    assert env.publish([event, event]).status_code in (200, 202)
    env.host.run_until_idle(timeout=10)
    assert len(copy_instances(env, model_id)) == 1
    for target in (A, B):
        assert env.model_ids(target).count(model_id) == 1


def test_cloud_events_schema_replicates(env):
    model_id = env.train(SRC, V4)
    event = cloud_event(model_id)
    resp = env.publish([event], cloud_events=True)
    assert resp.status_code in (200, 202), resp.text
    status = wait_replication(env, model_id)
    assert status["output"]["status"] == "succeeded" and status["output"]["source"] == SRC
    env.publish([event], cloud_events=True)
    env.host.run_until_idle(timeout=10)
    assert len(copy_instances(env, model_id)) == 1


def test_other_event_types_are_ignored_and_malformed_events_dropped(env):
    before = len(env.instances())
    assert env.publish([eg_event("m-other", event_type="Microsoft.Storage.BlobCreated")]).status_code < 300
    assert env.publish([eg_event("m-bad", data={"model": "no id"})]).status_code < 300
    assert env.publish([eg_event("m-bad", data={"modelId": "m-bad", "source": "nowhere"})]).status_code < 300
    env.host.run_until_idle(timeout=10)
    assert len(env.instances()) == before
    text = "\n".join(env.logs.lines)
    assert "ignoring event" in text and "dropping malformed event" in text and "UnknownAlias" in text


def test_fan_out_respects_the_parallelism_setting(env, monkeypatch):
    monkeypatch.setenv("FERRY_MAX_PARALLEL_TARGETS", "1")
    model_id = env.train(SRC, V4)
    resp = env.post_copy({"modelId": model_id, "targets": [A, B]})
    status = env.wait(resp.json()["id"])
    assert status["output"]["status"] == "succeeded"
    # in the parent's history, the second child is created only after the first one completed
    kinds = [e["EventType"] for e in env.host.history(resp.json()["id"]) if e["EventType"] in (7, 8)]
    assert kinds == [7, 8, 7, 8]
