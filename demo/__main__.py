"""`python -m demo` runs the main job and exits; `python -m demo --up` leaves the local stack running."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from demo.scenario import run_main_job, say
from demo.stack import REPO, LocalStack


def print_endpoints(stack: LocalStack) -> None:
    print("\nLocal stack is up:")
    for alias, res in stack.state["resources"].items():
        print(f"  Document Intelligence {alias:<11} {res['endpoint']}  ({res['region']})")
    print(f"  Key Vault                          {stack.state['keyVault']['uri']}")
    print(f"  Functions host (devhost)           {stack.host_url}")
    print(f"  App settings                       {stack.workdir / 'local.settings.json'}")
    print(f"\nTry:\n  curl -s -X POST {stack.host_url}/api/copies -H 'Content-Type: application/json' "
          "-d '{\"modelId\": \"invoices-2026\"}'")
    print("  (train a model first: see README, 'Drive it with curl')\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--up", action="store_true", help="start the local stack and keep it running until Ctrl-C")
    parser.add_argument("--port", type=int, default=None,
                        help="devhost port (default: 7071 with --up, else a free one; 0 = a free one)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".local" / "demo")
    args = parser.parse_args(argv)

    port = args.port if args.port is not None else (7071 if args.up else 0)
    stack = LocalStack(workdir=args.workdir, host_port=port)
    say("starting the local cloud (3 regions + Key Vault) and devhost ...")
    with stack:
        if args.up:
            print_endpoints(stack)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            say("stopping ...")
            return 0
        ok = run_main_job(stack)
    say("local stack stopped")
    print("\nDemo " + ("succeeded: every model is on every target." if ok else "FAILED (see above)."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
