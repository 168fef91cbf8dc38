"""Shared helpers for the emulator tests: a frozen clock, a config builder, HTTP helpers, recordings."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import requests

SUB = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
       "Microsoft.CognitiveServices/accounts")
RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"  # tests/recordings/ (see its README)


class FrozenClock:
    """Time stands still unless ``advance`` is called (the devhost's virtual clock behaves alike)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def resource(name: str, region: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "region": region, "keys": [f"{name}-key1", f"{name}-key2"],
            "resourceId": f"{SUB}/{name}", "port": 0, **extra}


def three_regions(**extra: Any) -> dict[str, Any]:
    """Source in eastus, a plain target in westus2, a customer-managed-key target in westeurope."""
    unlimited = {"rateLimits": {"manage": None, "get": None, "list": None}}
    return {"resources": [resource("src", "eastus", **unlimited, **extra),
                          resource("west", "westus2", **unlimited, **extra),
                          resource("cmk", "westeurope", cmk=True, **unlimited, **extra)]}


class Client:
    """``requests`` bound to one emulated resource and API generation."""

    def __init__(self, handle: Any, api: str, key: str | None = None) -> None:
        self.handle = handle
        self.api = api
        self.key = key if key is not None else handle.keys[0]
        self.session = requests.Session()

    @property
    def base(self) -> str:
        if self.api in ("v2.0", "v2.1"):
            return f"{self.handle.endpoint}/formrecognizer/{self.api}"
        prefix = "documentintelligence" if self.api == "2024-11-30" else "formrecognizer"
        return f"{self.handle.endpoint}/{prefix}"

    def url(self, path: str) -> str:
        if self.api in ("v2.0", "v2.1"):
            return self.base + path
        return f"{self.base}{path}{'&' if '?' in path else '?'}api-version={self.api}"

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             absolute: bool = False) -> requests.Response:
        h = {"Ocp-Apim-Subscription-Key": self.key, **(headers or {})}
        data = None if body is None else json.dumps(body)
        if data is not None:
            h["Content-Type"] = "application/json"
        return self.session.request(method, path if absolute else self.url(path), data=data, headers=h, timeout=10)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, body, **kw)

    def delete(self, path: str) -> requests.Response:
        return self.call("DELETE", path)

    def poll(self, url: str, **kw: Any) -> requests.Response:
        return self.call("GET", url, absolute=True, **kw)


def client(handle: Any, api: str, key: str | None = None) -> Client:
    return Client(handle, api, key)


# ---------------------------------------------------------------- v2 / v3 flows used by many tests
def v2_authorize(target: Client) -> dict[str, Any]:
    r = target.post("/custom/models/copyAuthorization")
    assert r.status_code == 201, r.text
    return r.json()


def v2_copy(source: Client, model_id: str, target: Any, auth: dict[str, Any],
            region: str | None = None, resource_id: str | None = None,
            headers: dict[str, str] | None = None) -> requests.Response:
    body = {"targetResourceId": resource_id or target.resource_id,
            "targetResourceRegion": region or target.region, "copyAuthorization": auth}
    return source.post(f"/custom/models/{model_id}/copy", body, headers=headers)


def v3_authorize(target: Client, model_id: str, **extra: Any) -> dict[str, Any]:
    r = target.post("/documentModels:authorizeCopy", {"modelId": model_id, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def v3_copy(source: Client, model_id: str, auth: dict[str, Any], headers: dict[str, str] | None = None):
    return source.post(f"/documentModels/{model_id}:copyTo", auth, headers=headers)


# ---------------------------------------------------------------- recordings
def recordings_dir() -> Path:
    """The recordings ship with the repository: a missing file is a failure, never a skip."""
    return RECORDINGS


def load_json_recording(name: str) -> list[dict[str, Any]]:
    data = json.loads((recordings_dir() / name).read_text(encoding="utf-8"))
    return [{"method": e["RequestMethod"], "uri": e["RequestUri"], "status": e["StatusCode"],
             "headers": e["ResponseHeaders"], "body": e.get("ResponseBody")} for e in data["Entries"]]


def _yaml_scalar(lines: list[str], start: int, first: str) -> tuple[str, int]:
    """A vcrpy single-quoted, folded scalar starting on ``first`` (after the key)."""
    text = first.strip()
    if not text.startswith("'"):
        return text.strip("'\""), start + 1
    parts = [text[1:]]
    i = start + 1
    while (len(parts[-1]) - len(parts[-1].rstrip("'"))) % 2 == 0:  # an odd run of quotes closes it
        parts.append(lines[i].strip())
        i += 1
    joined = " ".join(parts)[:-1]
    return joined.replace("''", "'"), i


def load_yaml_recording(name: str) -> list[dict[str, Any]]:
    """Just enough of vcrpy's YAML: per interaction the method, uri, status, headers and body string."""
    lines = (recordings_dir() / name).read_text(encoding="utf-8").splitlines()
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("- request:"):
            current = {"headers": {}, "body": None}
            out.append(current)
            section = "request"
        elif line.startswith("  response:"):
            section = "response"
        elif current is not None and section == "request" and line.startswith("    method:"):
            current["method"] = line.split(":", 1)[1].strip()
        elif current is not None and section == "request" and line.startswith("    uri:"):
            current["uri"] = line.split(":", 1)[1].strip()
        elif current is not None and section == "response" and line.startswith("      string:"):
            value, i = _yaml_scalar(lines, i, line.split("string:", 1)[1])
            current["body"] = json.loads(value) if value.startswith("{") else value
            continue
        elif current is not None and section == "response" and line.startswith("      code:"):
            current["status"] = int(line.split(":", 1)[1])
        elif current is not None and section == "response" and re.match(r"^      [A-Za-z][\w-]*:$", line):
            header = line.strip()[:-1]
            current["headers"][header] = lines[i + 1].strip()[2:].strip("'")
            i += 2
            continue
        i += 1
    return out


def ordered_subset(expected: list[str], actual: list[str]) -> bool:
    """``expected`` keys all appear in ``actual`` in the same relative order."""
    positions = [actual.index(k) for k in expected if k in actual]
    return len(positions) == len(expected) and positions == sorted(positions)
