"""The Key Vault emulator and the identity endpoint through plain HTTP (requests), checking the wire shapes."""

from __future__ import annotations

import re
import socket

import pytest
import requests

VAULT = "https://vault.azure.net"


def _token(kv, resource: str = VAULT) -> str:
    answer = requests.get(kv.identity_endpoint, params={"api-version": "2019-08-01", "resource": resource},
                          headers={"X-IDENTITY-HEADER": kv.identity_header}, timeout=5)
    assert answer.status_code == 200
    return answer.json()["access_token"]


def _get(kv, path: str, token: str | None, **params):
    params.setdefault("api-version", "7.5")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(kv.uri + path, params=params, headers=headers, verify=str(kv.ca_bundle), timeout=5)


def test_untrusted_certificate_is_refused(kv):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(kv.uri + "/secrets/other", timeout=5, verify=True)


def test_challenge_without_token(kv):
    answer = _get(kv, "/secrets/other", None)
    assert answer.status_code == 401
    assert re.fullmatch(r'Bearer authorization="https://login\.microsoftonline\.com/[0-9a-f-]{36}", '
                        r'resource="https://vault\.azure\.net"', answer.headers["WWW-Authenticate"])
    assert answer.json() == {"error": {"code": "Unauthorized",
                                       "message": "AKV10000: Request is missing a Bearer or PoP token."}}


def test_secret_bundle_shape(kv, clock):
    clock.advance(1000)
    version = kv.set_secret("shaped", "v-1", content_type="text/plain")
    answer = _get(kv, "/secrets/shaped/", _token(kv))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["value"] == "v-1"
    assert body["id"] == f"{kv.uri}/secrets/shaped/{version}"
    assert re.fullmatch(r"[0-9a-f]{32}", version)
    assert body["contentType"] == "text/plain"
    assert body["attributes"]["enabled"] is True
    assert body["attributes"]["created"] == body["attributes"]["updated"]
    assert abs(body["attributes"]["created"] - clock.time()) < 5  # timestamps follow the shared clock


def test_token_for_another_audience_is_rejected(kv):
    answer = _get(kv, "/secrets/other", _token(kv, "https://cognitiveservices.azure.com"))
    assert answer.status_code == 401
    assert answer.json()["error"]["message"].startswith("AKV10022: Invalid audience")
    assert "WWW-Authenticate" in answer.headers


def test_expired_token_is_rejected_on_the_shared_clock(kv, clock):
    token = _token(kv)
    assert _get(kv, "/secrets/other", token).status_code == 200
    clock.advance(kv.tokens.lifetime + 1)
    answer = _get(kv, "/secrets/other", token)
    assert answer.status_code == 401
    assert "TokenExpired" in answer.json()["error"]["message"]


@pytest.mark.parametrize("version", ["7.0", "7.3", "7.6", "2016-10-01", "2026-04-01"])
def test_known_api_versions_accepted(kv, version):
    assert _get(kv, "/secrets/other", _token(kv), **{"api-version": version}).status_code == 200


@pytest.mark.parametrize("version", ["", "7.9", "2099-01-01", "latest"])
def test_unknown_or_missing_api_version_is_400(kv, version):
    answer = _get(kv, "/secrets/other", _token(kv), **{"api-version": version})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "BadParameter"
    assert "api-version" in error["message"] or version in error["message"]
    assert "7.5" in error["message"]  # says what to use instead


def test_not_found_body(kv):
    answer = _get(kv, "/secrets/missing/", _token(kv))
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "SecretNotFound"
    assert error["message"].startswith("A secret with (name/id) missing was not found in this key vault.")


