"""TokenRegistry and the App Service style managed-identity endpoint (what the DI emulator relies on)."""

from __future__ import annotations

import pytest
import requests

from emulators.identity import SYSTEM_ASSIGNED_CLIENT_ID, ManagedIdentityEndpoint, TokenRegistry, WallClock

COGNITIVE = "https://cognitiveservices.azure.com"


@pytest.fixture
def registry() -> TokenRegistry:
    return TokenRegistry(WallClock(), lifetime=600)


@pytest.fixture
def endpoint(registry):
    with ManagedIdentityEndpoint(registry, user_assigned=("uami-client-id",)) as running:
        yield running


def test_registry_audience_expiry_and_revocation(registry):
    token, expires_on = registry.issue(COGNITIVE + "/.default")
    assert expires_on == pytest.approx(registry.clock.time() + 600, abs=2)
    assert registry.validate(token, COGNITIVE)
    assert registry.validate(token, COGNITIVE + "/")
    assert not registry.validate(token, "https://vault.azure.net")
    assert registry.check(token, "https://vault.azure.net") == "wrong_audience"
    assert registry.check("forged", COGNITIVE) == "unknown"
    other, _ = registry.issue(COGNITIVE)
    assert other != token
    registry.clock.advance(601)
    assert registry.check(token, COGNITIVE) == "expired"
    registry.revoke_all()
    assert registry.check(other, COGNITIVE) == "unknown"


def test_registry_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lifetime"):
        TokenRegistry(WallClock(), lifetime=0)
    with pytest.raises(ValueError, match="resource"):
        TokenRegistry().issue(" ")
    with pytest.raises(ValueError, match="forward"):
        WallClock().advance(-1)


def _ask(endpoint, header=None, **params):
    params = {"api-version": "2019-08-01", "resource": COGNITIVE} | params
    headers = {} if header is None else {"X-IDENTITY-HEADER": header}
    return requests.get(endpoint.endpoint, params={k: v for k, v in params.items() if v is not None},
                        headers=headers, timeout=5)


def test_token_response_shape(endpoint, registry):
    answer = _ask(endpoint, endpoint.header)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) >= {"access_token", "expires_on", "resource", "token_type"}
    assert body["token_type"] == "Bearer" and body["resource"] == COGNITIVE
    assert isinstance(body["expires_on"], str) and int(body["expires_on"]) > registry.clock.time()
    assert body["client_id"] == SYSTEM_ASSIGNED_CLIENT_ID
    assert registry.validate(body["access_token"], COGNITIVE)


def test_user_assigned_identity(endpoint):
    answer = _ask(endpoint, endpoint.header, client_id="uami-client-id")
    assert answer.status_code == 200 and answer.json()["client_id"] == "uami-client-id"
    unknown = _ask(endpoint, endpoint.header, client_id="someone-else")
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "Unable to load the proper Managed Identity."
    assert set(unknown.json()) == {"statusCode", "message", "correlationId"}


@pytest.mark.parametrize(("header", "params", "status", "words"), [
    (None, {}, 401, "X-IDENTITY-HEADER"),
    ("wrong", {}, 401, "does not match"),
    ("ok", {"api-version": "2018-02-01"}, 400, "2019-08-01"),
    ("ok", {"resource": None}, 400, "resource"),
])
def test_errors_have_app_service_shape(endpoint, registry, header, params, status, words):
    answer = _ask(endpoint, endpoint.header if header == "ok" else header, **params)
    assert answer.status_code == status
    body = answer.json()
    assert body["statusCode"] == status and words in body["message"]
    assert registry.issued_count == 0
    assert endpoint.request_log[-1]["status"] == status


def test_wrong_path_is_404(endpoint):
    answer = requests.get(endpoint.endpoint.replace("/msi/token", "/other"), timeout=5,
                          headers={"X-IDENTITY-HEADER": endpoint.header})
    assert answer.status_code == 404
