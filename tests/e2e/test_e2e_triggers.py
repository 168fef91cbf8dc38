"""Both triggers from the outside: POST /api/copies (keys enforced) and the Event Grid webhook (both schemas)."""

import json
import random
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from e2e_support import alias

from ferry.orchestration.plan import MAX_REQUEST_BYTES

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


def durable_api(env, check_status):
    """(instances URL, query params with the system key) of the Durable HTTP API, from a check-status payload."""
    parts = urlsplit(check_status["statusQueryGetUri"])
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/instances/', 1)[0]}/instances"
    return base, params


def list_runs(env, check_status, prefix):
    base, params = durable_api(env, check_status)
    resp = requests.get(base, params={**params, "instanceIdPrefix": prefix}, timeout=10)
    assert resp.status_code == 200, resp.text
    return [run for run in resp.json() if run["name"] == "copy_model"]


def test_every_run_is_kept_and_listed_with_its_output_until_purged(env):
    model_id = env.train(SRC, V4)
    first = env.post_copy({"modelId": model_id, "targets": [A]}).json()
    assert env.wait(first["id"])["output"]["status"] == "succeeded"
    again = env.post_copy({"modelId": model_id, "targets": [A]})
    assert again.status_code == 202
    second = again.json()
    assert second["id"] != first["id"]
    out = env.wait(second["id"])["output"]["targets"][A]
    assert out["status"] == "succeeded" and out["alreadyPresent"] is True  # idempotent: found the first copy
    assert env.model_ids(A).count(model_id) == 1

    prefix, _, run = first["id"].rpartition("~")
    assert prefix.startswith(f"copy-{model_id}-") and run == "000001"
    assert second["id"] == f"{prefix}~000002"
    runs = list_runs(env, first, prefix + "~")
    assert [r["instanceId"] for r in runs] == [first["id"], second["id"]]
    assert all(r["runtimeStatus"] == "Completed" for r in runs)
    assert not runs[0]["output"]["targets"][A].get("alreadyPresent")
    assert runs[1]["output"]["targets"][A]["alreadyPresent"] is True
    # the first run's status URL still answers with its own output
    assert requests.get(first["statusQueryGetUri"], timeout=10).json()["output"] == runs[0]["output"]

    # only an explicit purge removes a run; the next run still gets a new number
    purged = requests.delete(first["purgeHistoryDeleteUri"], timeout=10)
    assert purged.status_code == 200 and purged.json()["instancesDeleted"] == 1
    assert [r["instanceId"] for r in list_runs(env, first, prefix + "~")] == [second["id"]]
    third = env.post_copy({"modelId": model_id, "targets": [A]}).json()
    assert third["id"] == f"{prefix}~000003"
    env.wait(third["id"])


# ------------------------------------------------------------------------------------------------ bodies

def _malformed_bodies():
    """Bodies that are not a valid copy request: unreadable, wrong shapes, wrong types (a seeded mix)."""
    rng = random.Random(8)
    values = [None, True, 0, -1, 3.5, 1e308, "", " ", "m-x", [], [None], ["m-x"], {}, {"modelId": "m-x"}]
    raw = [b"{", b"}", b"[", b"]]", b"nul", b"NaNa", b'{"modelId": "m-x",}', b'{"modelId": "m-x"', b"\x00",
           b"\xff\xfe\x00{", b"\xef\xbb\xbf", b'{"modelId": "\\ud800"', b"1" * 5000, b"[" * 100_000,
           b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"\"" + b"\\" * 3]
    bodies = [("raw", r) for r in raw]
    bodies += [("json", v) for v in values if not isinstance(v, dict)]
    bodies += [("json", {"modelId": v}) for v in values if not isinstance(v, str) or not v.strip()]
    bodies += [("json", {"modelId": "m-x", field: v}) for field in ("source", "targets", "targetModelId")
               for v in (0, True, {}, [[A]], "") if not (field == "targets" and v == "")]
    bodies += [("json", {"modelId": "m-x", "targets": [A, v]}) for v in (None, 1, "", [A], {"a": A})]
    bodies += [("json", {"modelId": "m-x", rng.choice(["Targets", "model", "endpoint", "key", ""]): "x"})
               for _ in range(5)]
    for _ in range(20):  # truncations and byte flips of a valid request
        text = json.dumps({"modelId": "m-x", "source": SRC, "targets": [A, B]}).encode()
        cut = rng.randrange(1, len(text) - 1)
        bodies.append(("raw", text[:cut]))
        flipped = bytearray(text)
        flipped[rng.randrange(len(text))] = rng.choice(b'{}[]",:\\\x00\xff')
        if flipped != text:
            bodies.append(("raw", bytes(flipped)))
    return bodies


