"""The local stack of the estate-sync end-to-end tests: its own local cloud and devhost on one virtual clock.

Why not the shared e2e stack: a sync takes EVERY model of its source, so it needs a source no other test writes
to. Resources: `src` (2024-11-30) with targets `dst` (2024-11-30) and `small` (2023-07-31, room for few
models), `v2src` → `v2dst` (v2.1; also a target of the wrong generation for `src`), and `mirror` (2024-11-30, a
second target like `dst`: copies may be relayed between the two). Keys come from the emulated
Key Vault through the emulated managed identity, as in Azure.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests

from devhost.engine.clock import VirtualClock
from devhost.http.keys import HostKeys
from devhost.testing import DevHost
from emulators import LocalCloud
from ferry.provenance import SOURCE_CREATED, SOURCE_MODEL_ID, SOURCE_RESOURCE
from tests.service_calls import start_training
from tests.virtual_time import steps_on_clock

REPO = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-00000000005c"
VERSIONS = {"src": "2024-11-30", "dst": "2024-11-30", "small": "2023-07-31", "v2src": "v2.1", "v2dst": "v2.1",
            "mirror": "2024-11-30"}
SMALL_LIMIT = 6
MANAGEMENT = {"authorizeCopy", "copy", "deleteModel", "train", "build", "compose"}


def forget_app_modules() -> None:
    """Drop the imported app: the timer trigger is registered (or not) when `SyncStart` is imported, from
    FERRY_SYNC_SCHEDULE, so each stack must import it afresh with its own settings — and leave no timer behind
    for stacks that start later in the same process."""
    for name in [n for n in sys.modules if n == "function_app" or n == "SyncStart" or n.startswith("SyncStart.")]:
        sys.modules.pop(name, None)


def resource_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-sync/providers/Microsoft.CognitiveServices/accounts/di-{name}"


class SyncStack:
    """Cloud + host + helpers: HTTP in, emulator state out."""

    def __init__(self, cloud: LocalCloud, host: DevHost, keys: HostKeys, clock: VirtualClock,
                 clocks: ExitStack) -> None:
        self.cloud, self.host, self.keys, self.clock = cloud, host, keys, clock
        self._clocks = clocks

    @classmethod
    def start(cls, tmp: Path, *, schedule: str = "", extra: dict[str, str] | None = None) -> SyncStack:
        clock = VirtualClock()
        keys_by = {name: [secrets.token_hex(16), secrets.token_hex(16)] for name in VERSIONS}
        config = {"resources": [{"name": name, "region": region, "port": 0, "keys": keys_by[name],
                                 "resourceId": resource_id(name), "copySeconds": 3.0, "trainSeconds": 1.0,
                                 **({"modelLimit": SMALL_LIMIT} if name == "small" else {})}
                                for name, region in zip(VERSIONS, ("eastus", "westus2", "westeurope", "eastus2",
                                                                    "centralus", "westeurope"), strict=True)],
                  "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys_by.items()}}}
        cloud = LocalCloud.from_config(config, clock=clock)
        cloud.start()
        state = cloud.state
        resources = {name: {"endpoint": e["endpoint"], "region": e["region"], "resourceId": e["resourceId"],
                            "apiVersion": VERSIONS[name], "keySecretName": f"key-{name}"}
                     for name, e in state["resources"].items()}
        kv = state["keyVault"]
        settings = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "src", "FERRY_TARGETS": "dst,small",
                    "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
                    "FERRY_SYNC_SCHEDULE": schedule, "IDENTITY_ENDPOINT": kv["identityEndpoint"],
                    "IDENTITY_HEADER": kv["identityHeader"], **(extra or {})}
        keys = HostKeys.generate(["start_copy", "on_model_trained", "start_sync"])
        clocks = ExitStack()
        clocks.enter_context(steps_on_clock(clock))  # held copy calls on the host's clock (tests/virtual_time.py)
        forget_app_modules()
        try:
            host = DevHost.start(REPO, settings=settings, clock=clock, store=tmp / "store.sqlite", http=True,
                                 keys=keys)
        except BaseException:
            cloud.stop()
            clocks.close()
            forget_app_modules()
            raise
        forget_app_modules()
        return cls(cloud, host, keys, clock, clocks)

    @classmethod
    @contextmanager
    def running(cls, tmp: Path, **options: Any) -> Iterator[SyncStack]:
        """`start`, and `stop` however the block ends: the body of each test module's stack fixture."""
        stack = cls.start(tmp, **options)
        try:
            yield stack
        finally:
            stack.stop()

    def stop(self) -> None:
        try:
            self.host.stop()
        finally:
            self.cloud.stop()
            self._clocks.close()
            forget_app_modules()

    # -------------------------------------------------------------------------------------------- HTTP in
    def post(self, route: str, body: Any, function: str) -> requests.Response:
        return requests.post(f"{self.host.url}/api/{route}", json=body, timeout=30,
                             headers={"x-functions-key": self.keys.function_key(function)})

    def sync(self, body: Any) -> requests.Response:
        return self.post("sync", body, "start_sync")

    def run_sync(self, body: Any, timeout: float = 120) -> dict[str, Any]:
        resp = self.sync(body)
        assert resp.status_code == 202, resp.text
        status = self.host.wait_for(resp.json()["id"], timeout=timeout)
        assert status["runtimeStatus"] == "Completed", status
        return status

    def copy(self, model_id: str, targets: list[str], source: str = "src") -> dict[str, Any]:
        resp = self.post("copies", {"modelId": model_id, "source": source, "targets": targets}, "start_copy")
        assert resp.status_code == 202, resp.text
        status = self.host.wait_for(resp.json()["id"], timeout=60)
        assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status
        return status["output"]

    # -------------------------------------------------------------------------------------------- cloud
    def handle(self, name: str) -> Any:
        return self.cloud.resource(name)

    def models(self, name: str) -> dict[str, dict[str, Any]]:
        return {m["modelId"]: m for m in self.handle(name).models()}

    def log_position(self) -> dict[str, int]:
        return {name: len(self.handle(name).request_log()) for name in VERSIONS}

    def operations_since(self, start: dict[str, int], *, accepted_only: bool = False) -> dict[str, list[str]]:
        """The operations each resource served since `start` (with `accepted_only`, not those answered 4xx/5xx)."""
        return {name: [e["operation"] for e in self.handle(name).request_log()[start[name]:]
                       if not accepted_only or e["status"] < 400] for name in VERSIONS}

    def train(self, name: str, model_id: str | None = None) -> str:
        """Build (v3+) / train (v2) a model through the REST API and wait until it is ready; returns its id."""
        handle, version = self.handle(name), VERSIONS[name]
        model_id = start_training(handle.endpoint, handle.key, version, model_id, tags={"team": "ap"})
        for _ in range(50):
            self.cloud.advance(1.0)
            found = self.handle(name).model(model_id)
            if found is not None and found.get("status", "ready") == "ready":
                return model_id
        raise AssertionError(f"model {model_id} never became ready on {name}")

    def delete(self, name: str, model_id: str) -> None:
        with self.handle(name).world.lock:
            del self.handle(name).backend.models[model_id]


def assert_replicas_name_the_source(stack: SyncStack, models: list[str], targets: list[str]) -> None:
    """Every replica of `models` on `targets`: ready, the source's creation time, its own `team` tag, and
    provenance naming `src` — whether it was copied from the source or relayed by another target."""
    source_models = stack.models("src")
    for target in targets:
        on_target = stack.models(target)
        for model in models:
            replica = on_target[model]
            assert replica["status"] == "ready"
            assert replica["createdDateTime"] == source_models[model]["createdDateTime"]
            tags = replica["tags"]
            assert tags[SOURCE_RESOURCE] == resource_id("src") and tags[SOURCE_MODEL_ID] == model
            assert tags[SOURCE_CREATED] == source_models[model]["createdDateTime"] and tags["team"] == "ap"
