"""The inspection/control interface: Python handles and ``/_emulator/`` over HTTP; Key Vault composition."""

from __future__ import annotations

import requests
from emu_helpers import client, three_regions, v3_authorize

from emulators import LocalCloud


def ctl(handle, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, f"{handle.endpoint}/_emulator/{path}", json=body, timeout=5)


def test_models_including_invalid_and_operations_are_visible(cloud, src, west) -> None:
    src.set_copy_behaviour("fail_3013")
    src.seed_model("v3", "mdl")
    op = client(src, "2023-07-31").post("/documentModels/mdl:copyTo",
                                        v3_authorize(client(west, "2023-07-31"), "left")).headers["Operation-Location"]
    assert ctl(west, "GET", "models").json() == {"models": []}
    ctl(src, "POST", "clock/advance", {"seconds": 5})
    listed = ctl(west, "GET", "models").json()["models"]
    assert [(m["modelId"], m["status"], m["origin"]["kind"]) for m in listed] == [("left", "incomplete", "copied")]
    ops = ctl(src, "GET", "operations").json()["operations"]
    assert ops[0]["status"] == "failed" and ops[0]["operationId"] in op and ops[0]["error"]["code"] == "Timeout"


def test_request_log_counts_per_operation_and_never_holds_keys(src) -> None:
    c = client(src, "v2.1")
    c.get("/custom/models")
    c.get("/custom/models?op=summary")
    client(src, "v2.1", key="wrong").get("/custom/models")
    log = ctl(src, "GET", "requests").json()
    assert log["counts"] == {"listModels": 2, "getInfo": 1}
    assert [e["status"] for e in log["requests"]] == [200, 200, 401]
    assert src.key not in str(log) and "wrong" not in str(log)
    ctl(src, "DELETE", "requests")
    assert src.request_log() == []


def test_seed_reset_and_clock_over_http(src, clock) -> None:
    seeded = ctl(src, "POST", "models", {"family": "v2", "modelName": "seeded"}).json()
    assert seeded["status"] == "ready" and seeded["modelName"] == "seeded"
    before = ctl(src, "GET", "clock").json()["now"]
    assert ctl(src, "POST", "clock/advance", {"seconds": 60}).json()["now"] == before + 60 == clock.time()
    src.rotate_key("key2", "temporary")
    assert ctl(src, "POST", "reset").json() == {"reset": "src"}
    assert src.models() == [] and src.keys == ("src-key1", "src-key2")


def test_keys_faults_behaviours_and_rate_limits_over_http(src) -> None:
    rotated = ctl(src, "POST", "keys/rotate", {"key": "key1"}).json()
    assert rotated["key"] == "key1" and src.keys[0] == rotated["value"]
    faults = ctl(src, "PUT", "faults", {"errorRate": 0.25, "seed": 3, "operations": ["getModel"]}).json()
    assert faults["errorRate"] == 0.25 and faults["operations"] == ["getModel"]
    nxt = ctl(src, "POST", "faults/next", {"operation": "listModels", "count": 2, "kind": "5xx", "status": 500})
    assert nxt.json()["next"] == [{"operation": "listModels", "remaining": 2, "kind": "5xx", "status": 500,
                                   "seconds": 0.5, "retryAfter": 1}]
    assert client(src, "2022-08-31").get("/documentModels").status_code == 500
    assert ctl(src, "DELETE", "faults").json()["next"] == []
    queued = ctl(src, "POST", "copy-behaviours", {"behaviour": "fail", "code": "2024", "count": 2}).json()
    assert [q["code"] for q in queued["queued"]] == ["2024", "2024"]
    assert ctl(src, "PUT", "rate-limits", {"manage": 1, "list": None}).json() == {"manage": 1, "get": None,
                                                                               "list": None}


def test_control_errors_name_the_problem(src) -> None:
    bad = ctl(src, "POST", "copy-behaviours", {"behaviour": "explode"})
    assert bad.status_code == 400 and "explode" in bad.json()["error"]
    assert "expire_authorization" in bad.json()["error"]  # the list of behaviours names every one
    expire = ctl(src, "POST", "copy-behaviours", {"behaviour": "expire_authorization"})
    assert expire.status_code == 200 and expire.json()["queued"][-1]["behaviour"] == "expire_authorization"
    assert "retryAftr" in ctl(src, "POST", "faults/next", {"operation": "copy", "retryAftr": 1}).json()["error"]
    assert "nope" in ctl(src, "POST", "faults/next", {"operation": "nope"}).json()["error"]
    assert ctl(src, "PUT", "rate-limits", {"manage": -1}).status_code == 400
    unknown = ctl(src, "GET", "whatever")
    assert unknown.status_code == 404 and "GET /_emulator/models" in unknown.json()["known"]


def test_localcloud_state_and_key_vault_with_managed_identity(tmp_path) -> None:
    config = {**three_regions(), "keyVault": {"port": 0, "secrets": {"fr-src-key": "value-1"}},
              "stateFile": str(tmp_path / "state.json"), "workdir": str(tmp_path / "work")}
    with LocalCloud.from_config(config) as cloud:
        state = cloud.state
        assert set(state["resources"]) == {"src", "west", "cmk"}
        assert state["resources"]["west"]["region"] == "westus2"
        assert set(state["keyVault"]) == {"uri", "caBundle", "identityEndpoint", "identityHeader"}
        assert (tmp_path / "state.json").read_text().count("127.0.0.1") >= 4
        assert "src-key1" not in (tmp_path / "state.json").read_text()
        assert cloud.keyvault.get_secret("fr-src-key") == "value-1"
        kv = state["keyVault"]
        issued = requests.get(kv["identityEndpoint"], params={"api-version": "2019-08-01",
                                                              "resource": "https://cognitiveservices.azure.com"},
                              headers={"X-IDENTITY-HEADER": kv["identityHeader"]}, timeout=5).json()
        url = f"{state['resources']['src']['endpoint']}/documentintelligence/info?api-version=2024-11-30"
        answered = requests.get(url, headers={"Authorization": f"Bearer {issued['access_token']}"}, timeout=5)
        assert answered.status_code == 200 and answered.json()["customDocumentModels"]["limit"] == 5000
