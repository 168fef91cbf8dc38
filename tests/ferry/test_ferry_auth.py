"""ferry.auth: per-resource request authentication (key from Key Vault, or managed-identity token), driven
through ferry.http.call against a loopback stand-in of a Document Intelligence gateway."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler

import pytest
from ferry_testkit import Ticker

from emulators.identity import OTHER_CREDENTIAL_VARS, TokenRegistry, WallClock, managed_identity_environment
from emulators.keyvault import KeyVaultEmulator
from emulators.keyvault.loopback import LoopbackServer
from ferry import auth, keys
from ferry.errors import FerryError
from ferry.http import call, new_session

COGNITIVE = "https://cognitiveservices.azure.com"
class Gateway:
    """Accepts the key currently stored in the vault, or a registry token for Cognitive Services (like the
    DI emulator's gateway); anything else gets the gateway's 401."""

    def __init__(self, vault: KeyVaultEmulator, secret: str) -> None:
        self.vault, self.secret, self.requests = vault, secret, 0

    def accepts(self, headers) -> bool:
        key = headers.get("Ocp-Apim-Subscription-Key")
        if key is not None:
            return key == self.vault.get_secret(self.secret)
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        return scheme == "Bearer" and self.vault.tokens.validate(token, COGNITIVE)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        return

    def do_GET(self) -> None:
        gateway: Gateway = self.server.app
        gateway.requests += 1
        if gateway.accepts(self.headers):
            status, body = 200, {"customDocumentModels": {"count": 0, "limit": 500}}
        else:
            status, body = 401, {"error": {"code": "401", "message": "Access denied due to invalid "
                                           "subscription key or wrong API endpoint. Make sure to provide a valid "
                                           "key for an active subscription and use a correct regional API "
                                           "endpoint for your resource."}}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)



@pytest.fixture
def vault(tmp_path, monkeypatch):
    clock = WallClock()
    emulator = KeyVaultEmulator(secrets={"fr-key": "key-A"}, clock=clock, workdir=tmp_path / "kv",
                                tokens=TokenRegistry(clock)).start()
    for name in OTHER_CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in managed_identity_environment(emulator.identity_endpoint, emulator.identity_header).items():
        monkeypatch.setenv(name, value)
    auth.reset_process_state()
    try:
        yield emulator
    finally:
        auth.reset_process_state()
        emulator.stop()


@pytest.fixture
def gateway(vault):
    state = Gateway(vault, "fr-key")
    server = LoopbackServer(_Handler, app=state)
    server.start()
    state.url = f"http://127.0.0.1:{server.port}/documentintelligence/info?api-version=2024-11-30"
    try:
        yield state
    finally:
        server.stop()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def key_auth(vault, ticker) -> auth.KeyAuth:
    provider = keys.KeyProvider(vault.uri, ca_bundle=str(vault.ca_bundle), now=ticker)
    return auth.KeyAuth("fr-key", provider)


def _info(gateway, authenticator):
    session = new_session()
    try:
        return call("GET", gateway.url, auth=authenticator, operation="getInfo", api_version="2024-11-30",
                    resource="east", http=session)
    finally:
        session.close()


def vault_reads(vault) -> int:
    return sum(1 for e in vault.request_log if e["operation"] == "getSecret" and e["status"] == 200)


def test_key_headers(key_auth):
    assert key_auth.headers() == {"Ocp-Apim-Subscription-Key": "key-A"}


def test_rotated_key_is_picked_up_on_401_and_the_call_succeeds(vault, gateway, key_auth):
    assert _info(gateway, key_auth).status_code == 200
    vault.set_secret("fr-key", "key-B")  # rotation: the service now only accepts key-B
    assert _info(gateway, key_auth).status_code == 200
    assert gateway.requests == 3  # ok, 401 with the cached key-A, retry with key-B
    assert vault_reads(vault) == 2


def test_genuinely_wrong_key_fails_without_hammering(vault, gateway, key_auth, ticker):
    gateway.secret = "some-other-secret"
    vault.set_secret("some-other-secret", "the-real-key")
    for _ in range(5):
        with pytest.raises(FerryError) as caught:
            _info(gateway, key_auth)
        assert caught.value.status == 401 and caught.value.kind == "unauthorized"
        ticker.now += 1
    assert vault_reads(vault) == 2  # first read + one forced re-read in the 30 s window
    assert gateway.requests == 5  # never retried: the vault still holds the same (wrong) key


def test_managed_identity_token_path(vault, gateway):
    token_auth = auth.TokenAuth()
    headers = token_auth.headers()
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Bearer" and vault.tokens.validate(token, COGNITIVE)
    assert vault.identity.request_log[-1]["resource"] == COGNITIVE
    assert _info(gateway, token_auth).status_code == 200
    token_auth.headers()
    assert len(vault.identity.request_log) == 1  # cached until near expiry


def test_token_renewed_near_expiry(vault):
    from azure.identity import DefaultAzureCredential

    class Counting:
        """The real credential, counting how often ferry asks it (MSAL's own cache runs on real time)."""

        def __init__(self) -> None:
            self.inner, self.calls = DefaultAzureCredential(), 0

        def get_token(self, *scopes, **kwargs):
            self.calls += 1
            return self.inner.get_token(*scopes, **kwargs)

    fake_now = Ticker()
    fake_now.now = vault.clock.time()
    credential = Counting()
    token_auth = auth.TokenAuth(credential=credential, now=fake_now)
    token_auth.headers()
    fake_now.now += vault.tokens.lifetime - auth.TOKEN_REFRESH_MARGIN - 10
    token_auth.headers()
    assert credential.calls == 1
    fake_now.now += 11
    token_auth.headers()
    assert credential.calls == 2


def test_rejected_token_renewed_once_then_no_more(vault, gateway):
    token_auth = auth.TokenAuth()
    assert _info(gateway, token_auth).status_code == 200
    vault.tokens.revoke_all()  # e.g. the shared clock jumped past the token's life
    assert _info(gateway, token_auth).status_code == 200  # 401 → fresh credential → new token → retry
    assert gateway.requests == 3
    vault.tokens.revoke_all()
    with pytest.raises(FerryError):
        _info(gateway, token_auth)  # within 30 s of the last renewal: no second renewal
    assert len(vault.identity.request_log) == 2


def test_managed_identity_unavailable_is_clear(vault, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    auth.reset_process_state()
    with pytest.raises(FerryError) as caught:
        auth.TokenAuth().headers()
    assert caught.value.code == "ManagedIdentityUnavailable" and caught.value.kind == "unauthorized"
    assert "Cognitive Services User" in caught.value.hint


def test_authenticator_per_resource_is_process_wide(vault):
    from ferry import settings as ferry_settings

    resource_id = "/subscriptions/s/resourceGroups/r/providers/Microsoft.CognitiveServices/accounts/a"
    settings = ferry_settings.parse({
        "FERRY_RESOURCES": json.dumps({
            "east": {"endpoint": "http://127.0.0.1:9", "region": "eastus", "resourceId": resource_id,
                     "apiVersion": "2024-11-30", "keySecretName": "fr-key"},
            "west": {"endpoint": "http://127.0.0.1:9", "region": "westus", "resourceId": resource_id,
                     "apiVersion": "v2.1"}}),
        "FERRY_KEY_VAULT_URI": vault.uri, "FERRY_KEY_VAULT_CA_BUNDLE": str(vault.ca_bundle)})
    east = auth.authenticator(settings.resource("east"), settings)
    west = auth.authenticator(settings.resource("west"), settings)
    assert isinstance(east, auth.KeyAuth) and isinstance(west, auth.TokenAuth)
    assert east is auth.authenticator(settings.resource("east"), settings)
    assert west is auth.authenticator({"endpoint": "x"}, settings)
    assert east.headers() == {"Ocp-Apim-Subscription-Key": "key-A"}
    assert west.headers()["Authorization"].startswith("Bearer ")


def test_nothing_secret_in_repr_or_logs(vault, gateway, key_auth, caplog):
    token_auth = auth.TokenAuth()
    with caplog.at_level(logging.DEBUG):
        _info(gateway, key_auth)
        token_auth.headers()
        vault.set_secret("fr-key", "key-B")
        _info(gateway, key_auth)
    token = token_auth.headers()["Authorization"].split(" ")[1]
    text = caplog.text + repr(key_auth) + repr(token_auth)
    for secret in ("key-A", "key-B", token):
        assert secret not in text
