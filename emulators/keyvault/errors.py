"""Key Vault's error envelope: ``{"error": {"code", "message", "innererror"?}}`` with the service's status codes.

Each class fixes the wire code and status, so that the routes only say *what* went wrong. The SDK maps
401 → ClientAuthenticationError, 404 → ResourceNotFoundError, anything else → HttpResponseError.
"""

from __future__ import annotations

from typing import Any


class KeyVaultError(Exception):
    status = 500
    code = "InternalError"
    inner_code: str | None = None

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner_code:
            error["innererror"] = {"code": self.inner_code}
        return {"error": error}


class BadParameter(KeyVaultError):
    status = 400
    code = "BadParameter"


class Unauthorized(KeyVaultError):
    """Always sent with the ``WWW-Authenticate`` challenge (added by the routes)."""

    status = 401
    code = "Unauthorized"


class ForbiddenByRbac(KeyVaultError):
    status = 403
    code = "Forbidden"
    inner_code = "ForbiddenByRbac"


class SecretDisabled(KeyVaultError):
    status = 403
    code = "Forbidden"
    inner_code = "SecretDisabled"


class SecretNotFound(KeyVaultError):
    status = 404
    code = "SecretNotFound"

    def __init__(self, name: str, version: str | None = None) -> None:
        ident = f"{name}/{version}" if version else name
        super().__init__(
            f"A secret with (name/id) {ident} was not found in this key vault. If you recently deleted this "
            "secret you may be able to recover it using the correct recovery command. For help resolving "
            "this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
        )


class NotFound(KeyVaultError):
    status = 404
    code = "NotFound"


class MethodNotAllowed(KeyVaultError):
    status = 405
    code = "MethodNotAllowed"


class Throttled(KeyVaultError):
    status = 429
    code = "Throttled"

    def __init__(self, retry_after: float) -> None:
        text = str(int(retry_after)) if float(retry_after).is_integer() else f"{retry_after:g}"
        super().__init__(
            "Request was not processed because too many requests were received. Reason: injected by the "
            "Key Vault emulator (throttle_next).",
            headers={"Retry-After": text},
        )
