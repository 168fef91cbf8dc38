"""`GET /api/runs` and `GET /api/doctor` end to end (HTTP in, Durable status and emulator state out)."""

from __future__ import annotations

from tests.operator_stack import Stack, unique


def test_runs_newest_first_with_outcome_and_filters(ops: Stack) -> None:
    good, bad = ops.seed("src", unique("run-ok")), ops.seed("src", unique("run-bad"))
    first = ops.copy({"modelId": good, "targets": ["west"]})
    ops.resource("src").set_copy_behaviour("fail", 3, code="2024")
    second = ops.copy({"modelId": bad, "targets": ["west"]})
    body = ops.get("runs").json()
    ids = [r["instanceId"] for r in body["runs"]]
    assert ids.index(second["instanceId"]) < ids.index(first["instanceId"])
    row = next(r for r in body["runs"] if r["instanceId"] == second["instanceId"])
    assert row["kind"] == "copy" and row["name"] == "copy_model" and row["artifactId"] == bad
    assert row["source"] == "src" and row["outcome"] == "failed" and row["runtimeStatus"] == "Completed"
    assert row["error"]["code"] == "2024" and row["error"]["hint"] and row["error"]["target"] == "west"
    assert row["statusQueryGetUri"].startswith(ops.url) and row["createdTime"] and row["lastUpdatedTime"]
    assert not any(":" in i for i in ids)  # per-target sub-orchestrations are parts of a run, not runs
    failed = [r["instanceId"] for r in ops.get("runs", failed="true").json()["runs"]]
    assert second["instanceId"] in failed and first["instanceId"] not in failed
    assert ops.get("runs", kind="sync").json()["runs"] == [] or all(
        r["kind"] == "sync" for r in ops.get("runs", kind="sync").json()["runs"])
    assert second["instanceId"] in [r["instanceId"] for r in ops.get("runs", since="1h").json()["runs"]]
    assert ops.get("runs", since="2999-01-01T00:00:00Z").json()["runs"] == []
    for params in ({"since": "yesterday"}, {"kind": "batch"}, {"failed": "perhaps"}):
        bad_query = ops.get("runs", **params)
        assert bad_query.status_code == 400 and bad_query.json()["error"]["code"] == "InvalidQuery"


def test_runs_need_the_function_key(ops: Stack) -> None:
    import requests
    assert requests.get(f"{ops.url}/api/runs", timeout=10).status_code == 401


def test_doctor_reports_every_resource_and_the_fix_for_a_broken_key(ops: Stack) -> None:
    body = ops.get("doctor").json()
    assert body["ok"] is True, body["problems"]
    assert set(body["resources"]) == {"src", "west", "europe", "v2src", "v2dst"}
    west = body["resources"]["west"]
    assert west["apiVersion"] == "2024-11-30" and west["credentialOk"] is True and west["role"] == "target"
    assert west["models"]["limit"] > 0 and isinstance(west["models"]["count"], int)
    assert west["classifierCopy"] == {"supported": True}
    assert body["resources"]["europe"]["auth"] == "managed identity"
    assert body["resources"]["v2src"]["classifierCopy"]["supported"] is False
    assert body["keyVault"]["secrets"]["key-west"] == "readable"

    handle = ops.resource("west")
    original = handle.keys[0]
    handle.rotate_key("key1")  # the vault still holds the old key
    try:
        broken = ops.get("doctor").json()
    finally:
        handle.rotate_key("key1", original)
    assert broken["ok"] is False and broken["resources"]["west"]["credentialOk"] is False
    problem = next(p for p in broken["problems"] if p["where"] == "west")
    assert problem["severity"] == "error" and problem["fix"] and problem["code"]
