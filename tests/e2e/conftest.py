"""End-to-end harness: the local cloud (emulators) and the real app on devhost, sharing ONE virtual clock.

One `LocalCloud` for the session holds, for every API version, a source and two targets: `<v>-src` and `<v>-a` read
their keys from the emulated Key Vault (real SecretClient + DefaultAzureCredential through the emulated managed-
identity endpoint), `<v>-b` is keyless (managed-identity bearer token). Extra resources: a CMK source (`cmk-src`)
for the degrade rule; 2024-11-30 resources in the classifier-copy regions (`cls-src` East US, `cls-a` West US 2,
`cls-b` West Europe, keyless) and one outside them (`cls-far`, North Europe). One `DevHost` serves the app over HTTP
with function keys enforced. Copy durations, authorization expiry and durable timers all move on the shared clock,
so a copy takes virtual seconds.

Tests use unique model ids, so they need no reset; helpers clear injected faults after each test. Every log record
of the session is captured (`LOG_LINES`) for the secrets scan.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from e2e_support import CLASSIFIER_REGIONS, COPY_SECONDS, REGIONS, REPO, VERSIONS, alias, resource_id

from devhost.engine.clock import VirtualClock
from devhost.http.keys import HostKeys
from devhost.testing import DevHost
from emulators import LocalCloud
from tests.service_calls import api_prefix, start_training


class LogCapture(logging.Handler):
    """Keeps every formatted record (all loggers, DEBUG and up) for the secrets scan."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not break the run
            self.lines.append(repr(record.__dict__))


class Env:
    """The running stack and what tests need to drive and inspect it."""

    def __init__(self, cloud: LocalCloud, host: DevHost, keys: HostKeys, clock: VirtualClock,
                 resource_keys: dict[str, list[str]], store: Path, logs: LogCapture) -> None:
        self.cloud = cloud
        self.host = host
        self.keys = keys
        self.clock = clock
        self.resource_keys = resource_keys
        self.store = store
        self.logs = logs
        self.issued_tokens: set[str] = set()

    # -------------------------------------------------------------------------------------------- HTTP in
    def post_copy(self, body: Any, *, raw: bytes | None = None, key: str | None = "function") -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if key == "function":
            headers["x-functions-key"] = self.keys.function_key("start_copy")
        elif key:
            headers["x-functions-key"] = key
        data = raw if raw is not None else None
        if raw is None:
            return requests.post(f"{self.host.url}/api/copies", json=body, headers=headers, timeout=30)
        return requests.post(f"{self.host.url}/api/copies", data=data, headers=headers, timeout=30)

    def publish(self, events: Any, *, cloud_events: bool = False) -> requests.Response:
        headers = {"aeg-event-type": "Notification",
                   "x-functions-key": self.keys.system_key("eventgrid"),
                   "Content-Type": "application/cloudevents-batch+json" if cloud_events else "application/json"}
        return requests.post(f"{self.host.url}/runtime/webhooks/eventgrid", params={"functionName":
                             "on_model_trained"}, json=events, headers=headers, timeout=30)

    def wait(self, instance_id: str, timeout: float = 60) -> dict[str, Any]:
        status = self.host.wait_for(instance_id, timeout=timeout)
        return status

    def instances(self, prefix: str = "") -> list[dict[str, Any]]:
        found, _ = self.host.engine.query(prefix=prefix or None, top=1000)
        return found

    # -------------------------------------------------------------------------------------------- cloud
    def endpoint(self, name: str) -> str:
        return self.cloud.resource(name).endpoint

    def key(self, name: str) -> str:
        return self.cloud.resource(name).key

    def models(self, name: str) -> list[dict[str, Any]]:
        return self.cloud.resource(name).models()

    def model_ids(self, name: str) -> list[str]:
        return [m["modelId"] for m in self.models(name)]

    def collect_tokens(self) -> None:
        """Remember every copy-authorization and managed-identity token issued so far (for the scan)."""
        for handle in self.cloud.resources.values():
            with handle.world.lock:
                self.issued_tokens.update(handle.backend.authorizations.keys())
        self.issued_tokens.update(getattr(self.cloud.tokens, "_tokens", {}).keys())

    def train(self, name: str, version: str, model_id: str | None = None, *, wait: bool = True,
              **fields: Any) -> str:
        """Train (v2) / build (v3+) a model in resource `name` through the REST API; returns its id.

        `wait=False` returns as soon as the service accepted the training (the model is still being built)."""
        base, key = self.endpoint(name), self.key(name)
        model_id = start_training(base, key, version, model_id, description=fields.get("description", "e2e"),
                                  tags=fields.get("tags"))
        if version.startswith("v2"):
            get_url, params = f"{base}/formrecognizer/{version}/custom/models/{model_id}", {}
        else:
            get_url, params = f"{base}{api_prefix(version)}/documentModels/{model_id}", {"api-version": version}
        if not wait:
            return model_id
        for _ in range(50):
            self.cloud.advance(1.0)
            got = requests.get(get_url, params=params, headers={"Ocp-Apim-Subscription-Key": key}, timeout=10)
            if got.status_code == 200:
                status = got.json().get("modelInfo", {}).get("status", "ready")
                if status == "ready":
                    return model_id
        raise AssertionError(f"model {model_id} never became ready on {name}")


