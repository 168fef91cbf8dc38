"""Helpers for the ferry core tests: a scriptable loopback HTTP service, a test authenticator, recordings.

A module with a unique name (not conftest) so `from ferry_testkit import ...` finds it whichever other test
folders' conftest modules are loaded in the same run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Ticker:
    """A monotonic clock the test moves by hand (TTL and refresh-interval decisions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"  # tests/recordings/ (see its README)


# ---------------------------------------------------------------------------------------------------- recordings
@dataclass
class Exchange:
    method: str
    uri: str
    status: int
    headers: dict[str, str]
    body: str
    request_body: Any = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def load_json_recording(name: str) -> list[Exchange]:
    """A test-proxy JSON recording (Entries with ResponseBody as parsed JSON)."""
    data = json.loads((RECORDINGS / name).read_text())
    out = []
    for entry in data["Entries"]:
        body = entry.get("ResponseBody")
        out.append(Exchange(entry["RequestMethod"], entry["RequestUri"], int(entry["StatusCode"]),
                            dict(entry.get("ResponseHeaders") or {}),
                            "" if body is None else json.dumps(body), entry.get("RequestBody")))
    return out


def _unquote_single(lines: list[str]) -> str:
    """YAML single-quoted scalar over several lines: fold line breaks to spaces, '' → '."""
    text = " ".join(line.strip() for line in lines)
    assert text.startswith("'") and text.endswith("'"), text[:80]
    return text[1:-1].replace("''", "'")


def load_yaml_recording(name: str) -> list[Exchange]:
    """A vcrpy YAML recording, read with just enough YAML for its fixed layout (no PyYAML in the venv)."""
    lines = (RECORDINGS / name).read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("- request:")]
    out = []
    for n, start in enumerate(starts):
        block = lines[start:starts[n + 1] if n + 1 < len(starts) else len(lines)]
        resp = next(i for i, line in enumerate(block) if line.startswith("  response:"))
        method = next(line.split(":", 1)[1].strip() for line in block[:resp] if line.startswith("    method:"))
        uri = next(line.split(":", 1)[1].strip() for line in block[:resp] if line.startswith("    uri:"))
        code = int(next(line.split(":", 1)[1] for line in block[resp:] if line.startswith("      code:")))
        # body string: from "      string: '" up to the line that closes the quote
        body_start = next(i for i in range(resp, len(block)) if block[i].startswith("      string:"))
        first = block[body_start].split("string:", 1)[1].strip()
        chunk = [first]
        i = body_start
        while not _closes(" ".join(chunk)):
            i += 1
            chunk.append(block[i])
        body = _unquote_single(chunk)
        headers: dict[str, str] = {}
        h = next(j for j in range(i + 1, len(block)) if block[j].startswith("    headers:"))
        j = h + 1
        while j < len(block) and block[j].startswith("      "):
            name_ = block[j].strip().rstrip(":")
            value = block[j + 1].strip()[2:].strip("'")
            headers[name_] = value
            j += 2
        out.append(Exchange(method, uri, code, headers, body))
    return out


def _closes(text: str) -> bool:
    text = text.strip()
    if len(text) < 2 or not text.startswith("'"):
        return False
    inner = text[1:]
    return inner.endswith("'") and (len(re.search(r"'*$", inner).group(0)) % 2 == 1)


# ---------------------------------------------------------------------------------------------------- fake service
@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], Any]  # status, headers, body (dict/list → JSON, str/bytes as is, None → empty)


@dataclass
class FakeService:
    """A loopback HTTP server answering scripted replies per (METHOD, path regex), recording every request."""

    server: ThreadingHTTPServer
    routes: list[tuple[str, re.Pattern[str], list[Reply | Callable[[Recorded], Reply]]]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def on(self, method: str, path_regex: str, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        """Answer METHOD requests whose path (with query) matches with `replies` in turn; the last repeats."""
        self.routes.append((method.upper(), re.compile(path_regex), list(replies)))

    def reply_for(self, rec: Recorded) -> Reply:
        for method, pattern, replies in self.routes:
            if method == rec.method and pattern.search(rec.path):
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                return reply(rec) if callable(reply) else reply
        return 404, {"Content-Type": "application/json"}, {"error": {"code": "404", "message": "Resource not found"}}

    def count(self, method: str, path_part: str = "") -> int:
        return sum(1 for r in self.requests if r.method == method and path_part in r.path)


def make_handler(service_ref: list[FakeService]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _serve(self) -> None:
            service = service_ref[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rec = Recorded(self.command, self.path, dict(self.headers.items()), body)
            service.requests.append(rec)
            status, headers, payload = service.reply_for(rec)
            if status == 0:  # drop the connection without an answer
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(payload, dict | list):
                data = json.dumps(payload, separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            elif isinstance(payload, str):
                data = payload.encode()
            else:
                data = payload or b""
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() in ("content-length", "transfer-encoding"):  # recorded ones; we frame ourselves
                    continue
                self.send_header(key, value.replace("{base}", service.url))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler


# ---------------------------------------------------------------------------------------------------- auth, settings
class KeyRing:
    """A test Authenticator: hands out keys[0]; after a 401, moves to the next key if there is one."""

    def __init__(self, *keys: str):
        self.keys = list(keys)
        self.index = 0
        self.unauthorized_calls = 0

    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.keys[self.index]}

    def on_unauthorized(self) -> bool:
        self.unauthorized_calls += 1
        if self.index + 1 < len(self.keys):
            self.index += 1
            return True
        return False


SUB = "00000000-0000-0000-0000-000000000001"


def resource_entry(endpoint: str, api_version: str, name: str, region: str = "westus2", **extra: Any) -> dict:
    return {"endpoint": endpoint, "region": region, "apiVersion": api_version,
            "resourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/"
                          f"accounts/{name}", **extra}
