"""`python -m devhost start` — run a Functions app (Python v2 model, Durable Functions) locally, like `func start`.

    python -m devhost start [--app DIR] [--port 7071] [--host 127.0.0.1] [--store PATH] [--settings FILE]
                            [--clock real|virtual] [--keys] [--keys-file PATH] [--instance-id ID] [--verbose]

Loads app settings (`--settings FILE`, else `DIR/local.settings.json` if present) into the environment,
reads `DIR/host.json`, imports `DIR/function_app.py`, refuses unsupported bindings, starts the durable
engine on a SQLite store (default `DIR/.local/devhost/<hub>.sqlite`), serves every HTTP route, the Durable HTTP
API, the Event Grid webhook and the admin API on one port, fires timer triggers, prints the function
URLs, and stops cleanly on SIGINT/SIGTERM. With `--keys`, keys are enforced; they are read from (or
generated into) `--keys-file` (default `DIR/.local/devhost/keys.json`, mode 0600) and never printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost", description="Local Azure Functions + Durable host.")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="load the app and serve it until interrupted")
    start.add_argument("--app", type=Path, default=Path("."), help="folder holding function_app.py (default .)")
    start.add_argument("--port", type=int, help="HTTP port (default: Host.LocalHttpPort of the settings file, "
                                               "else 7071; 0 = any free port)")
    start.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    start.add_argument("--store", type=Path, help="SQLite store (default APP/.local/devhost/<hub>.sqlite)")
    start.add_argument("--settings", type=Path, help="settings file with Values (default APP/local.settings.json)")
    start.add_argument("--clock", choices=("real", "virtual"), default="real",
                       help="virtual: skip ahead to the next due timer when idle (default real)")
    start.add_argument("--keys", action="store_true", help="enforce function/admin/system keys as in Azure")
    start.add_argument("--keys-file", type=Path, help="keys JSON (default APP/.local/devhost/keys.json)")
    start.add_argument("--instance-id", help="the instanceId GET /admin/host/status reports (default random): "
                                              "lets a launcher check that the host on the port is the one it started")
    start.add_argument("--verbose", action="store_true", help="debug logs of the devhost itself")
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="[%(asctime)s] %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    for noisy in ("aiohttp", "asyncio", "urllib3", "azure"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str) -> int:
    print(f"devhost: {message}", file=sys.stderr)
    return EXIT_CONFIG


def start(args: argparse.Namespace) -> int:
    """Run the host until SIGINT/SIGTERM; returns the process exit code."""
    from devhost.config import ConfigError, load_host_config, load_settings, local_http_port
    from devhost.functions import AppLoadError, load_app
    from devhost.http import HostKeys, HostServer
    from devhost.http.routes import RouteError
    from devhost.triggers import ScheduleError

    app_dir = args.app.resolve()
    if not (app_dir / "function_app.py").is_file():
        return _fail(f"no function_app.py in {app_dir}; pass --app with the app folder")
    try:
        settings_path = args.settings or (app_dir / "local.settings.json")
        port = args.port
        if args.settings or settings_path.exists():
            os.environ.update(load_settings(settings_path))
            if port is None:
                port = local_http_port(settings_path)
        args.port = 7071 if port is None else port
        config = load_host_config(app_dir)
        index = load_app(app_dir)
    except (ConfigError, AppLoadError) as exc:
        return _fail(str(exc))

    from devhost.engine.clock import RealClock, VirtualClock
    from devhost.engine.engine import Engine

    clock = VirtualClock() if args.clock == "virtual" else RealClock()
    store = args.store or (app_dir / ".local" / "devhost" / f"{config.hub_name}.sqlite")
    store.parent.mkdir(parents=True, exist_ok=True)
    keys = None
    if args.keys:
        keys_file = args.keys_file or (app_dir / ".local" / "devhost" / "keys.json")
        try:
            keys = HostKeys.load(keys_file) if keys_file.exists() else HostKeys.generate()
        except ValueError as exc:
            return _fail(str(exc))
        keys.ensure([f.name for f in index.by_trigger("httpTrigger")])
        keys.save(keys_file)
    engine = Engine(index, store_path=store, clock=clock, hub_name=config.hub_name,
                    max_activities=config.max_activities, max_orchestrators=config.max_orchestrators,
                    function_timeout=config.function_timeout,
                    time_skipping="always" if args.clock == "virtual" else "never")
    try:
        server = HostServer(index, engine, port=args.port, host=args.host, route_prefix=config.route_prefix,
                            keys=keys, hub_name=config.hub_name, function_timeout=config.function_timeout,
                            clock=clock, instance_id=args.instance_id)
    except (RouteError, ScheduleError, AppLoadError) as exc:
        return _fail(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    engine.start()
    try:
        try:
            server.start()
        except OSError as exc:
            return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        print(describe(index, server, store=store, clock=args.clock, keys_file=(
            (args.keys_file or app_dir / ".local" / "devhost" / "keys.json") if keys else None)), flush=True)
        stop.wait()
        print("devhost: stopping", flush=True)
    finally:
        server.stop()
        engine.stop()
    return 0


def describe(index, server, *, store: Path, clock: str, keys_file: Path | None) -> str:
    """The start banner: every function and how to reach it (like `func start`)."""
    lines = ["", "Functions:", ""]
    for info in index.functions.values():
        if info.trigger_type == "httpTrigger":
            methods = ",".join(info.methods) if info.methods else "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS"
            prefix = f"/{server.route_prefix}" if server.route_prefix else ""
            lines.append(f"\t{info.name}: [{methods}] {server.url}{prefix}/{info.route}")
        elif info.trigger_type == "eventGridTrigger":
            lines.append(f"\t{info.name}: eventGridTrigger  (POST {server.url}/runtime/webhooks/eventgrid"
                         f"?functionName={info.name})")
        else:
            lines.append(f"\t{info.name}: {info.trigger_type}")
        lines.append("")
    lines.append(f"Durable HTTP API: {server.url}/runtime/webhooks/durabletask/instances  (task hub "
                 f"{server.hub_name}, store {store}, {clock} clock)")
    if keys_file is not None:
        lines.append(f"Keys are enforced; they are in {keys_file}")
    lines.append(f"Host started on {server.url} (Ctrl+C to stop)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m devhost`."""
    args = _parser().parse_args(argv)
    _configure_logging(getattr(args, "verbose", False))
    if args.command == "start":
        return start(args)
    return 2  # pragma: no cover - argparse enforces the subcommand


if __name__ == "__main__":
    sys.exit(main())