def cloud_config(resource_keys: dict[str, list[str]]) -> dict[str, Any]:
    resources = []
    names = [(alias(v, role), v) for v in VERSIONS for role in ("src", "a", "b")]
    names += [("cmk-src", "2024-11-30"), ("cmk-a", "2024-11-30")]
    names += [(name, "2024-11-30") for name in CLASSIFIER_REGIONS]
    for i, (name, _version) in enumerate(names):
        resource_keys[name] = [secrets.token_hex(16), secrets.token_hex(16)]
        region = CLASSIFIER_REGIONS.get(name) or REGIONS[i % len(REGIONS)]
        resources.append({"name": name, "region": region, "port": 0,
                          "keys": resource_keys[name], "resourceId": resource_id(name),
                          "cmk": name == "cmk-src", "copySeconds": COPY_SECONDS, "trainSeconds": 1.0})
    vault = {f"key-{name}": keys[0] for name, keys in resource_keys.items() if not name.endswith("-b")}
    return {"resources": resources, "keyVault": {"port": 0, "secrets": vault}}


def app_settings(cloud: LocalCloud) -> dict[str, str]:
    import json

    state = cloud.state
    ferry_resources = {}
    versions = {alias(v, role): v for v in VERSIONS for role in ("src", "a", "b")}
    versions |= {"cmk-src": "2024-11-30", "cmk-a": "2024-11-30"}
    versions |= {name: "2024-11-30" for name in CLASSIFIER_REGIONS}
    for name, entry in state["resources"].items():
        item = {"endpoint": entry["endpoint"], "region": entry["region"], "resourceId": entry["resourceId"],
                "apiVersion": versions[name], "cmk": entry["cmk"]}
        if not name.endswith("-b"):
            item["keySecretName"] = f"key-{name}"
        ferry_resources[name] = item
    kv = state["keyVault"]
    return {
        "FERRY_RESOURCES": json.dumps(ferry_resources),
        "FERRY_SOURCE": alias("2024-11-30", "src"),
        "FERRY_TARGETS": f"{alias('2024-11-30', 'a')},{alias('2024-11-30', 'b')}",
        "FERRY_KEY_VAULT_URI": kv["uri"],
        "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
        "FERRY_COPY_DEADLINE_SECONDS": "600",
        "FERRY_MAX_PARALLEL_TARGETS": "4",
        "FERRY_SYNC_SCHEDULE": "",  # the virtual clock crosses 6-hour marks: no scheduled sync of the shared source
        "IDENTITY_ENDPOINT": kv["identityEndpoint"],
        "IDENTITY_HEADER": kv["identityHeader"],
    }


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    logs = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    clock = VirtualClock()
    resource_keys: dict[str, list[str]] = {}
    cloud = LocalCloud.from_config(cloud_config(resource_keys), clock=clock)
    cloud.start()
    store = tmp_path_factory.mktemp("devhost") / "store.sqlite"
    keys = HostKeys.generate(["start_copy", "on_model_trained"])
    host = None
    try:
        host = DevHost.start(REPO, settings=app_settings(cloud), clock=clock, store=store, http=True, keys=keys)
        # The worker imports function_app once, and azure-functions' `get_functions()` may be called only once per
        # app object: leave no already-indexed app in sys.modules for other tests that `import function_app`.
        sys.modules.pop("function_app", None)
        yield Env(cloud, host, keys, clock, resource_keys, store, logs)
    finally:
        if host is not None:
            host.stop()
        cloud.stop()
        root.removeHandler(logs)
        root.setLevel(old_level)
        sys.modules.pop("function_app", None)


@pytest.fixture
def env(e2e: Env) -> Iterator[Env]:
    """The session stack, with faults and copy behaviours cleared after the test."""
    yield e2e
    e2e.collect_tokens()
    for handle in e2e.cloud.resources.values():
        handle.clear_faults()
        with handle.world.lock:
            handle.backend.copy_behaviours.clear()
