"""Crash safety of a sync: SIGKILL the devhost process while the sync's copies run, restart it on the same store.

Real processes and the real clock, as a user runs them (the local cloud in process, the app under
`python -m devhost start --clock real`). The sync must finish after the restart with every source model on the
target exactly once, each copied by exactly one successful copy operation, and nothing else left there.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sync_support import REPO, resource_id

from emulators import LocalCloud

pytestmark = pytest.mark.slow
MODELS = 8
COPY_KINDS = ("documentModelCopyTo",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class HostProcess:
    def __init__(self, settings_file: Path, store: Path, port: int, log: Path) -> None:
        self.args = [sys.executable, "-m", "devhost", "start", "--app", str(REPO), "--store", str(store),
                     "--clock", "real", "--port", str(port), "--settings", str(settings_file)]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

        def up():
            assert self.proc.poll() is None, f"devhost exited: {self.log.read_text()[-2000:]}"
            try:
                return requests.get(f"{self.url}/admin/host/status", timeout=1).ok
            except requests.ConnectionError:
                return False
        wait_for(up, 30, "devhost to listen")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def real_cloud(tmp_path):
    keys = {name: [secrets.token_hex(16), secrets.token_hex(16)] for name in ("kill-src", "kill-dst")}
    config = {"resources": [{"name": name, "region": region, "port": 0, "keys": keys[name],
                             "resourceId": resource_id(name), "copySeconds": 2.5, "trainSeconds": 0.2}
                            for name, region in (("kill-src", "eastus"), ("kill-dst", "westus2"))],
              "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys.items()}},
              "workdir": str(tmp_path / "cloud")}
    with LocalCloud.from_config(config) as cloud:
        yield cloud


def write_settings(cloud, tmp_path: Path) -> Path:
    state = cloud.state
    resources = {name: {"endpoint": e["endpoint"], "region": e["region"], "resourceId": e["resourceId"],
                        "apiVersion": "2024-11-30", "keySecretName": f"key-{name}"}
                 for name, e in state["resources"].items()}
    kv = state["keyVault"]
    values = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "kill-src", "FERRY_TARGETS": "kill-dst",
              "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
              "FERRY_SYNC_SCHEDULE": "", "FERRY_SYNC_MAX_PARALLEL_COPIES": "4",
              "IDENTITY_ENDPOINT": kv["identityEndpoint"], "IDENTITY_HEADER": kv["identityHeader"]}
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return settings_file


def test_sigkill_mid_sync_then_restart_copies_every_model_exactly_once(real_cloud, tmp_path):
    cloud = real_cloud
    src, dst = cloud.resource("kill-src"), cloud.resource("kill-dst")
    models = sorted(src.seed_model("v3", f"estate-{i}", api_version="2024-11-30") for i in range(MODELS))
    host = HostProcess(write_settings(cloud, tmp_path), tmp_path / "store.sqlite", free_port(),
                       tmp_path / "devhost.log")
    try:
        host.start()
        resp = requests.post(f"{host.url}/api/sync", json={}, timeout=30)
        assert resp.status_code == 202, resp.text
        iid = resp.json()["id"]
        # kill while copies run on the service and others have not started yet (4 at a time, 8 models)
        wait_for(lambda: any(op["kind"] in COPY_KINDS for op in src.operations()), 60, "a copy to start")
        assert len(dst.models()) < MODELS
        host.kill()
        host.start()  # same store, same port

        def done():
            body = requests.get(f"{host.url}/runtime/webhooks/durabletask/instances/{iid}", timeout=5).json()
            return body if body.get("runtimeStatus") in ("Completed", "Failed", "Terminated") else None
        final = wait_for(done, 120, "the sync to finish after the restart")
    finally:
        host.stop()

    assert final["runtimeStatus"] == "Completed", final
    output = final["output"]
    assert output["status"] == "succeeded", output
    assert output["counts"]["kill-dst"]["copied"] == MODELS and output["counts"]["kill-dst"]["failed"] == 0

    def copies_settled():
        ops = [op for op in src.operations() if op["kind"] in COPY_KINDS]
        return ops if ops and all(op["status"] in ("succeeded", "failed") for op in ops) else None
    copies = wait_for(copies_settled, 15, "every copy operation to end")
    succeeded = sorted(op["sourceModelId"] for op in copies if op["status"] == "succeeded")
    assert succeeded == models  # each model copied by exactly one successful copy operation
    on_target = dst.models()
    assert sorted(m["modelId"] for m in on_target) == models and all(m["status"] == "ready" for m in on_target)
