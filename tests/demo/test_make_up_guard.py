"""`make up` tells the truth: a second one is refused and changes nothing; PORT works; the host is ours."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from demo_support import REPO, free_port, run_demo, start_up

from demo.stack import LocalStack


def _snapshot(workdir: Path) -> dict[str, tuple]:
    """Per file: inode and, for the configuration the README reads, the exact bytes and mtime."""
    out: dict[str, tuple] = {}
    for path in sorted(workdir.iterdir()):
        st = path.stat()
        if path.suffix == ".json":
            out[path.name] = (st.st_ino, st.st_mtime_ns, path.read_bytes())
        else:  # the running host's store and logs may grow, but must be the same files
            out[path.name] = (st.st_ino,)
    return out


def test_a_second_make_up_is_refused_and_the_first_stack_is_untouched(tmp_path: Path) -> None:
    port = free_port()
    workdir = tmp_path / ".local" / "demo" / str(port)
    first = start_up(port, workdir)
    try:
        assert first.port == port  # PORT is honoured
        record = first.record()
        assert record["port"] == port and record["instance_id"] in first.banner
        status = requests.get(f"{first.host}/admin/host/status", timeout=10).json()
        assert status["instanceId"] == record["instance_id"]  # the host answering is the one it started
        before = _snapshot(workdir)
        assert {"cloud.json", "cloud-state.json", "local.settings.json", "durable.sqlite", "devhost.log",
                "emulators.log", "stack.json"} <= set(before)

        # the same port and folder (a second `make up`)
        again = run_demo("--up", "--port", str(port), "--workdir", str(workdir))
        assert again.returncode == 1, again.stdout + again.stderr
        msg = again.stderr
        assert "refused" in msg and "already running" in msg and "nothing was changed" in msg
        assert f"pid {record['pid']}" in msg and f"http://127.0.0.1:{port}" in msg  # what runs, where, its pid
        assert f"kill {record['pid']}" in msg and f"make up PORT={port + 1}" in msg  # how to stop it / go beside it
        assert "Local stack is up" not in again.stdout

        # the same port from another folder: refused on the port, naming the stack that holds it
        other = tmp_path / ".local" / "demo" / "other"
        beside = run_demo("--up", "--port", str(port), "--workdir", str(other))
        assert beside.returncode == 1, beside.stdout + beside.stderr
        assert f"port {port} is already in use" in beside.stderr and f"pid {record['pid']}" in beside.stderr
        assert not (other / "cloud.json").exists() and not (other / "durable.sqlite").exists()

        # `make demo` on that port: refused the same way
        demo = run_demo("--port", str(port), "--workdir", str(tmp_path / "demo-run"))
        assert demo.returncode == 1 and "make demo: refused" in demo.stderr

        assert _snapshot(workdir) == before  # nothing of the running stack was rewritten or deleted
        after = requests.get(f"{first.host}/admin/host/status", timeout=10).json()
        assert after["instanceId"] == record["instance_id"]
        resp = requests.post(f"{first.host}/api/copies", json={"modelId": "not-trained-yet"}, timeout=30)
        assert resp.status_code == 202, resp.text  # and it still works
    finally:
        assert first.stop() == 0
    assert not (workdir / "stack.json").exists()  # a stopped stack is not described as running

    # once stopped, the same command starts again on the same port and folder
    second = start_up(port, workdir)
    try:
        assert second.record()["instance_id"] != record["instance_id"]
    finally:
        assert second.stop() == 0


def test_after_the_launcher_was_killed_its_orphans_are_named_and_left_alone(tmp_path: Path) -> None:
    port = free_port()
    workdir = tmp_path / ".local" / "demo" / str(port)
    first = start_up(port, workdir)
    record = first.record()
    first.proc.send_signal(signal.SIGKILL)  # the launcher dies; devhost and the emulators live on
    first.proc.wait(timeout=30)
    first.proc.stdout.close()
    try:
        before = _snapshot(workdir)
        again = run_demo("--up", "--port", str(port), "--workdir", str(workdir))
        assert again.returncode == 1, again.stdout + again.stderr
        msg = again.stderr
        assert f"port {port} is already in use" in msg and f"launcher (pid {record['pid']}) is gone" in msg
        assert f"kill {record['devhost_pid']} {record['emulators_pid']}" in msg
        assert _snapshot(workdir) == before  # its description, store and logs are still there
        status = requests.get(f"http://127.0.0.1:{port}/admin/host/status", timeout=10).json()
        assert status["instanceId"] == record["instance_id"]
    finally:
        for pid in (record["devhost_pid"], record["emulators_pid"]):
            _stop_pid(pid)


def _processes_using(folder: Path) -> list[int]:
    """Pids whose command line names `folder` (the stack's children are started with paths inside it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(folder) in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_sigterm_while_the_stack_starts_stops_what_was_started(tmp_path: Path) -> None:
    workdir = tmp_path / "stack"
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--up", "--port", "0", "--workdir", str(workdir)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not set(_processes_using(workdir)) - {proc.pid}:  # the emulators are spawned; devhost is not up yet
            assert time.monotonic() < deadline and proc.poll() is None, "the stack never started its children"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, 130)
        deadline = time.monotonic() + 30
        while (left := _processes_using(workdir)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"left running: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _processes_using(workdir):
            _stop_pid(pid)


def _stop_pid(pid: int) -> None:
    """Stop a process this test started indirectly (the orphaned devhost / emulators), by its pid."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def test_a_port_held_by_another_program_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as busy:
        port = busy.server_address[1]
        workdir = tmp_path / "stack"
        res = run_demo("--up", "--port", str(port), "--workdir", str(workdir))
    assert res.returncode == 1
    assert f"port {port} is already in use" in res.stderr and f"PORT={port + 1}" in res.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["stack.lock"]  # no configuration, no store, no logs


class _OtherHost(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"id": "someone-else", "instanceId": "someone-else", "state": "Running"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_host_that_is_not_ours_is_recognised(tmp_path: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _OtherHost) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        stack = LocalStack(workdir=tmp_path, host_port=other.server_address[1])
        with pytest.raises(RuntimeError, match=r"answered by another host .*someone-else"):
            stack.verify_host()
        other.shutdown()


@pytest.mark.parametrize(("target", "expected"), [("up", "-m demo --up --port 7072"), ("demo", "-m demo --port 7073")])
def test_make_passes_port_through(target: str, expected: str) -> None:
    make = shutil.which("make")
    assert make, "make is needed for `make up` / `make demo`"
    port = "7072" if target == "up" else "7073"
    out = subprocess.run([make, "-n", target, f"PORT={port}", "STAMP=", "PY=python3"], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert f"python3 {expected}" in out.stdout
    plain = subprocess.run([make, "-n", target, "STAMP=", "PY=python3"], cwd=REPO, capture_output=True, text=True,
                           timeout=30)
    assert "--port" not in plain.stdout  # no PORT: the defaults (7071 for up, a free port for demo)
