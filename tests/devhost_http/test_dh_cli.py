"""`python -m devhost start` as a process: banner, settings, keys, virtual clock, clean shutdown, refusals."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devhost.http import HostKeys
from devhost.testing import wait_for_json
from tests.host_process import free_port, read_until

APPS = Path(__file__).parent / "apps"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_host(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CLI_SAMPLE_MARKER": str(tmp_path / "timer.json")}
        proc = subprocess.Popen([sys.executable, "-m", "devhost", "start", *args], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_start_serve_and_stop(run_host, tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"Values": {"CLI_SAMPLE_SETTING": "from-file"}}))
    port = free_port()
    proc = run_host("--app", str(APPS / "cli"), "--port", str(port), "--store", str(tmp_path / "s.sqlite"),
                    "--settings", str(settings), "--clock", "virtual", "--keys",
                    "--keys-file", str(tmp_path / "keys.json"))
    banner = read_until(proc, "Host started on")
    url = f"http://127.0.0.1:{port}"
    assert f"start_job: [POST] {url}/api/jobs" in banner
    assert "job: orchestrationTrigger" in banner and "hourly: timerTrigger" in banner
    keys = HostKeys.load(tmp_path / "keys.json")
    assert keys.master_key not in banner
    assert requests.post(f"{url}/api/jobs", json={"n": 1}, timeout=10).status_code == 401
    r = requests.post(f"{url}/api/jobs", json={"n": 1}, params={"code": keys.function_key("start_job")}, timeout=10)
    assert r.status_code == 202
    status_url = r.json()["statusQueryGetUri"]
    deadline = time.monotonic() + 20
    while (status := requests.get(status_url, timeout=10).json())["runtimeStatus"] != "Completed":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["output"] == {"result": "done 1", "setting": "from-file"}   # 30-minute timer skipped
    assert wait_for_json(tmp_path / "timer.json") == {"past_due": False}   # runOnStartup (written by the host)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "Executed 'Functions.start_job' (Succeeded" in out
    assert "Executed 'Functions.work' (Succeeded" in out
    assert "Traceback" not in out
    assert keys.function_key("start_job") not in out


def test_unsupported_binding_is_refused(run_host):
    proc = run_host("--app", str(APPS / "unsupported"), "--port", "0")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "on_message" in out and "queueTrigger" in out and "Supported:" in out


def test_missing_app_is_refused(run_host, tmp_path):
    proc = run_host("--app", str(tmp_path / "nowhere"), "--port", "0")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "no function_app.py" in out


def test_port_in_use_is_reported(run_host, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_host("--app", str(APPS / "cli"), "--port", str(port), "--store", str(tmp_path / "s.sqlite"))
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out
