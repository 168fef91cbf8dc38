"""Managed identity for the local cloud: who issued which bearer token, and the endpoint that issues them.

Two parts, so that the emulated services and the token endpoint agree without sharing a network hop:

* ``TokenRegistry`` remembers every token it issued (audience, identity, expiry on the shared clock).
  The Key Vault emulator checks tokens with ``validate(token, "https://vault.azure.net")`` and the Document
  Intelligence emulator with ``validate(token, "https://cognitiveservices.azure.com")``.
* ``ManagedIdentityEndpoint`` is the App Service / Azure Functions flavour of the managed-identity REST
  endpoint (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``, api-version 2019-08-01, header
  ``X-IDENTITY-HEADER``). Pointing those two variables at it makes the unmodified azure-identity code path
  (``DefaultAzureCredential`` → ``ManagedIdentityCredential`` → MSAL's App Service flow) work offline.

Tokens are opaque random strings; nothing here logs them.

Clock caveat: expiry is judged on the shared clock, but MSAL caches a token by *real* time
(``expires_in = expires_on - time.time()``). A test that moves the clock past a token's lifetime (default
24 h, like App Service tokens) will see cached tokens rejected; build a fresh credential after such a jump.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulators.clock import Clock, SystemClock
from emulators.keyvault.loopback import LoopbackServer

IDENTITY_API_VERSION = "2019-08-01"
DEFAULT_TOKEN_LIFETIME = 24 * 3600.0
# The object id of the app's system-assigned identity, reported as client_id when none is asked for.
SYSTEM_ASSIGNED_CLIENT_ID = "00000000-0000-4000-8000-0000000000aa"


# The local cloud's default clock (real time plus an offset); the old name stays for callers.
WallClock = SystemClock


# Variables that would steer azure-identity's DefaultAzureCredential away from the App Service managed-identity
# flow (environment/workload/certificate credentials, other managed-identity sources): unset them locally.
OTHER_CREDENTIAL_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME",
                         "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_CERTIFICATE_PATH", "MSI_ENDPOINT",
                         "MSI_SECRET", "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT")


def managed_identity_environment(endpoint: str, header: str) -> dict[str, str]:
    """The settings that make the production credential path (`DefaultAzureCredential`) use a local identity
    endpoint: what App Service injects, plus azure-identity's selector so no other credential is probed."""
    return {"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": header,
            "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential"}


def normalize_resource(resource_or_scope: str) -> str:
    """``https://vault.azure.net/.default`` and ``https://vault.azure.net/`` both mean ``https://vault.azure.net``."""
    value = resource_or_scope.strip()
    if value.endswith("/.default"):
        value = value[: -len("/.default")]
    return value.rstrip("/").lower()


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    identity: str
    expires_on: int


