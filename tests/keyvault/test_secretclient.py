"""The real SecretClient + DefaultAzureCredential (App Service managed identity) against the emulator."""

from __future__ import annotations

import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

USER_ASSIGNED_CLIENT_ID = "11111111-2222-4333-8444-555555555555"  # as configured in conftest.py


def _client(kv, credential=None) -> SecretClient:
    return SecretClient(kv.uri, credential or DefaultAzureCredential(), connection_verify=str(kv.ca_bundle),
                        verify_challenge_resource=False)


def test_default_credential_reads_secret_through_challenge(mi_env):
    client = _client(mi_env)
    secret = client.get_secret("fr-eastus-key")
    assert secret.value == "key-one"
    assert secret.properties.vault_url == mi_env.uri
    assert secret.properties.version == mi_env.store.get("fr-eastus-key").version
    log = mi_env.request_log
    assert [(e["auth"], e["status"]) for e in log] == [("none", 401), ("bearer", 200)]
    assert mi_env.identity.request_log == [
        {"resource": "https://vault.azure.net", "identity": "system", "status": 200}]
    client.get_secret("fr-eastus-key")
    assert len(mi_env.request_log) == 3  # challenge cached: one request per call afterwards


def test_token_credentials_env_selects_only_managed_identity(mi_env):
    credential = DefaultAzureCredential()
    assert [type(c) for c in credential.credentials] == [ManagedIdentityCredential]


def test_rotation_versions_and_old_version_still_readable(mi_env):
    client = _client(mi_env)
    old = client.get_secret("fr-eastus-key")
    new_version = mi_env.set_secret("fr-eastus-key", "key-two")
    assert client.get_secret("fr-eastus-key").value == "key-two"
    assert client.get_secret("fr-eastus-key", old.properties.version).value == "key-one"
    versions = [p.version for p in client.list_properties_of_secret_versions("fr-eastus-key")]
    assert versions == [old.properties.version, new_version]


def test_set_secret_by_sdk_creates_a_version(mi_env):
    client = _client(mi_env)
    created = client.set_secret("fr-westus-key", "w-1", content_type="text/plain", tags={"region": "westus"})
    again = client.set_secret("fr-westus-key", "w-2")
    assert created.properties.version != again.properties.version
    fetched = client.get_secret("fr-westus-key", created.properties.version)
    assert (fetched.value, fetched.properties.content_type, fetched.properties.tags) == \
        ("w-1", "text/plain", {"region": "westus"})
    assert mi_env.get_secret("fr-westus-key") == "w-2"


def test_list_secrets_follows_next_links(mi_env):
    for index in range(5):
        mi_env.set_secret(f"bulk-{index}", "v")
    client = _client(mi_env)
    names = [p.name for p in client.list_properties_of_secrets(max_page_size=2)]
    assert sorted(names) == sorted(["fr-eastus-key", "other"] + [f"bulk-{i}" for i in range(5)])
    assert mi_env.request_counts()["listSecrets"] == 1 + 4  # challenge + ceil(7 / 2) pages


def test_missing_secret_and_missing_version_are_404(mi_env):
    client = _client(mi_env)
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_secret("does-not-exist")
    assert missing.value.error.code == "SecretNotFound"
    assert "does-not-exist" in missing.value.message
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("fr-eastus-key", "0" * 32)


def test_throttled_once_then_value(mi_env):
    client = _client(mi_env)
    client.get_secret("other")
    mi_env.throttle_next(1, retry_after=0)
    assert client.get_secret("fr-eastus-key").value == "key-one"
    assert [e["status"] for e in mi_env.request_log][-2:] == [429, 200]


def test_throttle_honours_retry_after(mi_env):
    client = _client(mi_env)
    client.get_secret("other")
    mi_env.throttle_next(1, retry_after=1)
    started = time.monotonic()
    assert client.get_secret("other").value == "x"
    assert time.monotonic() - started >= 0.9


class _ForeignToken:
    """A token the vault never issued (another tenant, a forged one)."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("not-issued-by-the-registry", int(time.time()) + 3600)


def test_token_not_issued_by_identity_endpoint_is_rejected(kv):
    client = _client(kv, _ForeignToken())
    with pytest.raises(ClientAuthenticationError) as caught:
        client.get_secret("fr-eastus-key")
    assert "AKV10032" in caught.value.message
    assert [e["status"] for e in kv.request_log] == [401, 401]


def test_wrong_identity_header_fails_credential(mi_env, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-header")
    with pytest.raises(ClientAuthenticationError):
        _client(mi_env).get_secret("fr-eastus-key")
    assert [e["status"] for e in mi_env.identity.request_log] == [401]
    assert all(e["auth"] == "none" for e in mi_env.request_log)


def test_user_assigned_identity_by_client_id(mi_env):
    credential = DefaultAzureCredential(managed_identity_client_id=USER_ASSIGNED_CLIENT_ID)
    assert _client(mi_env, credential).get_secret("other").value == "x"
    assert mi_env.identity.request_log[-1]["identity"] == USER_ASSIGNED_CLIENT_ID


def test_unknown_user_assigned_identity_fails_like_app_service(mi_env):
    credential = DefaultAzureCredential(managed_identity_client_id="99999999-0000-4000-8000-000000000000")
    with pytest.raises(ClientAuthenticationError) as caught:
        _client(mi_env, credential).get_secret("other")
    assert "Unable to load the proper Managed Identity" in str(caught.value)


def test_denied_access_is_403_forbidden_by_rbac(mi_env):
    mi_env.deny_access("fr-eastus-key")
    client = _client(mi_env)
    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("fr-eastus-key")
    assert caught.value.status_code == 403
    assert caught.value.error.code == "Forbidden"
    assert client.get_secret("other").value == "x"


def test_disabled_secret_is_403(mi_env):
    mi_env.disable_secret("other")
    with pytest.raises(HttpResponseError) as caught:
        _client(mi_env).get_secret("other")
    assert caught.value.status_code == 403
    assert "disabled" in caught.value.message


def test_older_api_version_accepted(mi_env):
    client = SecretClient(mi_env.uri, DefaultAzureCredential(), connection_verify=str(mi_env.ca_bundle),
                          verify_challenge_resource=False, api_version="7.4")
    assert client.get_secret("other").value == "x"
    assert {e["apiVersion"] for e in mi_env.request_log} == {"7.4"}


def test_default_credential_chain_without_selector_reaches_managed_identity(mi_env, monkeypatch):
    monkeypatch.delenv("AZURE_TOKEN_CREDENTIALS")
    started = time.monotonic()
    assert _client(mi_env).get_secret("other").value == "x"
    assert time.monotonic() - started < 5
    assert len(mi_env.identity.request_log) == 1
