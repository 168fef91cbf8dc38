"""The gateway in front of each resource: keys, bearer tokens, routes, api-versions, rate limits, faults."""

from __future__ import annotations

import time

import pytest
import requests
from emu_helpers import client, v3_authorize

from emulators.docintel import errors

ACCESS_DENIED = {"error": {"code": "401", "message": errors.ACCESS_DENIED}}


# ---------------------------------------------------------------- keys and tokens
@pytest.mark.parametrize("api", ["v2.0", "2023-07-31", "2024-11-30"])
def test_bad_key_is_the_gateway_401(src, api) -> None:
    r = client(src, api, key="not-a-key").get("/custom/models" if api == "v2.0" else "/documentModels")
    assert r.status_code == 401 and r.json() == ACCESS_DENIED
    assert r.headers["Content-Type"] == "application/json"
    assert "Strict-Transport-Security" not in r.headers and "x-envoy-upstream-service-time" not in r.headers
    assert "apim-request-id" in r.headers


def test_missing_key_has_its_own_text(src) -> None:
    r = requests.get(f"{src.endpoint}/formrecognizer/documentModels?api-version=2023-07-31", timeout=5)
    assert r.status_code == 401 and "missing subscription key" in r.json()["error"]["message"]


def test_both_keys_work_and_rotation_revokes_only_the_rotated_one(src) -> None:
    old1, old2 = src.keys
    assert client(src, "v2.1", key=old1).get("/custom/models").status_code == 200
    assert client(src, "v2.1", key=old2).get("/custom/models").status_code == 200
    new1 = src.rotate_key("key1")
    assert new1 != old1 and src.keys == (new1, old2)
    assert client(src, "v2.1", key=old1).get("/custom/models").status_code == 401
    assert client(src, "v2.1", key=old2).get("/custom/models").status_code == 200
    assert client(src, "v2.1", key=new1).get("/custom/models").status_code == 200


