"""HTTP surface of the Key Vault emulator: authentication challenge, api-version, and one function per route.

Order of checks, as the real vault: throttling first, then the bearer token (a request without one gets
the 401 challenge SecretClient needs to discover tenant and scope), then api-version, then the route.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from emulators.keyvault import wire
from emulators.keyvault.errors import (
    BadParameter,
    KeyVaultError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)

if TYPE_CHECKING:
    from emulators.keyvault.emulator import KeyVaultEmulator

VAULT_RESOURCE = "https://vault.azure.net"

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/secrets/?$"), "listSecrets"),
    ("GET", re.compile(r"^/secrets/(?P<name>[^/]+)/versions/?$"), "listSecretVersions"),
    ("GET", re.compile(r"^/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?$"), "getSecret"),
    ("PUT", re.compile(r"^/secrets/(?P<name>[^/]+)/?$"), "setSecret"),
]

_TOKEN_REASONS = {
    "unknown": "AKV10032: Invalid issuer. The token was not issued by this cloud's managed-identity endpoint.",
    "expired": "[TokenExpired] Error validating token: 'S2S12086'.",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _authenticate(vault: KeyVaultEmulator, request: Request) -> None:
    token = _bearer(request.headers)
    if token is None:
        raise Unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
    reason = vault.tokens.check(token, VAULT_RESOURCE)
    if reason == "wrong_audience":
        raise Unauthorized(f"AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: "
                           f"{vault.tokens.audience_of(token)}.")
    if reason != "ok":
        raise Unauthorized(_TOKEN_REASONS.get(reason, _TOKEN_REASONS["unknown"]))


def _match(method: str, path: str) -> tuple[str, dict[str, str]]:
    allowed = False
    for route_method, pattern, operation in _ROUTES:
        found = pattern.match(path)
        if found:
            allowed = True
            if route_method == method:
                return operation, {k: unquote(v) for k, v in found.groupdict().items() if v}
    if allowed:
        raise MethodNotAllowed(f"The method {method} is not supported on {path} by the Key Vault emulator "
                               "(it serves GET/PUT secrets and the list operations).")
    raise NotFound(f"The path '{path}' is not a Key Vault secrets route served by the emulator.")


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except ValueError as exc:
        raise BadParameter(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise BadParameter('The request body must be a JSON object like {"value": "..."}.')
    return body


def operation_of(request: Request) -> str:
    try:
        return _match(request.method, request.path)[0]
    except KeyVaultError:
        return "unknown"


def handle(vault: KeyVaultEmulator, request: Request) -> Response:
    """Answer one request; every failure becomes the service's error envelope."""
    try:
        vault.take_throttle()
        _authenticate(vault, request)
        api_version = wire.check_api_version(request.query.get("api-version"))
        operation, params = _match(request.method, request.path)
        return _dispatch(vault, request, operation, params, api_version)
    except KeyVaultError as error:
        headers = dict(error.headers)
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = vault.challenge()
        return Response(error.status, error.body(), headers)


def _dispatch(vault: KeyVaultEmulator, request: Request, operation: str, params: dict[str, str],
              api_version: str) -> Response:
    uri = vault.uri
    if operation == "getSecret":
        vault.check_access(params["name"])
        secret = vault.store.get(params["name"], params.get("version"))
        return Response(200, wire.bundle(uri, secret))
    if operation == "setSecret":
        vault.check_access(params["name"], "setSecret")
        body = _json_body(request)
        if "value" not in body:
            raise BadParameter("The request body has no 'value'; send {\"value\": \"...\"}.")
        attributes = body.get("attributes") or {}
        secret = vault.store.set(params["name"], body["value"], content_type=body.get("contentType"),
                                 tags=body.get("tags"), enabled=bool(attributes.get("enabled", True)))
        return Response(200, wire.bundle(uri, secret))
    size = wire.page_size(request.query.get("maxresults"))
    offset = wire.decode_skiptoken(request.query.get("$skiptoken"))
    if operation == "listSecretVersions":
        vault.check_access(params["name"], "readMetadata")
        items = [wire.item(uri, s, with_version=True) for s in vault.store.versions(params["name"])]
        base = f"{uri}/secrets/{params['name']}/versions"
    else:
        vault.check_access(None, "readMetadata")
        items = [wire.item(uri, s, with_version=False) for s in vault.store.latest_of_each()]
        base = f"{uri}/secrets"
    return Response(200, wire.page(items, offset=offset, size=size, next_base=base, api_version=api_version))


class KeyVaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        return  # the emulator keeps a structured request log instead

    def _serve(self) -> None:
        vault: KeyVaultEmulator = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()},
                          body)
        response = handle(vault, request)
        vault.record(request, response.status)
        payload = json.dumps(response.body, separators=(",", ":")).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-keyvault-service-version", "1.9.0.0")
        self.send_header("x-ms-request-id", vault.new_request_id())
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve
