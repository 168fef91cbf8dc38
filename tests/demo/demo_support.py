"""Start `python -m demo --up` as a user's `make up` would, on a free port, and stop it again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.host_process import free_port, read_until

__all__ = ["REPO", "UpStack", "free_port", "run_demo", "start_up"]

REPO = Path(__file__).resolve().parents[2]


def run_demo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m demo ARGS` to completion (a refused start returns at once)."""
    return subprocess.run([sys.executable, "-m", "demo", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"))


@dataclass
class UpStack:
    """A running `python -m demo --up`: its process, port, folder and banner."""

    proc: subprocess.Popen[str]
    port: int
    workdir: Path
    banner: str

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self) -> dict:
        return json.loads((self.workdir / "stack.json").read_text())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()


def start_up(port: int, workdir: Path, timeout: float = 120) -> UpStack:
    """Start `python -m demo --up --port PORT --workdir WORKDIR` and wait for its "Ctrl-C stops" line."""
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--up", "--port", str(port), "--workdir", str(workdir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        banner = read_until(proc, "Ctrl-C stops the stack", timeout)
    except AssertionError as exc:
        proc.kill()
        proc.wait()
        raise AssertionError(f"make up did not come up: {exc}") from exc
    found = re.search(r"Functions host \(devhost\)\s+http://127\.0\.0\.1:(\d+)", banner)
    assert found, banner
    return UpStack(proc, int(found.group(1)), workdir, banner)
