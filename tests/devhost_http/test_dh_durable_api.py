"""The Durable HTTP API with plain HTTP (curl-like) and through the SDK's DurableOrchestrationClient."""

import json
from datetime import UTC, datetime

import pytest
import requests

T = 10  # request timeout, seconds


def rpc(server, path):
    return f"{server.url}/durabletask/{path}"


def hook(server, path):
    return f"{server.url}/runtime/webhooks/durabletask/{path}"


def start_rpc(server, name, value=None, instance_id=None, *, raw=None, **params):
    """Start like the SDK does (the input JSON-encoded twice), or with a `raw` JSON body like curl."""
    url = rpc(server, f"orchestrators/{name}" + (f"/{instance_id}" if instance_id else ""))
    body = raw if raw is not None else (None if value is None else json.dumps(json.dumps(value)))
    return requests.post(url, data=body, headers={"Content-Type": "application/json"}, params=params, timeout=T)


def client(server, op, **args):
    r = requests.post(f"{server.url}/api/client/{op}", json=args, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()


def test_http_starter_and_check_status_urls_work_with_plain_http(durable_host):
    server, engine = durable_host()
    r = requests.post(f"{server.url}/api/start/hello", json="World", timeout=T)
    assert r.status_code == 202
    body = r.json()
    assert r.headers["Location"] == body["statusQueryGetUri"]
    assert r.headers["Retry-After"] == "10"
    assert body["statusQueryGetUri"] == \
        f"{server.url}/runtime/webhooks/durabletask/instances/{body['id']}?taskHub=SampleHub&connection=Storage"
    engine.wait_for(body["id"])
    status = requests.get(body["statusQueryGetUri"], timeout=T)
    assert status.status_code == 200
    payload = status.json()
    assert payload["runtimeStatus"] == "Completed"
    assert payload["output"] == "Hello World!"
    assert payload["input"] == '"World"'            # the SDK's double-encoded input, as the extension stores it
    assert payload["name"] == "hello"
    assert payload["createdTime"].endswith("Z") and "historyEvents" not in payload


def test_running_status_is_202_with_location_and_retry_after(durable_host):
    server, engine = durable_host()
    iid = start_rpc(server, "waiter", raw='{"n": 1}').json()["id"]
    engine.run_until_idle()
    url = hook(server, f"instances/{iid}")
    r = requests.get(url, timeout=T)
    assert r.status_code == 202
    assert r.headers["Location"] == url
    assert r.headers["Retry-After"] == "5"
    assert r.json()["customStatus"] == {"stage": "waiting"}
    assert r.json()["input"] == {"n": 1}                # a curl caller's object input stays an object
    assert requests.get(url, params={"showInput": "false"}, timeout=T).json()["input"] is None
    history = requests.get(url, params={"showHistory": "true"}, timeout=T).json()["historyEvents"]
    assert history[0]["EventType"] == "ExecutionStarted"
    assert requests.get(hook(server, "instances/nope"), timeout=T).status_code == 404
    assert requests.get(f"{server.url}/Runtime/Webhooks/DurableTask/Instances/{iid}", timeout=T).status_code == 202


def test_raise_event_curl_and_sdk_quirk(durable_host):
    server, engine = durable_host()
    curl_id = start_rpc(server, "waiter").json()["id"]
    sdk_id = start_rpc(server, "waiter").json()["id"]
    engine.run_until_idle()
    send = hook(server, f"instances/{curl_id}/raiseEvent/go")
    assert requests.post(send, data="yes", headers={"Content-Type": "text/plain"}, timeout=T).status_code == 400
    assert requests.post(send, data="{bad", headers={"Content-Type": "application/json"},
                         timeout=T).status_code == 400
    assert requests.post(send, json="yes", timeout=T).status_code == 202
    client(server, "raise", id=sdk_id, name="go", data="yes")
    assert engine.wait_for(curl_id)["output"] == {"got": "yes", "input": None}
    assert engine.wait_for(sdk_id)["output"]["got"] == '"yes"'   # SDK issue #295, as in Azure
    assert requests.post(send, json="again", timeout=T).status_code == 410
    assert requests.post(hook(server, "instances/nope/raiseEvent/go"), json=1, timeout=T).status_code == 404


def test_terminate_suspend_resume(durable_host):
    server, engine = durable_host()
    iid = start_rpc(server, "waiter").json()["id"]
    engine.run_until_idle()
    assert requests.post(hook(server, f"instances/{iid}/suspend"), params={"reason": "r"},
                         timeout=T).status_code == 202
    engine.wait_for(iid, statuses=["Suspended"])
    assert requests.get(hook(server, f"instances/{iid}"), timeout=T).status_code == 202
    assert requests.post(hook(server, f"instances/{iid}/resume"), timeout=T).status_code == 202
    engine.wait_for(iid, statuses=["Running"])
    client(server, "suspend", id=iid)
    engine.wait_for(iid, statuses=["Suspended"])
    client(server, "resume", id=iid)
    engine.wait_for(iid, statuses=["Running"])
    assert requests.post(hook(server, f"instances/{iid}/terminate"), params={"reason": "enough"},
                         timeout=T).status_code == 202
    status = engine.wait_for(iid, statuses=["Terminated"])
    assert status["output"] == "enough"
    for op in ("terminate", "suspend", "resume"):
        assert requests.post(hook(server, f"instances/{iid}/{op}"), timeout=T).status_code == 410
        assert requests.post(hook(server, f"instances/nope/{op}"), timeout=T).status_code == 404
    client(server, "terminate", id=iid)        # the SDK accepts 410
    r = requests.post(f"{server.url}/api/client/terminate", json={"id": "nope"}, timeout=T)
    assert r.status_code == 500                # the SDK raises on 404


def test_failed_instance_status(durable_host):
    server, engine = durable_host()
    iid = start_rpc(server, "failing").json()["id"]
    status = engine.wait_for(iid)
    assert status["runtimeStatus"] == "Failed"
    url = hook(server, f"instances/{iid}")
    assert requests.get(url, timeout=T).status_code == 200
    assert requests.get(url, params={"returnInternalServerErrorOnFailure": "true"}, timeout=T).status_code == 500
    assert "orchestrator gave up" in json.dumps(requests.get(url, timeout=T).json()["output"])


def test_start_errors(durable_host):
    server, engine = durable_host()
    r = start_rpc(server, "nope")
    assert r.status_code == 400
    assert r.json()["ExceptionMessage"].startswith("The function 'nope' doesn't exist, is disabled, or is not an "
                                                   "orchestrator function.")
    r = requests.post(rpc(server, "orchestrators/hello"), data="{bad", timeout=T)
    assert (r.status_code, r.json()["Message"]) == (400, "Invalid JSON content")
    assert start_rpc(server, "waiter", instance_id="fixed").status_code == 202
    engine.run_until_idle()
    r = start_rpc(server, "waiter", instance_id="fixed")
    assert r.status_code == 500
    assert "already exists" in r.json()["ExceptionMessage"]
    assert start_rpc(server, "hello", instance_id="@bad").status_code == 400
    assert requests.get(rpc(server, "orchestrators/hello"), timeout=T).status_code == 404
    r = requests.post(f"{server.url}/api/client/wait", json={"input": "W"}, timeout=T)
    assert (r.status_code, r.text) == (200, "Hello W!")   # the SDK sends a str output as is (not JSON-encoded)


def test_start_and_wait(durable_host):
    server, _engine = durable_host()
    r = start_rpc(server, "hello", "Z", timeout="5", pollingInterval="0.05")
    assert (r.status_code, r.json()) == (200, "Hello Z!")


def test_restart(durable_host):
    server, engine = durable_host()
    iid = start_rpc(server, "hello", "R", instance_id="orig").json()["id"]
    engine.wait_for(iid)
    r = requests.post(hook(server, f"instances/{iid}/restart"), timeout=T)
    assert r.status_code == 202
    new_id = r.json()["id"]
    assert new_id != iid and r.headers["Location"].startswith(hook(server, f"instances/{new_id}"))
    assert engine.wait_for(new_id)["output"] == "Hello R!"
    r = requests.post(hook(server, f"instances/{iid}/restart"), params={"restartWithNewInstanceId": "false"},
                      timeout=T)
    assert r.json()["id"] == iid
    engine.wait_for(iid)
    restarted = client(server, "restart", id=iid)["restarted"]
    assert isinstance(restarted, dict) and restarted["id"] != iid      # the SDK returns the whole payload: quirk
    r = requests.post(hook(server, "instances/nope/restart"), timeout=T)
    assert r.status_code == 400
    assert r.json()["Message"] == "InstanceId does not match a valid orchestration instance."


def test_list_filters_and_paging(durable_host):
    server, engine = durable_host()
    done = [start_rpc(server, "hello", str(i), instance_id=f"done-{i}").json()["id"] for i in range(5)]
    for iid in done:
        engine.wait_for(iid)
    boundary = datetime.fromtimestamp(engine.clock.time() + 1800, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    engine.clock.advance(3600)
    waiting = [start_rpc(server, "waiter", instance_id=f"wait-{i}").json()["id"] for i in range(3)]
    engine.run_until_idle()
    url = hook(server, "instances/")
    everything = requests.get(url, timeout=T)
    assert everything.status_code == 200
    assert sorted(s["instanceId"] for s in everything.json()) == sorted(done + waiting)
    assert everything.headers["x-ms-continuation-token"] == ""     # present and empty on the last page
    running = requests.get(url, params={"runtimeStatus": "Running,Pending"}, timeout=T).json()
    assert sorted(s["instanceId"] for s in running) == sorted(waiting)
    assert [s["instanceId"] for s in requests.get(url, params={"instanceIdPrefix": "done-3"}, timeout=T).json()] \
        == ["done-3"]
    assert sorted(s["instanceId"] for s in requests.get(url, params={"createdTimeFrom": boundary},
                                                         timeout=T).json()) == sorted(waiting)
    assert sorted(s["instanceId"] for s in requests.get(url, params={"createdTimeTo": boundary},
                                                         timeout=T).json()) == sorted(done)
    assert all(s["input"] is None for s in requests.get(url, params={"showInput": "false"}, timeout=T).json())
    # paging: 3 per page with the continuation header
    seen, token, pages = [], None, 0
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        page = requests.get(url, params={"top": "3"}, headers=headers, timeout=T)
        seen += [s["instanceId"] for s in page.json()]
        pages += 1
        token = page.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(done + waiting) and len(seen) == len(set(seen))
    # the SDK's get_status_by
    assert client(server, "list", statuses=["Running"], prefix="wait-")["ids"] == sorted(waiting)


def test_purge_by_id_and_by_filter(durable_host):
    server, engine = durable_host()
    ids = [start_rpc(server, "hello", str(i), instance_id=f"p-{i}").json()["id"] for i in range(4)]
    for iid in ids:
        engine.wait_for(iid)
    waiting = start_rpc(server, "waiter", instance_id="keep").json()["id"]
    engine.run_until_idle()
    r = requests.delete(hook(server, f"instances/{ids[0]}"), timeout=T)
    assert (r.status_code, r.json()) == (200, {"instancesDeleted": 1})
    assert requests.delete(hook(server, f"instances/{ids[0]}"), timeout=T).status_code == 404
    assert client(server, "purge", id=ids[1])["deleted"] == 1
    assert client(server, "purge", id=ids[1])["deleted"] == 0
    url = hook(server, "instances/")
    r = requests.delete(url, timeout=T)
    assert (r.status_code, r.json()) == (400, "Please provide value for 'createdTimeFrom' parameter.")
    start = datetime(2000, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = requests.delete(url, params={"createdTimeFrom": start, "runtimeStatus": "Completed"}, timeout=T)
    assert (r.status_code, r.json()) == (200, {"instancesDeleted": 2})
    assert requests.delete(url, params={"createdTimeFrom": start, "runtimeStatus": "Completed"},
                           timeout=T).status_code == 404
    assert engine.get_status(waiting) is not None


def test_entities_http_and_sdk(durable_host):
    server, engine = durable_host()

    def state_becomes(key, value):
        engine.wait_until(lambda: engine.read_entity("counter", key) == value, timeout=10,
                          what=f"counter {key} = {value}")

    assert requests.get(rpc(server, "entities/counter/k1"), timeout=T).status_code == 404
    client(server, "signal", key="k1", amount=5)             # the SDK double-encodes the input
    state_becomes("k1", "5")
    r = requests.post(hook(server, "entities/counter/k1"), params={"op": "add"}, json="3", timeout=T)
    assert r.status_code == 202
    state_becomes("k1", "8")
    r = requests.get(hook(server, "entities/counter/k1"), timeout=T)
    assert (r.status_code, r.json()) == (200, 8)
    assert client(server, "read", key="k1") == {"exists": True, "state": 8}
    requests.post(hook(server, "entities/counter/k2"), params={"op": "add"}, data="2",   # text: a string input
                  headers={"Content-Type": "text/plain"}, timeout=T)
    state_becomes("k2", "2")
    assert requests.get(hook(server, "entities/counter/k2"), timeout=T).json() == 2
    assert requests.delete(hook(server, "entities/counter/k1"), timeout=T).status_code == 202
    engine.wait_until(lambda: engine.read_entity("counter", "k1") is None, timeout=10, what="k1 deleted")
    assert requests.get(hook(server, "entities/counter/k1"), timeout=T).status_code == 404
    r = requests.post(hook(server, "entities/counter/a%5Cb"), params={"op": "add"}, json=1, timeout=T)
    assert r.status_code == 400 and "Entity keys must not contain" in r.json()["Message"]
    assert client(server, "read", key="none") == {"exists": False, "state": None}


def test_sdk_status_flags(durable_host):
    server, engine = durable_host()
    iid = start_rpc(server, "hello", "S").json()["id"]
    engine.wait_for(iid)
    plain = client(server, "status", id=iid)
    assert plain["found"] and plain["json"]["runtimeStatus"] == "Completed" and plain["history_len"] == 0
    full = client(server, "status", id=iid, history=True, history_output=True, input=True)
    assert full["history_len"] == 3   # ExecutionStarted, TaskCompleted, ExecutionCompleted (condensed)
    assert client(server, "status", id="nope")["found"] is False
    url = hook(server, f"instances/{iid}")
    events = requests.get(url, params={"showHistory": "true"}, timeout=T).json()["historyEvents"]
    assert [e["EventType"] for e in events] == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert "Result" not in events[1]
    events = requests.get(url, params={"showHistory": "true", "showHistoryOutput": "true"},
                          timeout=T).json()["historyEvents"]
    assert events[1]["Result"] == "Hello S!"


@pytest.mark.parametrize("prefix", ["/durabletask", "/runtime/webhooks/durabletask"])
def test_unknown_routes_are_404(durable_host, prefix):
    server, _ = durable_host()
    for method, path in [("GET", "/nothing"), ("POST", "/instances/x/unknownop"), ("PUT", "/instances/x"),
                         ("GET", "/instances/x/raiseEvent/e")]:
        assert requests.request(method, f"{server.url}{prefix}{path}", timeout=T).status_code == 404


def test_keys_protect_the_webhook_but_not_the_rpc_endpoint(durable_host, durable_app):
    from devhost.http import HostKeys

    keys = HostKeys.generate()
    server, engine = durable_host(keys=keys)
    r = requests.post(f"{server.url}/api/start/hello", json="K", timeout=T)
    assert r.status_code == 401
    r = requests.post(f"{server.url}/api/start/hello", json="K", params={"code": keys.function_key("http_start")},
                      timeout=T)
    assert r.status_code == 202
    status_url = r.json()["statusQueryGetUri"]
    assert status_url.endswith(f"&code={keys.system_key('durabletask')}")
    engine.wait_for(r.json()["id"])
    assert requests.get(status_url, timeout=T).status_code == 200
    bare = status_url.split("&code=")[0]
    assert requests.get(bare, timeout=T).status_code == 401
    assert requests.get(bare, headers={"x-functions-key": keys.master_key}, timeout=T).status_code == 200
    assert requests.get(bare, params={"code": keys.function_key("http_start")}, timeout=T).status_code == 401
    assert requests.get(rpc(server, f"instances/{r.json()['id']}"), timeout=T).status_code == 200


def test_event_grid_and_timer_starters_use_the_client(durable_host):
    server, engine = durable_host()
    events = [{"id": f"e{i}", "subject": "s", "eventType": "T", "eventTime": "2024-05-01T10:00:00Z",
               "data": {"name": f"N{i}"}, "dataVersion": "1"} for i in (1, 2)]
    r = requests.post(f"{server.url}/runtime/webhooks/eventgrid", params={"functionName": "on_model_event"},
                      json=events, headers={"aeg-event-type": "Notification"}, timeout=T)
    assert r.status_code == 202
    assert engine.wait_for("eg-e1")["output"] == "Hello N1!"
    assert engine.wait_for("eg-e2")["output"] == "Hello N2!"
    due = server.timers.schedule_of("on_leap_days")
    engine.clock.advance(due - engine.clock.time())
    server.timers.tick()

    def timer_instance():
        items, _ = engine.query(statuses=["Completed"])
        return [s for s in items if s["output"] == "Hello timer!"]

    assert len(engine.wait_until(timer_instance, timeout=10, what="the timer's orchestration")) == 1