class TokenRegistry:
    """Issues opaque bearer tokens and answers whether a token is valid for a resource (audience)."""

    def __init__(self, clock: Clock | None = None, *, lifetime: float = DEFAULT_TOKEN_LIFETIME) -> None:
        if lifetime <= 0:
            raise ValueError(f"token lifetime must be positive seconds; got {lifetime}")
        self.clock: Clock = clock if clock is not None else WallClock()
        self.lifetime = float(lifetime)
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, resource: str, *, identity: str = SYSTEM_ASSIGNED_CLIENT_ID) -> tuple[str, int]:
        """A new token for ``resource`` (audience) → ``(token, expires_on epoch seconds)``."""
        if not resource or not resource.strip():
            raise ValueError("a token needs a resource (audience), e.g. 'https://vault.azure.net'")
        token = "emu-mi." + secrets.token_urlsafe(32)
        expires_on = int(self.clock.time() + self.lifetime)
        with self._lock:
            self._tokens[token] = IssuedToken(normalize_resource(resource), identity, expires_on)
        return token, expires_on

    def check(self, token: str, resource: str) -> str:
        """Why a token is (not) accepted: ``"ok"``, ``"unknown"``, ``"expired"`` or ``"wrong_audience"``."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None:
            return "unknown"
        if issued.resource != normalize_resource(resource):
            return "wrong_audience"
        if self.clock.time() >= issued.expires_on:
            return "expired"
        return "ok"

    def validate(self, token: str, resource: str) -> bool:
        return self.check(token, resource) == "ok"

    def audience_of(self, token: str) -> str | None:
        with self._lock:
            issued = self._tokens.get(token)
        return issued.resource if issued else None

    def issued_tokens(self) -> list[str]:
        """Every token issued and not revoked: for tests that scan logs and stores for leaked credentials."""
        with self._lock:
            return list(self._tokens)

    def revoke_all(self) -> None:
        """Forget every token (as after an identity is removed): holders get 401 until they fetch a new one."""
        with self._lock:
            self._tokens.clear()

    @property
    def issued_count(self) -> int:
        with self._lock:
            return len(self._tokens)

    def reset(self) -> None:
        self.revoke_all()


class _IdentityHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Kestrel"
    sys_version = ""
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        return  # the endpoint keeps its own request log; never echo query strings (they are harmless, but quiet)

    def do_GET(self) -> None:
        app: ManagedIdentityEndpoint = self.server.app  # type: ignore[attr-defined]
        status, body = app.handle_token_request(self.path, self.headers.get("X-IDENTITY-HEADER"))
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if "correlationId" in body:
            self.send_header("X-CORRELATION-ID", body["correlationId"])
        self.end_headers()
        self.wfile.write(payload)

    def _not_allowed(self) -> None:
        payload = b'{"statusCode":405,"message":"Only GET is supported by the managed identity endpoint."}'
        self.send_response(405)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = do_DELETE = _not_allowed


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    # App Service's shape, e.g. {"statusCode":400,"message":"Unable to load the proper Managed Identity.",...}
    return status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}


class ManagedIdentityEndpoint:
    """App Service style managed-identity endpoint on ``http://127.0.0.1:<port>/msi/token``.

    ``user_assigned`` lists the ids (client id, object id or resource id) of user-assigned identities the
    "app" has; asking for any other one fails like App Service does (400 "Unable to load the proper
    Managed Identity."). Without an id the system-assigned identity answers.
    """

    PATH = "/msi/token"

    def __init__(self, tokens: TokenRegistry, *, port: int = 0, header: str | None = None,
                 user_assigned: Iterable[str] = ()) -> None:
        self.tokens = tokens
        self.header = header or secrets.token_hex(16)
        self.user_assigned = {value.lower() for value in user_assigned}
        self._server = LoopbackServer(_IdentityHandler, app=self, port=port)
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> ManagedIdentityEndpoint:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ManagedIdentityEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """The value for ``IDENTITY_ENDPOINT``."""
        return f"http://127.0.0.1:{self._server.port}{self.PATH}"

    def env(self) -> dict[str, str]:
        """``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` as the App Service platform injects them."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.header}

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """One entry per request: ``{"resource", "identity", "status"}`` (never the token)."""
        with self._log_lock:
            return [dict(entry) for entry in self._log]

    def reset(self) -> None:
        with self._log_lock:
            self._log.clear()

    # protocol --------------------------------------------------------------------------------------------
    def handle_token_request(self, raw_path: str, identity_header: str | None) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        resource = query.get("resource", "")
        identity = next((query[k] for k in ("client_id", "object_id", "mi_res_id", "principal_id")
                         if query.get(k)), None)
        status, body = self._answer(parts.path, query, resource, identity, identity_header)
        with self._log_lock:
            self._log.append({"resource": resource, "identity": identity or "system", "status": status})
        return status, body

    def _answer(self, path: str, query: dict[str, str], resource: str, identity: str | None,
                identity_header: str | None) -> tuple[int, dict[str, Any]]:
        if path.rstrip("/") != self.PATH:
            return _error(404, f"No managed identity endpoint at '{path}'; use {self.PATH}.")
        if not identity_header:
            return _error(401, "The X-IDENTITY-HEADER request header is missing; send the value of "
                               "IDENTITY_HEADER.")
        if not secrets.compare_digest(identity_header, self.header):
            return _error(401, "The X-IDENTITY-HEADER request header does not match IDENTITY_HEADER.")
        api_version = query.get("api-version")
        if api_version != IDENTITY_API_VERSION:
            return _error(400, f"The api-version '{api_version or ''}' is not supported by this endpoint; "
                               f"use api-version={IDENTITY_API_VERSION}.")
        if not resource:
            return _error(400, "The 'resource' query parameter is required, e.g. resource=https://vault.azure.net.")
        if identity is not None and identity.lower() not in self.user_assigned:
            return _error(400, "Unable to load the proper Managed Identity.")
        token, expires_on = self.tokens.issue(resource, identity=identity or SYSTEM_ASSIGNED_CLIENT_ID)
        return 200, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity or SYSTEM_ASSIGNED_CLIENT_ID,
        }
