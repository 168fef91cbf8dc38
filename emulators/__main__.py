"""``python -m emulators --config FILE``: run the local cloud until Ctrl-C / SIGTERM.

Writes ``stateFile`` (if configured, or ``--state``) once every server listens, prints the endpoints,
and exits 0 on a clean stop, 2 on a config error (message names the field).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from emulators.config import ConfigError
from emulators.localcloud import LocalCloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON config (see emulators/README.md)")
    parser.add_argument("--state", help="write the state file here (overrides the config's stateFile)")
    args = parser.parse_args(argv)
    try:
        raw = json.loads(Path(args.config).read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"config error: {args.config}: no such file", file=sys.stderr)
        return 2
    except ValueError as problem:
        print(f"config error: {args.config} is not valid JSON: {problem}", file=sys.stderr)
        return 2
    if args.state and isinstance(raw, dict):
        raw["stateFile"] = args.state
    try:
        cloud = LocalCloud.from_config(raw)
    except ConfigError as problem:
        print(f"config error: {problem}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cloud.start()
    try:
        for name, entry in cloud.state["resources"].items():
            print(f"document intelligence {name:<16} {entry['endpoint']}  region={entry['region']}", flush=True)
        kv = cloud.state.get("keyVault")
        if kv:
            print(f"key vault {'':<22} {kv['uri']}  ca={kv['caBundle']}", flush=True)
            if kv.get("identityEndpoint"):
                print(f"managed identity {'':<15} {kv['identityEndpoint']}", flush=True)
        if cloud.config.state_file:
            print(f"state file {cloud.config.state_file}", flush=True)
        print("local cloud running; Ctrl-C or SIGTERM stops it", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        cloud.stop()
        print("local cloud stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
