"""A running stack for the operator's view (catalog, CLI, dashboard tests): the local cloud and the real app on
devhost over HTTP with function keys enforced, one virtual clock that devhost moves whenever it is idle (so a
copy started over HTTP finishes while a client polls, as `make up` would, in virtual seconds).

Resources: `src` (eastus, key from Key Vault) → targets `west` (westus2, key) and `europe` (westeurope, managed
identity), all 2024-11-30; a v2.1 pair `v2src` → `v2dst` for the v2 mapping.
"""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devhost.engine.clock import VirtualClock
from devhost.http.keys import HostKeys
from devhost.testing import DevHost
from emulators import LocalCloud
from emulators.identity import managed_identity_environment
from ferry import auth as ferry_auth
from tests.host_process import wait_for

REPO = Path(__file__).resolve().parents[1]
SUB = "00000000-0000-0000-0000-0000000000c7"
V4 = "2024-11-30"
RESOURCES = (  # alias, region, apiVersion, keyless
    ("src", "eastus", V4, False),
    ("west", "westus2", V4, False),
    ("europe", "westeurope", V4, True),
    ("v2src", "northeurope", "v2.1", False),
    ("v2dst", "uksouth", "v2.1", False),
)


def resource_id(alias: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-ops/providers/Microsoft.CognitiveServices/accounts/di-{alias}"


@dataclass
class Stack:
    cloud: Any
    host: Any
    keys: HostKeys
    clock: VirtualClock

    @property
    def url(self) -> str:
        return self.host.url

    @property
    def key(self) -> str:
        """The host's default key: opens every function-level function, as in Azure."""
        return self.keys.host_keys["default"]

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.url}/api/{path}", params=params, headers={"x-functions-key": self.key},
                            timeout=60)

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(f"{self.url}/api/{path}", json=body, headers={"x-functions-key": self.key}, timeout=60)

    def resource(self, alias: str) -> Any:
        return self.cloud.resource(alias)

    def seed(self, alias: str, model_id: str | None = None, **fields: Any) -> str:
        """A ready model created on `alias` directly (v3 unless the resource is v2); the clock then moves on a
        second so the next model has another creation time."""
        family = "v2" if alias.startswith("v2") else "v3"
        made = self.resource(alias).seed_model(family, model_id, **fields)
        self.clock.advance(1.0)
        return made

    def model(self, alias: str, model_id: str) -> dict[str, Any] | None:
        return self.resource(alias).model(model_id)

    def copy(self, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        """POST /api/copies and wait (devhost moves the clock) until the run has finished; its status."""
        resp = self.post("copies", body)
        assert resp.status_code == 202, resp.text
        return self.host.wait_for(resp.json()["id"], timeout=timeout)

    def provenance(self, source: str, model_id: str) -> dict[str, str]:
        """The provenance tags a ModelFerry copy of `source`'s `model_id` carries (the shared contract)."""
        model = self.model(source, model_id)
        assert model is not None
        return {"modelferry.sourceResource": resource_id(source), "modelferry.sourceModelId": model_id,
                "modelferry.sourceCreated": model["createdDateTime"]}


def cloud_config() -> tuple[dict[str, Any], dict[str, str]]:
    keys = {alias: secrets.token_hex(16) for alias, *_ in RESOURCES}
    resources = [{"name": alias, "region": region, "port": 0, "keys": [keys[alias], secrets.token_hex(16)],
                  "resourceId": resource_id(alias), "copySeconds": 2.0, "trainSeconds": 1.0}
                 for alias, region, _v, _k in RESOURCES]
    vault = {f"key-{alias}": keys[alias] for alias, _r, _v, keyless in RESOURCES if not keyless}
    return {"resources": resources, "keyVault": {"port": 0, "secrets": vault}}, keys


def app_settings(cloud: Any) -> dict[str, str]:
    state = cloud.state
    entries = {}
    for alias, _region, version, keyless in RESOURCES:
        res = state["resources"][alias]
        entry = {"endpoint": res["endpoint"], "region": res["region"], "resourceId": res["resourceId"],
                 "apiVersion": version}
        if not keyless:
            entry["keySecretName"] = f"key-{alias}"
        entries[alias] = entry
    kv = state["keyVault"]
    return {"FERRY_RESOURCES": json.dumps(entries), "FERRY_SOURCE": "src", "FERRY_TARGETS": "west,europe",
            "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
            # no scheduled sync: the idle virtual clock would jump to its next occurrence and sync the estate
            "FERRY_SYNC_SCHEDULE": "",
            **managed_identity_environment(kv["identityEndpoint"], kv["identityHeader"])}


@contextmanager
def running_stack(workdir: Path) -> Iterator[Stack]:
    """Start the local cloud and devhost (HTTP, keys enforced, virtual clock that skips when idle)."""
    # Another stack in this process may have left a managed-identity token or key cache for ITS local cloud.
    ferry_auth.reset_process_state()
    clock = VirtualClock()
    config, _ = cloud_config()
    cloud = LocalCloud.from_config(config, clock=clock)
    cloud.start()
    host = None
    try:
        keys = HostKeys.generate([])
        host = DevHost.start(REPO, settings=app_settings(cloud), clock=clock, store=workdir / "store.sqlite",
                             http=True, keys=keys, time_skipping="always")
        sys.modules.pop("function_app", None)  # see tests/e2e/conftest.py: the app object indexes only once
        yield Stack(cloud, host, keys, clock)
    finally:
        if host is not None:
            host.stop()
        cloud.stop()
        sys.modules.pop("function_app", None)
        ferry_auth.reset_process_state()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


wait_http = wait_for  # state that arrives through durable signals is polled in real time
