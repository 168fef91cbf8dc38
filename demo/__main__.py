"""`python -m demo` runs the main job and exits; `python -m demo --up` leaves the local stack running.

Each stack works in its own folder, `.local/demo/<port>/` (`.local/demo/main-job/` for `make demo` on a free
port): configuration, emulator state, durable store and logs. A folder or port in use by a running stack is
refused before anything is written (see `demo.guard`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from demo.guard import StackBusy, StackLock, StackRecord, check_port
from demo.scenario import run_main_job, say
from demo.stack import REPO, LocalStack

DEFAULT_UP_PORT = 7071


def default_workdir(port: int) -> Path:
    """Where a stack on `port` keeps its files; the README's curl commands read them from here."""
    return REPO / ".local" / "demo" / (str(port) if port else "main-job")


def print_endpoints(stack: LocalStack) -> None:
    print("\nLocal stack is up:")
    for alias, res in stack.state["resources"].items():
        print(f"  Document Intelligence {alias:<11} {res['endpoint']}  ({res['region']})")
    print(f"  Key Vault                          {stack.state['keyVault']['uri']}")
    print(f"  Functions host (devhost)           {stack.host_url}  (pid {stack.pid('devhost')}, "
          f"instance {stack.instance_id})")
    print(f"  App settings                       {stack.workdir / 'local.settings.json'}")
    print(f"  Logs                               {stack.workdir / 'devhost.log'}, {stack.workdir / 'emulators.log'}")
    print(f"  Dashboard                          {stack.host_url}/api/dashboard")
    print("  Command line                       modelferry --help  (finds this stack by itself)")
    print(f"\nDrive it with curl (README): in another terminal, PORT={stack.host_port} and the commands there, e.g.\n"
          f"  curl -s -X POST {stack.host_url}/api/copies -H 'Content-Type: application/json' "
          "-d '{\"modelId\": \"invoices-2026\"}'")
    print("Ctrl-C stops the stack.\n", flush=True)


def show_replicas(stack: LocalStack) -> None:
    """End with the replica matrix, as the `modelferry` command line prints it (GET /api/replicas)."""
    from modelferry_cli.main import main as modelferry

    modelferry(["replicas", "--refresh", "--url", stack.host_url])


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # First of all: SIGTERM unwinds like Ctrl-C, so one arriving while the stack starts still stops what was started.
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--up", action="store_true", help="start the local stack and keep it running until Ctrl-C")
    parser.add_argument("--port", type=int, default=None,
                        help=f"devhost port (default: {DEFAULT_UP_PORT} with --up, else a free one; 0 = a free one)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="the stack's folder (default .local/demo/<port>, or .local/demo/main-job)")
    args = parser.parse_args(argv)

    label = "make up" if args.up else "make demo"
    port = args.port if args.port is not None else (DEFAULT_UP_PORT if args.up else 0)
    if not 0 <= port <= 65535:
        print(f"{label}: PORT must be a TCP port (1-65535, or 0 for a free one), not {port}", file=sys.stderr)
        return 2
    workdir = (args.workdir or default_workdir(port)).resolve()
    lock = StackLock(workdir)
    try:
        lock.acquire(label)  # before anything in the folder is touched
        check_port(port, workdir, label)
    except StackBusy as busy:
        lock.release()
        print(busy, file=sys.stderr)
        return 1
    try:
        return _run(args.up, LocalStack(workdir=workdir, host_port=port), lock)
    except (RuntimeError, TimeoutError) as exc:  # the stack did not come up as ours; it has been stopped
        print(f"{label}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # interrupted while starting or running the main job: everything is stopped
        say("interrupted; local stack stopped")
        return 130
    finally:
        lock.release()


def _run(up: bool, stack: LocalStack, lock: StackLock) -> int:
    say("starting the local cloud (3 regions + Key Vault) and devhost ...")
    with stack:
        lock.record(StackRecord(
            command="python -m demo" + (" --up" if up else ""), pid=os.getpid(), port=stack.host_port,
            host_url=stack.host_url, instance_id=stack.instance_id, devhost_pid=stack.pid("devhost"),
            emulators_pid=stack.pid("emulators"), workdir=str(stack.workdir),
            started=f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"))
        if up:
            try:
                print_endpoints(stack)
                threading.Event().wait()  # until Ctrl-C or SIGTERM (raised as KeyboardInterrupt)
            except KeyboardInterrupt:
                pass
            say("stopping ...")
            return 0
        ok = run_main_job(stack)
        say("the operator's view: modelferry replicas --refresh ...")
        show_replicas(stack)
        stack.verify_host()  # the answers came from our host, not from one that took the port meanwhile
    say("local stack stopped")
    print("\nDemo " + ("succeeded: every model is on every target." if ok else "FAILED (see above)."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
