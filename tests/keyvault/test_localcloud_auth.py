"""ferry.auth + ferry.keys against the whole local cloud (the DI emulator, this Key Vault, managed identity):
the key-rotation procedure and a managed-identity token outliving a clock jump, through ferry.http.call."""

from __future__ import annotations

import json

import pytest

from emulators import LocalCloud
from emulators.identity import OTHER_CREDENTIAL_VARS, WallClock, managed_identity_environment
from ferry import auth, settings
from ferry.errors import FerryError
from ferry.http import call, new_session

RESOURCE_ID = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/fr-east"


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    config = {"resources": [{"name": "fr-east", "region": "eastus", "port": 0, "keys": ["k1-east", "k2-east"],
                             "resourceId": RESOURCE_ID}],
              "keyVault": {"port": 0, "secrets": {"fr-east-key": "k1-east"}},
              "workdir": str(tmp_path / "cloud")}
    with LocalCloud.from_config(config, clock=WallClock()) as running:
        kv = running.state["keyVault"]
        for name in OTHER_CREDENTIAL_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in managed_identity_environment(kv["identityEndpoint"], kv["identityHeader"]).items():
            monkeypatch.setenv(name, value)
        auth.reset_process_state()
        try:
            yield running
        finally:
            auth.reset_process_state()


def _settings(cloud) -> settings.Settings:
    state = cloud.state
    endpoint = state["resources"]["fr-east"]["endpoint"]
    entry = {"endpoint": endpoint, "region": "eastus", "resourceId": RESOURCE_ID, "apiVersion": "2024-11-30"}
    return settings.parse({
        "FERRY_RESOURCES": json.dumps({"east-key": entry | {"keySecretName": "fr-east-key"}, "east-mi": entry}),
        "FERRY_KEY_VAULT_URI": state["keyVault"]["uri"],
        "FERRY_KEY_VAULT_CA_BUNDLE": state["keyVault"]["caBundle"],
    })


def _info(conf: settings.Settings, alias: str) -> int:
    resource = conf.resource(alias)
    session = new_session()
    try:
        response = call("GET", f"{resource.endpoint}/documentintelligence/info?api-version=2024-11-30",
                        auth=auth.authenticator(resource, conf), operation="getInfo", api_version="2024-11-30",
                        resource=alias, http=session)
        return response.status_code
    finally:
        session.close()


def test_key_rotation_procedure(cloud):
    conf = _settings(cloud)
    east = cloud.resource("fr-east")
    assert _info(conf, "east-key") == 200
    # 1. move the secret to key2; caches still hold key1, which keeps working
    cloud.keyvault.set_secret("fr-east-key", "k2-east")
    assert _info(conf, "east-key") == 200
    # 2. regenerate key1: the cached key1 gets 401, the provider re-reads the vault and retries with key2
    east.rotate_key("key1")
    before = len(east.request_log())
    assert _info(conf, "east-key") == 200
    assert [e["status"] for e in east.request_log()[before:]] == [401, 200]


def test_wrong_key_in_vault_is_reported_not_retried(cloud):
    conf = _settings(cloud)
    cloud.keyvault.set_secret("fr-east-key", "not-a-key-of-this-resource")
    with pytest.raises(FerryError) as caught:
        _info(conf, "east-key")
    assert caught.value.status == 401
    assert "not-a-key-of-this-resource" not in str(caught.value.to_dict())


def test_managed_identity_token_survives_a_clock_jump(cloud):
    conf = _settings(cloud)
    assert _info(conf, "east-mi") == 200
    cloud.advance(cloud.tokens.lifetime + 60)  # the token expires on the shared clock, not for MSAL
    assert _info(conf, "east-mi") == 200
    statuses = [e["status"] for e in cloud.resource("fr-east").request_log()]
    assert statuses[-2:] == [401, 200]