def test_bearer_tokens_from_the_token_registry_are_accepted(cloud, src) -> None:
    url = f"{src.endpoint}/documentintelligence/documentModels?api-version=2024-11-30"
    token, _ = cloud.identity.issue("https://cognitiveservices.azure.com")
    ok = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert ok.status_code == 200 and ok.json() == {"value": []}
    vault_token, _ = cloud.identity.issue("https://vault.azure.net")
    assert requests.get(url, headers={"Authorization": f"Bearer {vault_token}"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer forged"}, timeout=5).status_code == 401
    cloud.advance(25 * 3600)  # tokens expire on the shared clock
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 401


# ---------------------------------------------------------------- strict routing
def test_unmatched_route_is_the_gateway_404_naming_the_path(src) -> None:
    r = client(src, "2024-11-30").post("/documentModels/:copyTo", {})
    assert r.status_code == 404 and r.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert "/documentModels/:copyTo" in r.headers["x-ms-emulator-detail"]
    assert client(src, "v2.0").post("/custom/models/compose", {"modelIds": []}).status_code == 404
    assert requests.get(f"{src.endpoint}/nothing/here", timeout=5).status_code == 404


@pytest.mark.parametrize("query", ["?api-version=2099-01-01", "?api-version=2024-11-30", ""])
def test_unsupported_api_version_is_refused_naming_it(src, query) -> None:
    r = requests.get(f"{src.endpoint}/formrecognizer/documentModels{query}",
                     headers={"Ocp-Apim-Subscription-Key": src.key}, timeout=5)
    assert r.status_code == 404
    detail = r.headers["x-ms-emulator-detail"]
    assert ("2099-01-01" in detail or "2024-11-30" in detail or "missing api-version" in detail)
    assert "2022-08-31, 2023-07-31" in detail


def test_success_headers_are_the_real_set(src) -> None:
    r = client(src, "2023-07-31").get("/documentModels")
    for name in ("apim-request-id", "Strict-Transport-Security", "X-Content-Type-Options",
                 "x-envoy-upstream-service-time", "x-ms-region"):
        assert name in r.headers
    assert r.headers["x-ms-region"] == "East US"
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.content == b'{"value":[]}'  # compact JSON


# ---------------------------------------------------------------- rate limits
def test_management_calls_are_limited_per_second_with_retry_after(cloud, west) -> None:
    west.set_rate_limits(manage=5)
    c = client(west, "2024-11-30")
    statuses = [c.post("/documentModels:authorizeCopy", {"modelId": f"m-{i}"}).status_code for i in range(5)]
    throttled = c.post("/documentModels:authorizeCopy", {"modelId": "m-6"})
    assert statuses == [200] * 5 and throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.headers["apim-operation-name"] == "Manage+-+Authorize+copy+model"
    assert "x-envoy-upstream-service-time" not in throttled.headers
    message = throttled.json()["error"]["message"]
    assert throttled.json()["error"]["code"] == "429"
    assert message.startswith("Requests to the Manage - Authorize copy model Operation under Azure AI Document "
                              "Intelligence 2024-11-30 have exceeded call rate limit of your current "
                              "FormRecognizer S0 pricing tier. Please retry after 1 seconds.")
    assert c.get("/documentModels").status_code == 200  # other groups unaffected
    cloud.advance(1.0)
    assert c.post("/documentModels:authorizeCopy", {"modelId": "m-7"}).status_code == 200


def test_get_operation_and_list_groups_default_to_s0(cloud) -> None:
    handle = cloud.resource("src")
    handle.set_rate_limits(manage=5, get=50, list=10)
    c = client(handle, "2022-08-31")
    handle.seed_model("v3", "mdl")
    gets = [c.get("/documentModels/mdl").status_code for _ in range(51)]
    lists = [c.get("/documentModels").status_code for _ in range(11)]
    assert gets.count(429) == 1 and gets[-1] == 429
    assert lists.count(429) == 1 and lists[-1] == 429
    assert handle.rate_limits() == {"manage": 5, "get": 50, "list": 10}


# ---------------------------------------------------------------- faults
def _pattern(handle, seed: int) -> list[int]:
    handle.set_faults(error_rate=0.5, seed=seed, status=500)
    c = client(handle, "v2.1")
    return [c.get("/custom/models").status_code for _ in range(20)]


def test_random_faults_are_repeatable_with_a_seed(src) -> None:
    first, second, other = _pattern(src, 7), _pattern(src, 7), _pattern(src, 8)
    assert first == second and set(first) == {200, 500} and first != other
    src.clear_faults()
    assert set(_pattern(src, 7)) == {200, 500}  # configure re-arms; clear then nothing:
    src.clear_faults()
    assert client(src, "v2.1").get("/custom/models").status_code == 200


def test_next_n_calls_of_an_operation_fail_then_recover(cloud, src, west) -> None:
    src.seed_model("v3", "mdl")
    c = client(src, "2023-07-31")
    op = c.post("/documentModels/mdl:copyTo", v3_authorize(client(west, "2023-07-31"), "dst")).headers[
        "Operation-Location"]
    src.fail_next("getOperation", count=2, kind="5xx", status=503)
    codes = [c.poll(op).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert src.request_counts()["getOperation"] == 3
    assert [e["fault"] for e in src.request_log()[-3:]] == ["5xx", "5xx", None]


def test_a_dropped_connection_still_starts_the_copy(cloud, src, west) -> None:
    src.seed_model("v3", "mdl")
    auth = v3_authorize(client(west, "2023-07-31"), "dst")
    src.fail_next("copy", kind="drop")
    with pytest.raises(requests.exceptions.RequestException):
        client(src, "2023-07-31").post("/documentModels/mdl:copyTo", auth)
    assert [o["kind"] for o in src.operations()] == ["documentModelCopyTo"]  # it happened server-side
    cloud.advance(3)
    assert west.model("dst") is not None


def test_slow_responses_and_injected_429(src) -> None:
    src.fail_next("listModels", kind="slow", seconds=0.3)
    c = client(src, "2024-11-30")
    started = time.monotonic()
    assert c.get("/documentModels").status_code == 200
    assert time.monotonic() - started >= 0.3
    src.fail_next("*", kind="429", retry_after=7)
    throttled = c.get("/documentModels")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"


def test_concurrent_requests_are_served_while_one_is_slow(src) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # The slow call is long enough that ten quick ones fit inside it even on a loaded 2-core CI machine.
    src.fail_next("getInfo", kind="slow", seconds=3.0)
    c = client(src, "2023-07-31")
    with ThreadPoolExecutor(max_workers=12) as pool:
        slow = pool.submit(lambda: (time.monotonic(), c.get("/info"), time.monotonic()))
        time.sleep(0.05)
        quick = list(pool.map(lambda i: client(src, "2023-07-31").post(
            "/documentModels:authorizeCopy", {"modelId": f"par-{i}"}).status_code, range(10)))
        quick_done = time.monotonic()
        slow_started, slow_response, slow_done = slow.result()
    assert quick == [200] * 10
    assert quick_done < slow_done and slow_done - slow_started >= 3.0  # not serialised behind the slow one
    assert slow_response.status_code == 200
    assert src.request_counts()["authorizeCopy"] == 10


def test_a_client_resetting_its_connection_is_not_reported_as_a_server_error(src, capfd) -> None:
    """A pool closing its kept-alive connections (RST) at exit is not a server fault: no traceback on stderr,
    and the server goes on serving."""
    import socket
    import struct

    host, port = src.endpoint.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
    sock.close()
    time.sleep(0.3)  # the server thread reads the reset
    assert requests.get(f"{src.endpoint}/formrecognizer/v2.1/custom/models",
                        headers={"Ocp-Apim-Subscription-Key": src.key}, timeout=10).status_code == 200
    assert "Traceback" not in capfd.readouterr().err
