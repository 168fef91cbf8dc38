"""ferry.steps with the real credential path: keys from the emulated Key Vault, managed-identity bearer tokens.

One source resource reached with a key read from Key Vault (SecretClient + DefaultAzureCredential through the
local identity endpoint), one target reached keyless (bearer token). Then the source key is rotated in both the
resource and the vault: the next call gets a 401, re-reads the key once and succeeds. Nothing secret in logs.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest

import ferry.auth
from emulators import LocalCloud
from emulators.identity import OTHER_CREDENTIAL_VARS, managed_identity_environment
from ferry import steps
from ferry.docintel import is_copy_of
from ferry.settings import load

SUB = "00000000-0000-0000-0000-0000000000bb"
class FrozenClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self._now, self._lock = start, threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def _resource(name: str, region: str) -> dict:
    return {"name": name, "region": region, "keys": [f"{name}-secret-key-1-abcdef", f"{name}-secret-key-2-abcdef"],
            "resourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/"
                          f"accounts/{name}", "copySeconds": 2.0}


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    config = {"resources": [_resource("east", "eastus"), _resource("west", "westus2")],
              "keyVault": {"port": 0, "secrets": {"di-east-key": "east-secret-key-1-abcdef"}},
              "workdir": str(tmp_path / "cloud")}
    with LocalCloud.from_config(config, clock=FrozenClock()) as running:
        kv = running.state["keyVault"]
        for name in OTHER_CREDENTIAL_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in managed_identity_environment(kv["identityEndpoint"], kv["identityHeader"]).items():
            monkeypatch.setenv(name, value)
        ferry.auth.reset_process_state()
        try:
            yield running
        finally:
            ferry.auth.reset_process_state()


def app_settings(cloud) -> dict[str, str]:
    east, west = cloud.resource("east"), cloud.resource("west")
    resources = {
        "east": {"endpoint": east.endpoint, "region": east.region, "resourceId": east.resource_id,
                 "apiVersion": "2024-11-30", "keySecretName": "di-east-key"},
        "west": {"endpoint": west.endpoint, "region": west.region, "resourceId": west.resource_id,
                 "apiVersion": "2024-11-30"},
    }
    kv = cloud.state["keyVault"]
    return {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "east", "FERRY_TARGETS": "west",
            "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"]}


def test_copy_with_vault_key_and_managed_identity_then_key_rotation(cloud, caplog):
    s = load(app_settings(cloud))
    east = cloud.resource("east")
    model_id = east.seed_model("v3", "claims-model", api_version="2024-11-30", description="claims")
    with caplog.at_level(logging.DEBUG):
        checked = steps.check_source_model(s, "east", model_id)
        started = steps.authorize_and_start_copy(s, "east", "west", model_id, description=checked.description)
        cloud.advance(3)
        done = steps.poll_copy(s, "east", started.operation_url, target_model_id=started.target_model_id)
        target = steps.get_target_model(s, "west", started.target_model_id)

        # rotation: the resource's key1 changes and the vault gets the new value; the cached key is now stale
        new_key = east.rotate_key("key1", "east-secret-key-1-ROTATED")
        cloud.keyvault.set_secret("di-east-key", new_key)
        east.clear_request_log()
        again = steps.check_source_model(s, "east", model_id)

    assert done.status == "succeeded" and target.exists
    assert is_copy_of(checked.fingerprint, target.fingerprint)
    statuses = [entry["status"] for entry in east.request_log()]
    assert statuses == [401, 200] and again.ready  # one 401, one re-read of the key, one retry

    secrets = [*cloud.keyvault.secret_values(), new_key, *east.keys, *cloud.resource("west").keys]
    tokens = list(cloud.identity.issued_tokens())
    assert tokens, "the keyless target was called with a managed-identity token"
    leaked = [x for x in secrets + tokens if x and x in caplog.text]
    assert not leaked
    assert "east-secret-key" not in json.dumps([c.to_dict() for c in (checked, started, done, target, again)])
