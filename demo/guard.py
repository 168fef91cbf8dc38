"""One local stack per working folder and per port: a second `make up` refuses and touches nothing.

Why: the stack's folder holds the running host's durable store, its logs and the files the README's curl
commands read. Starting a second stack over it would overwrite the configuration and delete the store under
a running host, and a host that cannot bind its port would leave the user talking to the other one.

Two checks, both before anything is written: an exclusive lock on `<workdir>/stack.lock` (held by the
process for its whole life and released by the kernel when it dies, so a crash leaves no stale lock), then
the port. What runs is described in `<workdir>/stack.json`, written only by the lock holder.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

LOCK_NAME = "stack.lock"
RECORD_NAME = "stack.json"


class StackBusy(Exception):
    """The stack cannot start; the message says what is in the way and what to do."""


@dataclass
class StackRecord:
    """What `stack.json` says about a running stack."""

    command: str
    pid: int
    port: int
    host_url: str
    instance_id: str
    devhost_pid: int
    emulators_pid: int
    workdir: str
    started: str

    def describe(self) -> str:
        work = Path(self.workdir)
        return (f"  {self.command} (pid {self.pid}), started {self.started}\n"
                f"  devhost    {self.host_url}  (pid {self.devhost_pid}, instance {self.instance_id})\n"
                f"  emulators  (pid {self.emulators_pid})\n"
                f"  its files  {work}/ (logs: devhost.log, emulators.log)")


class StackLock:
    """The exclusive right to use one working folder; `acquire` refuses while another process holds it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._fd: int | None = None
        self._recorded = False

    def acquire(self, label: str) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.workdir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)  # never truncates anything
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            running = read_record(self.workdir)
            what = running.describe() if running else "  (it has not finished starting yet)"
            stop = f"kill {running.pid}" if running else "Ctrl-C in its terminal"
            port_hint = running.port + 1 if running else 7072
            raise StackBusy(
                f"{label}: refused: a local stack is already running in {self.workdir} (nothing was changed):\n"
                f"{what}\n"
                f"Stop it with Ctrl-C in its terminal (or: {stop}), or start another one beside it on a free port: "
                f"{label} PORT={port_hint}") from None
        self._fd = fd

    def record(self, record: StackRecord) -> None:
        """Describe the running stack for the next one that is refused (atomic: tmp + rename)."""
        tmp = self.workdir / (RECORD_NAME + ".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.workdir / RECORD_NAME)
        self._recorded = True

    def release(self) -> None:
        if self._fd is None:
            return
        if self._recorded:  # a refused start leaves an earlier stack's description alone
            (self.workdir / RECORD_NAME).unlink(missing_ok=True)
        os.close(self._fd)  # closing the descriptor drops the lock
        self._fd = None


def read_record(workdir: Path) -> StackRecord | None:
    try:
        return StackRecord(**json.loads((workdir / RECORD_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def check_port(port: int, workdir: Path, label: str) -> None:
    """Refuse a port something already listens on, saying what it is (a stack of ours, a host, a pid)."""
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the host binds: TIME_WAIT is no user
        try:
            probe.bind(("127.0.0.1", port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise StackBusy(f"{label}: refused: cannot use port {port}: {exc.strerror}") from None
    what = _who_listens(port, workdir)
    raise StackBusy(
        f"{label}: refused: port {port} is already in use (nothing was changed):\n{what}\n"
        f"Stop that, or pick another port: {label} PORT={port + 1} (then PORT={port + 1} for the README's curl "
        "commands)")


def _who_listens(port: int, workdir: Path) -> str:
    for candidate in sorted({*workdir.parent.glob(f"*/{RECORD_NAME}"), workdir / RECORD_NAME}):
        record = read_record(candidate.parent)
        if record is None or record.port != port:
            continue
        if _alive(record.pid):
            return record.describe()
        orphans = [pid for pid in (record.devhost_pid, record.emulators_pid) if _alive(pid)]
        if orphans:  # the launcher was killed (SIGKILL) and its children live on
            return (record.describe() + f"\n  its launcher (pid {record.pid}) is gone; stop what it left running with: "
                    f"kill {' '.join(map(str, orphans))}")
    lines = []
    pid = listener_pid(port)
    if pid is not None:
        lines.append(f"  pid {pid}: {_cmdline(pid)}")
    try:
        status = requests.get(f"http://127.0.0.1:{port}/admin/host/status", timeout=2)
        if status.ok and "instanceId" in status.text:
            lines.append(f"  a Functions host answers there (instance {status.json().get('instanceId')})")
    except (requests.RequestException, ValueError):
        pass
    return "\n".join(lines) or "  (another program; `ss -ltnp` shows which)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200]


def listener_pid(port: int) -> int | None:
    """The pid listening on 127.0.0.1/0.0.0.0:`port`, from /proc (Linux; None elsewhere or when not ours)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(cols[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None
