"""`make demo` and `make up` as a user runs them: real processes, real ports, nothing mocked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def test_the_main_job_replicates_both_models_to_both_targets(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "demo", "--workdir", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    rows = re.findall(r"^\s+(\S+)\s+(event-grid|http)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+[\d.]+s$", out, re.M)
    assert {(model, trigger, target) for model, trigger, target, *_ in rows} == {
        ("invoices-2026", "event-grid", "westus2"), ("invoices-2026", "event-grid", "westeurope"),
        ("receipts-2026", "http", "westus2"), ("receipts-2026", "http", "westeurope")}
    assert all(status == "succeeded" and found == "present" for *_, status, _, found in rows)
    assert re.search(r"westus2=polling#\d", out), "live progress shows the copy being polled"
    assert "Demo succeeded" in out
    # a model trained without an event is found by the estate sync: the dry run plans it, the real sync copies it
    plan, done = out.split("Sync plan (dry run: nothing changed)", 1)[1].split("\nSync succeeded", 1)
    assert re.findall(r"contracts-2026 (\S+)\s+copy\s+planned", plan) == ["westeurope", "westus2"], plan
    assert re.findall(r"contracts-2026 (\S+)\s+copy\s+copied", done) == ["westeurope", "westus2"], done
    # it ends with the operator's replica matrix (modelferry replicas), every cell current
    for model in ("invoices-2026", "receipts-2026", "contracts-2026"):
        assert re.search(rf"│ {model}\s+│ current\s+│ current\s+│", out), out[-2000:]
    # everything it started is stopped again
    for name in ("emulators", "devhost"):
        assert (tmp_path / f"{name}.log").exists()


def test_up_leaves_the_stack_running_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--up", "--port", "0", "--workdir", str(tmp_path)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        host = None
        while time.monotonic() < deadline and host is None:
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            found = re.search(r"Functions host \(devhost\)\s+(http://127\.0\.0\.1:\d+)", line)
            host = found.group(1) if found else None
        assert host, "".join(lines)
        while not any("Dashboard" in line for line in lines) and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        dashboard = re.search(r"Dashboard\s+(\S+)", "".join(lines))
        assert dashboard and dashboard.group(1) == f"{host}/api/dashboard", "".join(lines)
        page = requests.get(dashboard.group(1), timeout=30)
        assert page.status_code == 200 and "Replica matrix" in page.text
        # the documented curl call, with an unknown model: the app answers (202) and the copy fails cleanly
        resp = requests.post(f"{host}/api/copies", json={"modelId": "not-trained-yet"}, timeout=30)
        assert resp.status_code == 202, resp.text
        assert resp.json()["statusQueryGetUri"].startswith(host)
        bad = requests.post(f"{host}/api/copies", json={"modelId": "x", "targets": ["eastus"]}, timeout=30)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "SourceAmongTargets"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
