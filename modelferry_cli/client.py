"""The app's HTTP API as the command line uses it: where the app is, its function key, calls and their errors.

Why a module of its own: every command needs the same answers to "which app, which key" (flag, environment,
the `make up` stack, a default), and the same translation of failures into one message with a hint and an exit
code (1: something failed, 2: the request itself was wrong), never a traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

DEFAULT_URL = "http://127.0.0.1:7071"
STACKS = Path(".local") / "demo"
"""`make up` / `make demo` keep each running stack's record in .local/demo/<port>/stack.json ({"host_url", "pid",
"port", ...}); it is removed when the stack stops."""
DEFAULT_PORT = 7071
RUNNING = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """What went wrong, what to do, and the exit code; `payload` is the app's error body when it sent one."""

    def __init__(self, message: str, hint: str = "", *, exit_code: int = EXIT_FAILED,
                 payload: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
        self.payload = payload

    def to_dict(self) -> dict[str, Any]:
        if self.payload:
            return self.payload
        return {"error": {"code": "CliError", "message": self.message, "hint": self.hint}}


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def local_stack() -> dict[str, Any]:
    """The running `make up` stack ({"url": ...}; port 7071 first), if there is one here (else {})."""
    roots = [Path.cwd(), Path(__file__).resolve().parents[1]]
    found = []
    for root in dict.fromkeys(roots):
        for path in sorted((root / STACKS).glob("*/stack.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("host_url") and _alive(data.get("pid")):
                found.append(data)
    if not found:
        return {}
    best = min(found, key=lambda d: (d.get("port") != DEFAULT_PORT, "--up" not in str(d.get("command"))))
    return {"url": best["host_url"]}


@dataclass
class App:
    """One ModelFerry app: its base URL (no /api) and function key (None when keys are not enforced)."""

    url: str
    key: str | None = None
    timeout: float = 60.0

    @classmethod
    def resolve(cls, url: str | None, key: str | None) -> App:
        """--url/--key win, then MODELFERRY_URL/MODELFERRY_KEY (click fills those), then the local stack."""
        stack = local_stack() if not url else {}
        chosen = url or stack.get("url") or DEFAULT_URL
        if not chosen.startswith(("http://", "https://")):
            raise CliError(f"--url {chosen!r} is not an http(s) URL",
                           "Pass the app's base URL, e.g. https://<app>.azurewebsites.net", exit_code=EXIT_USAGE)
        return cls(url=chosen.rstrip("/").removesuffix("/api"), key=key or stack.get("key"))

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.key:
            headers["x-functions-key"] = self.key
        return headers

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                ok: tuple[int, ...] = (200,), absolute: bool = False) -> tuple[int, Any]:
        """Call the app; returns (status, JSON body) for the statuses in `ok`, raises CliError otherwise."""
        url = path if absolute else f"{self.url}/api/{path}"
        try:
            resp = requests.request(method, url, params={k: v for k, v in (params or {}).items() if v is not None},
                                    json=body, headers=self._headers(), timeout=self.timeout)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach ModelFerry at {self.url} ({type(exc).__name__})",
                           "Start the local stack with `make up`, or pass --url / set MODELFERRY_URL to the "
                           "Function App's URL.") from None
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if resp.status_code in ok:
            return resp.status_code, data
        raise self._failure(resp, data)

    def _failure(self, resp: requests.Response, data: Any) -> CliError:
        status = resp.status_code
        error = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else None
        if status in (401, 403):
            return CliError(f"the app refused the request (HTTP {status}): no valid function key",
                            "Pass --key or set MODELFERRY_KEY to a function key of the app (portal: Function "
                            "App → App keys → default).", payload=data if error else None)
        if error is not None:
            code = EXIT_USAGE if status == 400 else EXIT_FAILED
            return CliError(f"{error.get('code', 'Error')}: {error.get('message', '')}", error.get("hint") or "",
                            exit_code=code, payload=data)
        if status == 404:
            return CliError(f"{resp.request.path_url.split('?')[0]} is not served by the app at {self.url} "
                            "(HTTP 404)", "Check --url; an older ModelFerry version may not have this endpoint.")
        return CliError(f"the app answered HTTP {status}", "See the app's logs (Application Insights).")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)[1]

    def follow(self, status_uri: str) -> dict[str, Any]:
        """A run's Durable status through the status URL the app handed out (it carries its own key)."""
        try:
            resp = requests.get(status_uri, headers={"Accept": "application/json"}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach the run's status URL ({type(exc).__name__})",
                           "Check that the app is running; `modelferry runs` lists the runs again.") from None
        if resp.status_code not in (200, 202) or not resp.content:
            raise CliError(f"the run's status URL answered HTTP {resp.status_code}",
                           "The run may have been purged; `modelferry runs` lists the runs the app knows.")
        return resp.json()

    def wait(self, status_uri: str, on_status: Callable[[dict[str, Any]], None], *, interval: float = 1.0,
             timeout: float | None = None) -> dict[str, Any]:
        """Poll the status URL until the run ends, calling `on_status` with every status."""
        started = time.monotonic()
        while True:
            status = self.follow(status_uri)
            on_status(status)
            if status.get("runtimeStatus") not in RUNNING:
                return status
            if timeout is not None and time.monotonic() - started > timeout:
                raise CliError(f"the run is still {status.get('runtimeStatus')} after {timeout:.0f} s",
                               "It keeps running in the app; follow it with `modelferry status "
                               f"{status.get('instanceId')}`.")
            time.sleep(interval)


def env_default(name: str) -> str | None:
    return os.environ.get(name) or None
