"""Crash safety: SIGKILL the devhost process in the middle of a copy, restart it on the same store.

Real processes and the real clock, as a user runs them: the local cloud in process (real clock), the app under
`python -m devhost start --store ... --clock real`. The copy is started by HTTP; once the target's orchestration
shows the copy running on the service, the host is killed with SIGKILL, then started again on the same store.
The run must finish with exactly one model on the target and nothing else left there (no orphan, no invalid
model, no second copy operation still pending).
"""

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
from e2e_support import REPO, resource_id

from emulators import LocalCloud

pytestmark = pytest.mark.slow


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
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        out.close()

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
    keys = {name: [secrets.token_hex(16), secrets.token_hex(16)] for name in ("crash-src", "crash-dst")}
    config = {"resources": [{"name": name, "region": region, "port": 0, "keys": keys[name],
                             "resourceId": resource_id(name), "copySeconds": 2.5, "trainSeconds": 0.2}
                            for name, region in (("crash-src", "eastus"), ("crash-dst", "westus2"))],
              "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys.items()}},
              "workdir": str(tmp_path / "cloud")}
    with LocalCloud.from_config(config) as cloud:
        yield cloud


def write_settings(cloud, tmp_path: Path, api_version: str = "2024-11-30") -> Path:
    state = cloud.state
    resources = {name: {"endpoint": e["endpoint"], "region": e["region"], "resourceId": e["resourceId"],
                        "apiVersion": api_version, "keySecretName": f"key-{name}"}
                 for name, e in state["resources"].items()}
    kv = state["keyVault"]
    values = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "crash-src", "FERRY_TARGETS": "crash-dst",
              "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
              "IDENTITY_ENDPOINT": kv["identityEndpoint"], "IDENTITY_HEADER": kv["identityHeader"]}
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return settings_file


def finish_after_restart(host: HostProcess, iid: str) -> dict:
    host.kill()
    host.start()  # same store, same port

    def done():
        body = requests.get(f"{host.url}/runtime/webhooks/durabletask/instances/{iid}", timeout=5).json()
        return body if body.get("runtimeStatus") in ("Completed", "Failed", "Terminated") else None
    return wait_for(done, 60, "the copy to finish after the restart")


COPY_KINDS = ("documentModelCopyTo", "v2copy")


def assert_one_model_no_orphan(cloud, final: dict, model_id: str | None) -> list[dict]:
    """Exactly one ready model on the target: `model_id` (v3+), or the one the output names (v2)."""
    assert final["runtimeStatus"] == "Completed", final
    assert final["output"]["status"] == "succeeded", final["output"]

    def copies_settled():
        ops = [op for op in cloud.resource("crash-src").operations() if op["kind"] in COPY_KINDS]
        return ops if ops and all(op["status"] in ("succeeded", "failed") for op in ops) else None
    # a request the killed process had in flight may still be carried out by the service: let it settle too
    copies = wait_for(copies_settled, 15, "every copy operation to end")
    kept = final["output"]["targets"]["crash-dst"]["targetModelId"]
    target_models = cloud.resource("crash-dst").models()
    assert [m["modelId"] for m in target_models] == [model_id or kept], (final["output"], target_models)
    assert target_models[0]["status"] == "ready" and kept == target_models[0]["modelId"]
    return copies


def test_sigkill_mid_copy_then_restart_finishes_with_one_model_and_no_orphan(real_cloud, tmp_path):
    cloud = real_cloud
    settings_file = write_settings(cloud, tmp_path)
    src = cloud.resource("crash-src")
    model_id = src.seed_model("v3", "crash-model", description="to be copied", api_version="2024-11-30")

    host = HostProcess(settings_file, tmp_path / "store.sqlite", free_port(), tmp_path / "devhost.log")
    try:
        host.start()
        resp = requests.post(f"{host.url}/api/copies", json={"modelId": model_id}, timeout=30)
        assert resp.status_code == 202, resp.text
        iid = resp.json()["id"]
        child_url = f"{host.url}/runtime/webhooks/durabletask/instances/{iid}:crash-dst"

        def copying():
            r = requests.get(child_url, timeout=5)
            custom = r.json().get("customStatus") if r.status_code in (200, 202) else None
            return isinstance(custom, dict) and custom.get("stage") in ("copying", "polling")
        wait_for(copying, 30, "the copy to be running on the service")
        running = [op for op in src.operations() if op["kind"] == "documentModelCopyTo"]
        assert [op["status"] for op in running] in (["notStarted"], ["running"])
        final = finish_after_restart(host, iid)
    finally:
        host.stop()

    copies = assert_one_model_no_orphan(cloud, final, model_id)
    assert len(copies) == 1  # the copy was recorded before the crash: not issued a second time


