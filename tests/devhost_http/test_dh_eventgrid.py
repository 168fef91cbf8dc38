"""The Event Grid webhook: validation handshakes, both schemas, one invocation per event, keys."""

import json

import requests

from devhost.testing import read_json_lines

EG_EVENT = {
    "id": "e1", "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a",
    "subject": "models/m1", "eventType": "Microsoft.CognitiveServices.ModelTrained",
    "eventTime": "2024-05-01T10:00:00.1234567Z", "data": {"modelId": "m1"}, "dataVersion": "1.0",
    "metadataVersion": "1",
}
CLOUD_EVENT = {
    "specversion": "1.0", "id": "c1", "source": "/subscriptions/s/resourceGroups/g", "type": "Sample.Created",
    "time": "2024-05-01T10:00:00Z", "subject": "models/m2", "datacontenttype": "application/json",
    "data": {"modelId": "m2"},
}


def _hook(server, name="on_event", **params):
    return f"{server.url}/runtime/webhooks/eventgrid", {"functionName": name, **params}


def _records(log_path):
    return read_json_lines(log_path)


def test_subscription_validation_event_grid_schema(web_app, serve, sample_log):
    server = serve(web_app)
    url, params = _hook(server)
    body = [{"id": "v", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "subject": "",
             "data": {"validationCode": "CODE-123", "validationUrl": "https://x"}, "dataVersion": "2",
             "eventTime": "2024-05-01T10:00:00Z"}]
    r = requests.post(url, params=params, json=body, headers={"aeg-event-type": "SubscriptionValidation"},
                      timeout=10)
    assert r.status_code == 200
    assert r.json() == {"validationResponse": "CODE-123"}
    assert _records(sample_log) == []  # the function is not invoked for a handshake


def test_subscription_validation_cloud_event(web_app, serve):
    server = serve(web_app)
    url, params = _hook(server)
    body = {**CLOUD_EVENT, "type": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": json.dumps({"validationCode": "CE-9"})}
    r = requests.post(url, params=params, json=body, headers={"aeg-event-type": "SubscriptionValidation"},
                      timeout=10)
    assert r.json() == {"validationResponse": "CE-9"}


def test_cloudevents_options_handshake(web_app, serve):
    server = serve(web_app)
    url, params = _hook(server)
    r = requests.options(url, params=params, headers={"WebHook-Request-Origin": "eventgrid.azure.net"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_notification_invokes_once_per_event(web_app, serve, sample_log):
    server = serve(web_app)
    url, params = _hook(server)
    second = {**EG_EVENT, "id": "e2", "data": {"modelId": "m3"}}
    r = requests.post(url, params=params, json=[EG_EVENT, second], headers={"aeg-event-type": "Notification"},
                      timeout=10)
    assert r.status_code == 202
    records = sorted(_records(sample_log), key=lambda rec: rec["id"])
    assert [(rec["id"], rec["cls"], rec["data"], rec["subject"]) for rec in records] == [
        ("e1", "EventGridEvent", {"modelId": "m1"}, "models/m1"),
        ("e2", "EventGridEvent", {"modelId": "m3"}, "models/m1")]
    assert records[0]["type"] == "Microsoft.CognitiveServices.ModelTrained"


def test_cloudevents_structured_and_batch(web_app, serve, sample_log):
    server = serve(web_app)
    url, params = _hook(server)
    headers = {"aeg-event-type": "Notification", "Content-Type": "application/cloudevents+json"}
    assert requests.post(url, params=params, data=json.dumps(CLOUD_EVENT), headers=headers,
                         timeout=10).status_code == 202
    batch = [CLOUD_EVENT, {**CLOUD_EVENT, "id": "c2"}]
    headers["Content-Type"] = "application/cloudevents-batch+json"
    assert requests.post(url, params=params, data=json.dumps(batch), headers=headers, timeout=10).status_code == 202
    records = _records(sample_log)
    assert sorted(rec["id"] for rec in records) == ["c1", "c1", "c2"]
    assert {rec["cls"] for rec in records} == {"CloudEvent"}
    assert records[0]["data"] == {"modelId": "m2"}


def test_failure_gives_500_with_the_message(web_app, serve):
    server = serve(web_app)
    url, params = _hook(server)
    r = requests.post(url, params=params, json=[{**EG_EVENT, "data": {"fail": True}}],
                      headers={"aeg-event-type": "Notification"}, timeout=10)
    assert r.status_code == 500
    assert "event asked to fail" in r.text


def test_bad_requests(web_app, serve):
    server = serve(web_app)
    url, params = _hook(server)
    assert requests.post(url, params=params, json=[EG_EVENT], timeout=10).status_code == 400   # no aeg-event-type
    assert requests.post(url, params=params, json=[EG_EVENT], headers={"aeg-event-type": "Unsubscribe"},
                         timeout=10).status_code == 202
    assert requests.post(url, params=params, data="5", headers={"aeg-event-type": "Notification"},
                         timeout=10).status_code == 400
    r = requests.post(url, params={"functionName": "nope"}, json=[EG_EVENT],
                      headers={"aeg-event-type": "Notification"}, timeout=10)
    assert (r.status_code, r.text) == (404, "cannot find function: 'nope'")
    r = requests.post(url, params={"functionName": "echo"}, json=[EG_EVENT],  # not an Event Grid function
                      headers={"aeg-event-type": "Notification"}, timeout=10)
    assert r.status_code == 404


def test_system_key_when_keys_enabled(web_app, serve, keys, sample_log):
    server = serve(web_app, keys=keys)
    url, params = _hook(server)
    headers = {"aeg-event-type": "Notification"}
    assert requests.post(url, params=params, json=[EG_EVENT], headers=headers, timeout=10).status_code == 401
    assert requests.post(url, params={**params, "code": keys.function_key("echo")}, json=[EG_EVENT],
                         headers=headers, timeout=10).status_code == 401
    assert requests.post(url, params={**params, "code": keys.system_key("eventgrid")}, json=[EG_EVENT],
                         headers=headers, timeout=10).status_code == 202
    assert requests.post(url, params={**params, "code": keys.master_key}, json=[EG_EVENT],
                         headers=headers, timeout=10).status_code == 202
    assert len(_records(sample_log)) == 2


def test_webhook_paths_are_case_insensitive(web_app, serve):
    server = serve(web_app)
    r = requests.options(f"{server.url}/runtime/webhooks/EventGrid", params={"functionName": "on_event"},
                         timeout=10)
    assert r.status_code == 200
    assert requests.get(f"{server.url}/Admin/Host/Status", timeout=10).status_code == 200
