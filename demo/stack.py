"""Starts the local cloud (emulators) and the Functions host (devhost) as real processes, like a user would.

The demo drives the same commands a developer types (`python -m emulators --config`, `python -m devhost start`),
so what it shows is what `make up` leaves running.
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
from dataclasses import dataclass, field
from pathlib import Path

import requests

from emulators.identity import managed_identity_environment

REPO = Path(__file__).resolve().parents[1]

# One source and two targets in other regions; westeurope is CMK-encrypted and reached keyless (managed identity).
REGIONS = (
    {"alias": "eastus", "region": "eastus", "cmk": False, "keyless": False},
    {"alias": "westus2", "region": "westus2", "cmk": False, "keyless": False},
    {"alias": "westeurope", "region": "westeurope", "cmk": True, "keyless": True},
)
API_VERSION = "2024-11-30"
SUBSCRIPTION = "00000000-0000-0000-0000-00000000f3e7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secret_name(alias: str) -> str:
    return f"docintel-{alias}-key"


@dataclass
class LocalStack:
    """The two processes of the local stack and everything needed to talk to them."""

    workdir: Path
    copy_seconds: float = 3.0
    host_port: int = 0
    keys: dict[str, list[str]] = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    # Passed to devhost, which reports it on GET /admin/host/status: the host answering is the one we started.
    instance_id: str = field(default_factory=lambda: secrets.token_hex(16))

    # -- configuration -------------------------------------------------------------------------------
    def cloud_config(self) -> dict:
        self.keys = {r["alias"]: [secrets.token_hex(16), secrets.token_hex(16)] for r in REGIONS}
        resources = [
            {
                "name": r["alias"],
                "region": r["region"],
                "port": 0,
                "keys": self.keys[r["alias"]],
                "resourceId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-modelferry-demo/providers/"
                f"Microsoft.CognitiveServices/accounts/di-{r['alias']}",
                "cmk": r["cmk"],
                "copySeconds": self.copy_seconds,
            }
            for r in REGIONS
        ]
        vault_secrets = {secret_name(r["alias"]): self.keys[r["alias"]][0] for r in REGIONS if not r["keyless"]}
        return {
            "resources": resources,
            "keyVault": {"port": 0, "secrets": vault_secrets},
            "stateFile": str(self.workdir / "cloud-state.json"),
        }

    def app_settings(self) -> dict[str, str]:
        """The app settings the Function App reads, pointed at the local cloud."""
        kv = self.state["keyVault"]
        resources = {}
        for r in REGIONS:
            res = self.state["resources"][r["alias"]]
            entry = {
                "endpoint": res["endpoint"],
                "region": res["region"],
                "resourceId": res["resourceId"],
                "apiVersion": API_VERSION,
                "cmk": r["cmk"],
            }
            if not r["keyless"]:
                entry["keySecretName"] = secret_name(r["alias"])
            resources[r["alias"]] = entry
        return {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "FERRY_RESOURCES": json.dumps(resources),
            "FERRY_SOURCE": REGIONS[0]["alias"],
            "FERRY_TARGETS": ",".join(r["alias"] for r in REGIONS[1:]),
            "FERRY_KEY_VAULT_URI": kv["uri"],
            "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
            # What App Service injects for a managed identity; here the local cloud's identity endpoint.
            **managed_identity_environment(kv["identityEndpoint"], kv["identityHeader"]),
        }

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        state_file = self.workdir / "cloud-state.json"
        state_file.unlink(missing_ok=True)
        config_file = self.workdir / "cloud.json"
        config_file.write_text(json.dumps(self.cloud_config(), indent=2))
        self._spawn("emulators", [sys.executable, "-m", "emulators", "--config", str(config_file)])
        self.state = self._wait_for_json(state_file, timeout=30)

        settings_file = self.workdir / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": self.app_settings()}, indent=2))
        self.host_port = self.host_port or free_port()
        store = self.workdir / "durable.sqlite"
        # The local cloud starts empty every time, so the task hub does too: no run of an earlier session.
        for leftover in self.workdir.glob("durable.sqlite*"):
            leftover.unlink()
        self._spawn(
            "devhost",
            [sys.executable, "-m", "devhost", "start", "--app", str(REPO), "--port", str(self.host_port),
             "--store", str(store), "--settings", str(settings_file), "--instance-id", self.instance_id],
        )
        self._wait_for_host(timeout=60)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    def pid(self, name: str) -> int:
        """The pid of the ``emulators`` or ``devhost`` process this stack started."""
        return next(proc.pid for proc in self.procs if proc.args[2] == name)

    def endpoint(self, alias: str) -> str:
        return self.state["resources"][alias]["endpoint"]

    def key(self, alias: str) -> str:
        return self.keys[alias][0]

    # -- helpers -------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # lives as long as the process
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)

    def _check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                name = Path(proc.args[2]).name
                log = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{' '.join(proc.args[1:3])} exited with {proc.returncode}:\n{log}")

    def _wait_for_json(self, path: Path, timeout: float) -> dict:
        """The state the local cloud writes once everything listens: waits for content that parses, not existence."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                return json.loads(path.read_text())
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
        raise TimeoutError(f"the local cloud did not write {path} within {timeout:.0f}s")

    def _wait_for_host(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                status = requests.get(f"{self.host_url}/admin/host/status", timeout=2)
            except requests.ConnectionError:
                status = None
            if status is not None and status.ok:
                self.verify_host(status)
                return
            time.sleep(0.1)
        raise TimeoutError(f"devhost did not answer on {self.host_url} within {timeout:.0f}s")

    def verify_host(self, status: requests.Response | None = None) -> None:
        """Fail unless the host answering on our port is the devhost this stack started (its instance id)."""
        status = status or requests.get(f"{self.host_url}/admin/host/status", timeout=5)
        try:
            answered = status.json().get("instanceId")
        except ValueError:
            answered = None
        if answered != self.instance_id:
            raise RuntimeError(
                f"{self.host_url} is answered by another host (instance {answered!r}), not the devhost this command "
                f"started (instance {self.instance_id}); stop the other one or pick another port (PORT=...)")