def test_sigkill_during_the_copy_activity_then_restart(real_cloud, tmp_path):
    """Killed while `authorize_and_start_copy` waits on the copy POST: the activity runs again after the restart
    (at least once), the service still carries out the first POST, and the run ends with one good model."""
    cloud = real_cloud
    settings_file = write_settings(cloud, tmp_path)
    src, dst = cloud.resource("crash-src"), cloud.resource("crash-dst")
    model_id = src.seed_model("v3", "crash-model-2", description="to be copied", api_version="2024-11-30")
    src.fail_next("copy", 1, "slow", seconds=2.0)  # the first copy POST answers only after 2 s

    host = HostProcess(settings_file, tmp_path / "store.sqlite", free_port(), tmp_path / "devhost.log")
    try:
        host.start()
        resp = requests.post(f"{host.url}/api/copies", json={"modelId": model_id}, timeout=30)
        assert resp.status_code == 202, resp.text
        wait_for(lambda: any(e["operation"] == "authorizeCopy" for e in dst.request_log()), 30,
                 "the activity to authorize on the target")
        time.sleep(0.3)  # now inside the slow copy POST
        assert not any(e["operation"] == "copy" for e in src.request_log())  # not answered yet
        final = finish_after_restart(host, resp.json()["id"])
    finally:
        host.stop()

    assert_one_model_no_orphan(cloud, final, model_id)


@pytest.mark.parametrize("api_version", ["v2.1", "2024-11-30"])
def test_repeated_sigkills_inside_the_copy_activity_leave_exactly_one_model(real_cloud, tmp_path, api_version):
    """Killed three times while `authorize_and_start_copy` waits on its copy POST: every killed execution's POST
    is still carried out by the service (v2: each into a NEW service-assigned id), the activity runs again after
    each restart, and the run still ends with exactly one model on the target, the one its output names."""
    kills = 3
    cloud = real_cloud
    settings_file = write_settings(cloud, tmp_path, api_version)
    src, dst = cloud.resource("crash-src"), cloud.resource("crash-dst")
    v2 = api_version.startswith("v2")
    model_id = src.seed_model("v2" if v2 else "v3", None if v2 else "crash-model-3",
                              **({} if v2 else {"description": "to be copied", "api_version": api_version}))
    src.fail_next("copy", kills, "slow", seconds=2.0)  # each killed execution's copy POST answers only after 2 s

    host = HostProcess(settings_file, tmp_path / "store.sqlite", free_port(), tmp_path / "devhost.log")
    try:
        host.start()
        resp = requests.post(f"{host.url}/api/copies", json={"modelId": model_id}, timeout=30)
        assert resp.status_code == 202, resp.text
        iid = resp.json()["id"]

        def done():
            body = requests.get(f"{host.url}/runtime/webhooks/durabletask/instances/{iid}", timeout=5).json()
            return body if body.get("runtimeStatus") in ("Completed", "Failed", "Terminated") else None

        def authorized(n):
            return sum(e["operation"] == "authorizeCopy" for e in dst.request_log()) >= n

        killed = 0
        for kill in range(1, kills + 1):
            # v3+: once the first killed execution's copy has landed, a re-run finds the id taken and the run
            # ends without another copy POST, so fewer kills may be possible there
            wait_for(lambda n=kill: authorized(n) or done(), 30, f"execution {kill} of the activity")
            if not authorized(kill):
                break
            time.sleep(0.3)  # now inside the slow copy POST
            assert sum(e["operation"] == "copy" for e in src.request_log()) < kill  # this POST not answered yet
            host.kill()
            killed += 1
            host.start()
        final = wait_for(done, 90, "the copy to finish after the restarts")
    finally:
        host.stop()

    copies = assert_one_model_no_orphan(cloud, final, None if v2 else model_id)
    assert killed == kills if v2 else killed >= 2
    if v2:  # each killed execution's POST was carried out (a copy each); all but one were deleted, and reported
        assert len(copies) == kills + 1
        result = final["output"]["targets"]["crash-dst"]
        assert len(result["cleanedUpTargetModelIds"]) == kills, result
    else:  # v3+: the re-runs authorized the same id, so the service refused or joined the copies into it
        assert 1 <= len(copies) <= kills + 1
