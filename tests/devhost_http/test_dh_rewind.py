"""Rewind through the SDK client (`client.rewind` → `POST {rpcBaseUrl}instances/{id}/rewind?reason=`)."""

import requests

from devhost.engine import history as h

T = 10


def client(server, op, **args):
    r = requests.post(f"{server.url}/api/client/{op}", json=args, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()


def test_sdk_rewind_replays_a_failed_instance_and_refuses_others(durable_host):
    server, engine = durable_host()
    iid = engine.start_new("failing")
    assert engine.wait_for(iid)["runtimeStatus"] == "Failed"
    greeted = sum(e["EventType"] == h.TASK_COMPLETED for e in engine.history(iid))
    assert client(server, "rewind", id=iid, reason="try again") == {"ok": True}
    # the orchestrator raises by itself, so the rewound instance fails again; the completed activity is not re-run
    engine.wait_until(lambda: any(e["EventType"] == h.GENERIC and e.get("Data") == "try again"
                                  for e in engine.history(iid))
                      and engine.get_status(iid)["runtimeStatus"] == "Failed", timeout=10, what="failed again")
    assert sum(e["EventType"] == h.TASK_COMPLETED for e in engine.history(iid)) == greeted == 1
    assert [e["OrchestrationStatus"] for e in engine.history(iid)
            if e["EventType"] == h.EXECUTION_COMPLETED] == [h.ORCHESTRATION_STATUS["Failed"]]   # the first: generic
    done = engine.start_new("hello", input_json='"\\"x\\""')
    engine.wait_for(done)
    assert client(server, "rewind", id=done) == {
        "error": "The rewind operation is only supported on failed orchestration instances."}
    assert client(server, "rewind", id="nobody") == {"error": "No instance with ID nobody found."}
