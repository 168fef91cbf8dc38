"""The app under a real `python -m devhost start` process on the real clock, for the crash tests.

A test starts the host, kills it with SIGKILL in the middle of a run and starts it again on the same store and
port, as an operator's machine would crash and come back. Also the real-time poll every test that waits on
another process (or on durable signals) uses, and the reading of a process's output up to a line it prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from emulators import LocalCloud

REPO = Path(__file__).resolve().parents[1]
ENDED = ("Completed", "Failed", "Terminated")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll `check()` in real time until it is truthy; its value, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """Read a text-mode process's output line by line until a line holds `marker`: everything read so far, or an
    AssertionError with that output (the process ended or `timeout` passed)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"{marker!r} not printed; output so far:\n{''.join(lines)}")


class HostProcess:
    """`python -m devhost start --clock real` on `store` and `port`; start again after `kill` to recover."""

    def __init__(self, settings_file: Path, store: Path, port: int, log: Path) -> None:
        self.args = [sys.executable, "-m", "devhost", "start", "--app", str(REPO), "--store", str(store),
                     "--clock", "real", "--port", str(port), "--settings", str(settings_file)]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen | None = None

    @classmethod
    def in_dir(cls, settings_file: Path, workdir: Path) -> HostProcess:
        """A host with its store and log in `workdir`, on a free port."""
        return cls(settings_file, workdir / "store.sqlite", free_port(), workdir / "devhost.log")

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, \
                f"devhost exited: {self.log.read_text()[-2000:]}"
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

    def ended(self, instance_id: str) -> dict[str, Any] | None:
        """The instance's status once it has ended, else None (a check for `wait_for`)."""
        body = requests.get(f"{self.url}/runtime/webhooks/durabletask/instances/{instance_id}", timeout=5).json()
        return body if body.get("runtimeStatus") in ENDED else None


@contextlib.contextmanager
def real_cloud(workdir: Path, source: str, target: str, resource_id: Callable[[str], str]) -> Iterator[LocalCloud]:
    """A source (eastus) and a target (westus2) whose copies take 2.5 s, and a vault with their keys."""
    keys = {name: [secrets.token_hex(16), secrets.token_hex(16)] for name in (source, target)}
    config = {"resources": [{"name": name, "region": region, "port": 0, "keys": keys[name],
                             "resourceId": resource_id(name), "copySeconds": 2.5, "trainSeconds": 0.2}
                            for name, region in ((source, "eastus"), (target, "westus2"))],
              "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys.items()}},
              "workdir": str(workdir)}
    with LocalCloud.from_config(config) as cloud:
        yield cloud


def write_settings(cloud: LocalCloud, tmp_path: Path, source: str, target: str, api_version: str = "2024-11-30",
                   **extra: str) -> Path:
    """local.settings.json for the host: every resource of `cloud` at `api_version`, keys from its vault."""
    state = cloud.state
    resources = {name: {"endpoint": e["endpoint"], "region": e["region"], "resourceId": e["resourceId"],
                        "apiVersion": api_version, "keySecretName": f"key-{name}"}
                 for name, e in state["resources"].items()}
    kv = state["keyVault"]
    values = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": source, "FERRY_TARGETS": target,
              "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"], **extra,
              "IDENTITY_ENDPOINT": kv["identityEndpoint"], "IDENTITY_HEADER": kv["identityHeader"]}
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return settings_file