def test_throttle_body_and_retry_after(kv):
    token = _token(kv)
    kv.throttle_next(2, retry_after=3)
    first, second, third = (_get(kv, "/secrets/other", token) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    assert first.json()["error"]["code"] == "Throttled"


def test_put_creates_versions_and_validates(kv):
    token = _token(kv)
    url = kv.uri + "/secrets/put-me"
    common = {"params": {"api-version": "7.5"}, "headers": {"Authorization": f"Bearer {token}"},
              "verify": str(kv.ca_bundle), "timeout": 5}
    one = requests.put(url, json={"value": "a"}, **common).json()
    two = requests.put(url, json={"value": "b", "tags": {"k": "v"}}, **common).json()
    assert one["id"] != two["id"] and two["tags"] == {"k": "v"}
    versions = _get(kv, "/secrets/put-me/versions", token).json()
    assert [v["id"] for v in versions["value"]] == [one["id"], two["id"]]
    assert all("value" not in v for v in versions["value"])
    no_value = requests.put(url, json={"contentType": "x"}, **common)
    not_json = requests.put(url, data=b"{nope", **common)
    bad_name = requests.put(kv.uri + "/secrets/bad_name", json={"value": "a"}, **common)
    for answer in (no_value, not_json, bad_name):
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "BadParameter"
    assert "invalid name: bad_name" in bad_name.json()["error"]["message"]


def test_paging_and_bad_skiptoken(kv):
    token = _token(kv)
    for index in range(3):
        kv.set_secret("paged", f"v{index}")
    first = _get(kv, "/secrets/paged/versions", token, maxresults="2").json()
    assert len(first["value"]) == 2
    assert first["nextLink"].startswith(kv.uri + "/secrets/paged/versions?")
    second = requests.get(first["nextLink"], headers={"Authorization": f"Bearer {token}"},
                          verify=str(kv.ca_bundle), timeout=5).json()
    assert len(second["value"]) == 1 and second["nextLink"] is None
    assert _get(kv, "/secrets", token, **{"$skiptoken": "garbage!"}).status_code == 400
    assert _get(kv, "/secrets", token, maxresults="26").status_code == 400


def test_unknown_route_and_method(kv):
    token = _token(kv)
    assert _get(kv, "/keys/k", token).status_code == 404
    deleted = requests.delete(kv.uri + "/secrets/other", params={"api-version": "7.5"},
                              headers={"Authorization": f"Bearer {token}"}, verify=str(kv.ca_bundle), timeout=5)
    assert deleted.status_code == 405
    assert kv.get_secret("other") == "x"


def test_reset_restores_configured_state(kv):
    token = _token(kv)
    kv.set_secret("other", "changed")
    kv.set_secret("extra", "e")
    kv.throttle_next(5)
    kv.deny_access()
    kv.reset()
    assert kv.request_log == []
    answer = _get(kv, "/secrets/other", token)  # tokens survive a reset; faults do not
    assert answer.status_code == 200 and answer.json()["value"] == "x"
    assert _get(kv, "/secrets/extra", token).status_code == 404


def test_request_log_never_holds_tokens_or_values(kv):
    token = _token(kv)
    _get(kv, "/secrets/fr-eastus-key", token)
    text = repr(kv.request_log) + repr(kv.identity.request_log)
    assert token not in text and "key-one" not in text
    assert kv.request_log[-1]["operation"] == "getSecret"


def test_stop_frees_the_ports(tmp_path):
    from emulators.keyvault import KeyVaultEmulator

    vault = KeyVaultEmulator(secrets={}, workdir=tmp_path).start()
    token = _token(vault)
    assert _get(vault, "/secrets", token).status_code == 200
    ports = [int(vault.uri.rsplit(":", 1)[1]), int(vault.identity_endpoint.split(":")[2].split("/")[0])]
    vault.stop()
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


def test_state_block_for_the_state_file(kv):
    state = kv.state()
    assert state["uri"] == kv.uri and state["caBundle"] == str(kv.ca_bundle)
    assert kv.ca_bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert state["identityEndpoint"].startswith("http://127.0.0.1:")
    assert state["identityHeader"] == kv.identity_header


def test_servers_bind_loopback_only(kv):
    assert kv._server.host == "127.0.0.1"
    assert kv.identity._server.host == "127.0.0.1"


def test_values_and_tokens_listed_for_leak_scans(kv):
    token = _token(kv)
    kv.set_secret("other", "x2")
    assert sorted(kv.secret_values()) == ["key-one", "x", "x2"]
    assert kv.tokens.issued_tokens() == [token]
