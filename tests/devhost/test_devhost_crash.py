"""SIGKILL the host (`python -m devhost start`) mid-orchestration, restart it on the same store: the instance
completes, completed activities never run again, the activity that was running runs again (at least once)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devhost.testing import read_json_lines

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).parent / "apps" / "crash"
WEBHOOK = "/runtime/webhooks/durabletask"


class Host:
    """One `python -m devhost start` process on the crash app."""

    def __init__(self, store: Path, run_log: Path, slow_seconds: float) -> None:
        env = {**os.environ, "RUN_LOG": str(run_log), "CRASH_SLOW_SECONDS": str(slow_seconds),
               "PYTHONPATH": str(ROOT)}
        self.output = store.with_name(f"host-{time.monotonic_ns()}.log")
        with self.output.open("w") as out:  # a file, not a pipe: the host's logs can never block it
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "devhost", "start", "--app", str(APP), "--store", str(store), "--port", "0"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        self.url = self._read_url()

    def _read_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            m = re.search(r"Host started on (http://127\.0\.0\.1:\d+)", self.output.read_text())
            if m:
                return m.group(1)
            time.sleep(0.02)
        self.kill()
        raise AssertionError("devhost did not start:\n" + self.output.read_text())

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,  # noqa: S310 - loopback http
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def wait_done(self, instance_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, body = self.request("GET", f"{WEBHOOK}/instances/{instance_id}")
            if code == 200 and isinstance(body, dict) and body["runtimeStatus"] in ("Completed", "Failed"):
                return body
            time.sleep(0.05)
        raise AssertionError(f"instance {instance_id} did not finish; last: {body}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def hosts():
    started: list[Host] = []

    def start(*args) -> Host:
        h = Host(*args)
        started.append(h)
        return h

    yield start
    for h in started:
        h.kill()


def _runs(run_log: Path) -> list[tuple[str, str]]:
    return [(r["event"], r["step"]) for r in read_json_lines(run_log)]


def _wait_for(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _has_timer(store: Path) -> bool:
    if not store.exists():
        return False
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM timers").fetchone()[0] > 0
        except sqlite3.OperationalError:
            return False


def test_sigkill_between_activities_completes_without_rerunning(tmp_path, hosts):
    store, run_log = tmp_path / "s.sqlite", tmp_path / "runs.jsonl"
    first = hosts(store, run_log, 0)
    # the body as the SDK client sends it (double-encoded): a bare JSON number would crash get_input, as in Azure
    code, _ = first.request("POST", f"{WEBHOOK}/orchestrators/crashy/between-1", "2")
    assert code == 202
    _wait_for(lambda: _has_timer(store), "the durable timer after activity 'one'")
    first.kill()  # activity 'one' is recorded, the timer is pending, nothing runs
    second = hosts(store, run_log, 0)
    status = second.wait_done("between-1")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["one-done", "slow-done", "three-done"]
    runs = _runs(run_log)
    assert runs.count(("start", "one")) == 1
    assert runs.count(("end", "slow")) == 1 and runs.count(("start", "three")) == 1


def test_sigkill_during_activity_reruns_only_that_activity(tmp_path, hosts):
    store, run_log = tmp_path / "s.sqlite", tmp_path / "runs.jsonl"
    first = hosts(store, run_log, 30)  # 'slow' would take 30 s: it is killed inside
    code, _ = first.request("POST", f"{WEBHOOK}/orchestrators/crashy/during-1", "0")
    assert code == 202
    _wait_for(lambda: run_log.exists() and ("start", "slow") in _runs(run_log), "activity 'slow' to start")
    first.kill()
    assert ("end", "slow") not in _runs(run_log)
    second = hosts(store, run_log, 0)
    status = second.wait_done("during-1")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["one-done", "slow-done", "three-done"]
    runs = _runs(run_log)
    assert runs.count(("start", "one")) == 1      # completed before the kill: never again
    assert runs.count(("start", "slow")) == 2     # running at the kill: at least once more
    assert runs.count(("end", "slow")) == 1
    assert runs.count(("start", "three")) == 1
