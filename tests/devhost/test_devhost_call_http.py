"""call_http as the extension's BuiltIn::HttpActivity runs it: request/response JSON shapes, no 202 polling for
SDK 1.7 requests (the app polls itself), and the managed-identity token source (App Service style endpoint)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from devhost.engine import history as h
from devhost.testing import DevHost

APPS = Path(__file__).parent / "apps"
IDENTITY_SECRET = "local-identity-header-value"


class Upstream:
    """A loopback service + App Service managed-identity endpoint that records what it received."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.polls_left = 2
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urlparse(self.path)
                upstream.requests.append({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                                          "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                status, headers, payload = upstream.answer(self.command, url.path, parse_qs(url.query), self.headers)
                data = payload.encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, query: dict, headers) -> tuple[int, list, str]:
        if path == "/msi/token":
            if headers.get("X-IDENTITY-HEADER") != IDENTITY_SECRET:
                return 401, [("Content-Type", "application/json")], '{"error": "bad identity header"}'
            resource = query["resource"][0]
            return 200, [("Content-Type", "application/json")], json.dumps(
                {"access_token": f"token-for-{resource}", "expires_on": "4102444800", "resource": resource,
                 "token_type": "Bearer"})
        if path == "/start":
            return 202, [("Location", f"{self.url}/status"), ("Retry-After", "7"), ("Content-Type", "text/plain")], \
                "accepted"
        if path == "/status":
            if self.polls_left > 0:
                self.polls_left -= 1
                return 202, [("Location", f"{self.url}/status"), ("Retry-After", "7")], ""
            return 200, [("Content-Type", "application/json")], '{"done": true}'
        if path == "/slow":
            time.sleep(0.6)
            return 200, [], "slow but fine"
        if path == "/multi":
            return 200, [("Content-Type", "application/json; charset=utf-8"), ("X-Trace", "a"), ("X-Trace", "b"),
                         ("X-One", "1")], '{"ok": "é"}'
        return 404, [], "no such path"

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up


@pytest.fixture
def host(tmp_path, upstream):
    settings = {"IDENTITY_ENDPOINT": f"{upstream.url}/msi/token", "IDENTITY_HEADER": IDENTITY_SECRET}
    with DevHost.start(APPS / "httpcalls", store=tmp_path / "s.sqlite", settings=settings) as h_:
        yield h_


def run(host, spec: dict) -> dict:
    st = host.wait_for(host.start_new("http_call", spec))
    assert st["runtimeStatus"] == "Completed", st
    return st["output"]


def test_response_shape_is_durable_http_response(host, upstream):
    out = run(host, {"uri": f"{upstream.url}/multi"})
    assert list(out) == ["statusCode", "headers", "content"]
    assert out["statusCode"] == 200 and json.loads(out["content"]) == {"ok": "é"}
    # HttpResponseMessage.Headers: response headers only (no Content-Type / Content-Length), repeated -> array
    assert out["headers"]["X-Trace"] == ["a", "b"] and out["headers"]["X-One"] == "1"
    assert not {"content-type", "content-length"} & {k.lower() for k in out["headers"]}


def test_request_content_and_headers_as_the_extension_sends_them(host, upstream):
    run(host, {"method": "POST", "uri": f"{upstream.url}/multi", "content": {"a": 1},
               "headers": {"Content-Type": "application/json", "X-Custom": "v"}})
    run(host, {"method": "PUT", "uri": f"{upstream.url}/multi", "content": "raw text", "raw": True})
    run(host, {"uri": f"{upstream.url}/multi", "headers": {"Content-Type": "application/json"}})
    post, put, get = upstream.requests
    assert post["method"] == "POST" and json.loads(post["body"]) == {"a": 1}
    assert post["headers"]["content-type"] == "application/json" and post["headers"]["x-custom"] == "v"
    assert put["body"] == "raw text" and put["headers"]["content-type"] == "text/plain"   # the default
    assert get["body"] == "" and "content-type" not in get["headers"]                    # no content, no type


def test_a_202_is_returned_not_polled(host, upstream):
    """SDK 1.7 never sends asynchronousPatternEnabled; the extension then deserializes false and does not poll."""
    out = run(host, {"method": "POST", "uri": f"{upstream.url}/start"})
    assert out["statusCode"] == 202 and out["content"] == "accepted"
    assert out["headers"]["Location"] == f"{upstream.url}/status" and out["headers"]["Retry-After"] == "7"
    assert [r["path"] for r in upstream.requests] == ["/start"]


def test_the_app_polls_a_202_itself_on_the_virtual_clock(host, upstream):
    t0 = host.clock.time()
    iid = host.start_new("http_poll", f"{upstream.url}/start")
    st = host.wait_for(iid)
    assert st["output"]["status"] == 200 and st["output"]["polls"] == 3
    assert [r["path"] for r in upstream.requests] == ["/start", "/status", "/status", "/status"]
    assert host.clock.time() - t0 == pytest.approx(21, abs=0.01)     # three Retry-After: 7 timers, skipped
    scheduled = [e["Name"] for e in host.history(iid) if e["EventType"] == h.TASK_SCHEDULED]
    assert scheduled == ["BuiltIn::HttpActivity"] * 4


def test_asynchronous_pattern_flag_is_refused_clearly():
    from devhost.engine.http_activity import HttpActivityError, run_http_activity

    with pytest.raises(HttpActivityError, match="asynchronousPatternEnabled=true is not supported"):
        run_http_activity(json.dumps({"method": "GET", "uri": "http://127.0.0.1:1/",
                                      "asynchronousPatternEnabled": True}))


def test_managed_identity_token_source(host, upstream):
    out = run(host, {"uri": f"{upstream.url}/multi", "resource": "https://management.core.windows.net/",
                     "headers": {"Authorization": "Bearer overwritten"}})
    assert out["statusCode"] == 200
    token_request, call = upstream.requests
    assert token_request["path"] == "/msi/token"
    assert token_request["query"]["resource"] == ["https://management.core.windows.net"]
    assert call["headers"]["authorization"] == "Bearer token-for-https://management.core.windows.net"
    # the token never lands in durable history
    assert "token-for-" not in json.dumps(host.history(host.engine.query()[0][0]["instanceId"]))


def test_token_source_without_identity_endpoint_fails_clearly(tmp_path, upstream, monkeypatch):
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("IDENTITY_HEADER", raising=False)
    with DevHost.start(APPS / "httpcalls", store=tmp_path / "s.sqlite") as host:
        out = run(host, {"uri": f"{upstream.url}/multi", "resource": "https://vault.azure.net"})
    assert "needs the app settings IDENTITY_ENDPOINT and IDENTITY_HEADER" in out["failed"]
    assert upstream.requests == []


def test_identity_endpoint_refusal_is_reported(tmp_path, upstream):
    settings = {"IDENTITY_ENDPOINT": f"{upstream.url}/msi/token", "IDENTITY_HEADER": "wrong"}
    with DevHost.start(APPS / "httpcalls", store=tmp_path / "s.sqlite", settings=settings) as host:
        out = run(host, {"uri": f"{upstream.url}/multi", "resource": "https://vault.azure.net"})
    assert "managed identity token for 'https://vault.azure.net' failed" in out["failed"]
    assert [r["path"] for r in upstream.requests if r["path"] != "/msi/token"] == []


def test_function_timeout_does_not_apply_to_the_builtin_http_activity(tmp_path, upstream):
    """TaskHttpActivityShim runs inside the extension, not through the Functions host's invoker (no timeout)."""
    with DevHost.start(APPS / "httpcalls", store=tmp_path / "s.sqlite", function_timeout=0.2) as host:
        out = run(host, {"uri": f"{upstream.url}/slow"})
    assert (out["statusCode"], out["content"]) == (200, "slow but fine")