def test_malformed_bodies_are_400_with_the_error_shape_and_start_nothing(env):
    before = len(env.instances())
    answers = []
    for kind, body in _malformed_bodies():
        resp = env.post_copy(body, raw=body if kind == "raw" else None)
        try:
            valid = json.loads(resp.content)
        except ValueError:
            valid = None
        answers.append((kind, repr(body)[:60], resp.status_code, valid))
    # a byte flip may still leave a valid request (e.g. in a string): those must have been accepted, nothing else
    wrong = [a for a in answers if not (a[2] == 400 and isinstance(a[3], dict) and a[3]["error"]["code"]
                                        and a[3]["error"]["message"] and a[3]["error"]["hint"])
             and a[2] != 202]
    assert not wrong, wrong
    assert len(answers) > 80
    accepted = [a for a in answers if a[2] == 202]
    env.host.run_until_idle(timeout=10)
    assert len(env.instances()) - before <= 3 * len(accepted)  # a parent and its two children each, at most


@pytest.mark.parametrize("body, code", [
    ({"modelId": 7}, "InvalidRequest"), ({"modelId": None}, "InvalidRequest"), ({"modelId": ["m"]}, "InvalidRequest"),
    ({"modelId": {"id": "m"}}, "InvalidRequest"), ({}, "MissingModelId"), ({"modelId": ""}, "MissingModelId"),
])
def test_model_id_of_the_wrong_type_is_invalid_request(env, body, code):
    resp = env.post_copy(body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == code
    if code == "InvalidRequest":
        assert "'modelId' must be a string" in resp.json()["error"]["message"]


def test_deeply_nested_body_is_a_400_not_a_500(env):
    before = len(env.instances())
    resp = env.post_copy(None, raw=b"[" * 100_000 + b"]" * 100_000)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "InvalidJson" and "levels deep" in error["message"] and error["hint"]
    assert len(env.instances()) == before


def test_bodies_above_the_limit_are_413(env):
    before = len(env.instances())
    big = json.dumps({"modelId": "m-x", "targets": [A], "pad": "x" * MAX_REQUEST_BYTES}).encode()
    resp = env.post_copy(None, raw=big)
    assert resp.status_code == 413
    error = resp.json()["error"]
    assert error["code"] == "RequestTooLarge" and str(MAX_REQUEST_BYTES) in error["message"]
    assert len(env.instances()) == before
    # just under the limit is read (and refused for what it says, not for its size)
    fits = b'{"modelId": "m-x", "pad": "' + b"x" * (MAX_REQUEST_BYTES - 40) + b'"}'
    resp = env.post_copy(None, raw=fits)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidRequest"


@pytest.mark.parametrize("request_input, code", [
    ({"modelId": 7}, "InvalidRequest"),
    ({"modelId": "m-x", "targets": ["moon"]}, "UnknownAlias"),
    ([1], "InvalidRequest"),
])
def test_input_started_directly_through_durable_is_refused_by_the_same_validation(env, request_input, code):
    http = env.post_copy(request_input)
    assert http.status_code == 400
    iid = env.host.start_new("copy_model", request_input, instance_id=f"direct-{uuid.uuid4().hex[:8]}")
    output = env.wait(iid)["output"]
    assert output["status"] == "failed" and output["targets"] == {}
    assert {k: output["error"][k] for k in ("code", "message", "hint")} == \
        {k: http.json()["error"][k] for k in ("code", "message", "hint")}
    assert http.json()["error"]["kind"] == "invalid_request" and output["error"]["code"] == code


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
    said = [line for line in env.logs.lines if line.startswith("modelferry.triggers ")
            and f"event {event['id']} already handled by evt-{model_id}-" in line]
    assert len(said) == 2
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


@pytest.mark.parametrize("event_type, data, reason", [
    ("Microsoft.Storage.BlobCreated", None, "ignoring event {id}: event type 'Microsoft.Storage.BlobCreated' is "
                                            "not ModelTrained"),
    ("ModelTrained", {"model": "no id"}, "dropping malformed event {id}: MissingModelId"),
    ("ModelTrained", {"modelId": 5}, "dropping malformed event {id}: InvalidRequest: 'modelId' must be a string"),
    ("ModelTrained", {"modelId": "m-bad", "source": "nowhere"}, "dropping malformed event {id}: UnknownAlias"),
    ("ModelTrained", "just text", "dropping malformed event {id}: event data is not JSON"),
    ("ModelTrained", [1, 2], "dropping malformed event {id}: event data must be an object"),
])
def test_every_ignored_or_dropped_event_says_why_in_one_log_line(env, event_type, data, reason):
    before = len(env.instances())
    event = eg_event("m-bad", event_type=event_type, data=data)
    assert env.publish([event]).status_code < 300
    env.host.run_until_idle(timeout=10)
    assert len(env.instances()) == before
    expected = "modelferry.triggers " + ("INFO" if reason.startswith("ignoring") else "WARNING") + \
        " on_model_trained: " + reason.format(id=event["id"])
    assert [line for line in env.logs.lines if line.startswith(expected)], expected


def test_fan_out_respects_the_parallelism_setting(env, monkeypatch):
    monkeypatch.setenv("FERRY_MAX_PARALLEL_TARGETS", "1")
    model_id = env.train(SRC, V4)
    resp = env.post_copy({"modelId": model_id, "targets": [A, B]})
    status = env.wait(resp.json()["id"])
    assert status["output"]["status"] == "succeeded"
    # in the parent's history, the second child is created only after the first one completed
    kinds = [e["EventType"] for e in env.host.history(resp.json()["id"]) if e["EventType"] in (7, 8)]
    assert kinds == [7, 8, 7, 8]


def test_many_malformed_events_are_each_dropped_with_a_reason_and_start_nothing(env):
    before = len(env.instances())
    datas = [0, True, "", "{", [], [{"modelId": "m-x"}], {}, {"modelId": None}, {"modelId": 1},
             {"modelId": ["m-x"]}, {"modelId": {"id": "m-x"}}, {"modelId": ""}, {"modelId": "not ok!"},
             {"classifierId": 3}, {"modelId": "m-x", "classifierId": "c-x"}, {"modelId": "m-x", "source": 1},
             {"modelId": "m-x", "source": "nowhere"}, {"modelId": "m-x", "source": ""},
             {"modelId": "m-x\nmodelferry.triggers INFO forged"}, {"model": "m-x", "extra": [[[]]]}]
    events = [eg_event("m-x", data=data) for data in datas]
    assert env.publish(events).status_code < 300
    env.host.run_until_idle(timeout=10)
    assert len(env.instances()) == before
    for event in events:
        said = [line for line in env.logs.lines
                if line.startswith(f"modelferry.triggers WARNING on_model_trained: dropping malformed event "
                                   f"{event['id']}: ")]
        assert len(said) == 1, (event["data"], said)
    assert not any(line.startswith("modelferry.triggers INFO forged") for line in env.logs.lines)
