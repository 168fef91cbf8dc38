"""HTTP front of one emulated resource (stdlib ThreadingHTTPServer on 127.0.0.1).

Pipeline, in this order: parse → ``/_emulator/`` control (never mixed with the Azure surface) → route
(gateway 404) → injected fault → authentication (401) → rate limit (429) → handler under the world lock
→ serialise (compact JSON, real header names) → request log. A ``drop`` fault lets the handler run and
then cuts the connection mid-response.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import errors, routes
from .api import Request, Response, handle
from .errors import GATEWAY, ServiceError
from .faults import Fault

if TYPE_CHECKING:
    from .handle import ResourceHandle

SERVER_NAME = "ModelFerry-Emulator/1.0"
HSTS = "max-age=31536000; includeSubDomains; preload"


def _latin1(value: str) -> str:
    """Header values must be latin-1; a detail naming an odd path must not break the response."""
    return value.encode("latin-1", "replace").decode("latin-1")


def compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # one segment per response, no Nagle/delayed-ACK stalls (40 ms per request otherwise)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the resource keeps a structured request log; stdout stays clean (no keys, no noise)

    def date_time_string(self, timestamp: float | None = None) -> str:
        owner: ResourceHandle = self.server.owner  # type: ignore[attr-defined]
        return formatdate(owner.world.now() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner: ResourceHandle = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, unquote(parts.path), parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, raw, str(uuid.uuid4()))
        if request.path.startswith("/_emulator/") or request.path == "/_emulator":
            status, body = owner.control(request)
            self._write(status, compact(body), {"Content-Type": "application/json; charset=utf-8"})
            return
        response, style, charset, fault, operation = self._azure(owner, request)
        headers = self._headers(owner, request, response, style, charset)
        payload = b"" if response.body is None else compact(response.body)
        owner.record(request, operation, response.status, fault)
        if fault is not None and fault.kind == "drop":
            self._drop(response.status, headers, payload)
            return
        self._write(response.status, payload, headers)

    def _azure(self, owner: ResourceHandle, request: Request) -> tuple[Response, str, bool, Fault | None, str]:
        operation = "unmatched"
        fault: Fault | None = None
        try:
            match = routes.match(request.method, request.path, request.query)
            operation = match.operation
            fault = owner.faults.pick(operation)
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.seconds)  # wall-clock latency on the wire, not emulator time
            if fault is not None and fault.kind == "5xx":
                raise errors.injected_server_error(fault.status)
            if fault is not None and fault.kind == "429":
                raise errors.rate_limited(match.apim_name, match.api.label, owner.settings.tier, fault.retry_after)
            owner.authenticate(request.headers)
            owner.limiter.admit(match.group, match.apim_name, match.api.label, owner.settings.tier)
            with owner.world.lock:
                owner.world.tick()
                response = handle(owner.backend, match, request)
            return response, "service", True, fault, operation
        except ServiceError as error:
            return Response(error.status, error.body, dict(error.headers)), error.style, error.charset, fault, operation

    def _headers(self, owner: ResourceHandle, request: Request, response: Response, style: str,
                 charset: bool) -> dict[str, str]:
        headers: dict[str, str] = {"apim-request-id": request.request_id}
        if response.status != 401:  # the 401 comes straight from the gateway with nothing else
            headers["Strict-Transport-Security"] = HSTS
            headers["X-Content-Type-Options"] = "nosniff"
            if style != GATEWAY:
                headers["x-envoy-upstream-service-time"] = str(random.randint(5, 60))
            if response.status != 404 or style != GATEWAY:  # the recorded route-404 carries no region
                headers["x-ms-region"] = owner.settings.display_region
        if response.body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8" if charset else "application/json"
        headers.update(response.headers)
        return headers

    def _write(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, _latin1(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _drop(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        """Promise a body, send half of the headers' worth, then close: a connection reset mid-response."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, _latin1(value))
        self.send_header("Content-Length", str(len(payload) + 64))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes its kept-alive connection (a pool at exit) is not a server fault: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)


class ResourceServer:
    """A ThreadingHTTPServer bound to 127.0.0.1 for one resource, served from a daemon thread."""

    def __init__(self, owner: ResourceHandle, port: int = 0) -> None:
        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = owner  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       name=f"docintel-{owner.settings.name}", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
