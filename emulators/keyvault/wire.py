"""Key Vault's JSON shapes (SecretBundle, SecretItem, pages) and api-version rules (moto's serialiser role)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from emulators.keyvault.errors import BadParameter
from emulators.keyvault.state import SecretVersion

# What azure-keyvault-secrets 4.12 can send (ApiVersion enum); its default is the first one.
SUPPORTED_API_VERSIONS = ("2026-04-01", "2025-07-01", "7.6", "7.5", "7.4", "7.3", "7.2", "7.1", "7.0",
                          "2016-10-01")
MAX_PAGE_SIZE = 25


def check_api_version(value: str | None) -> str:
    if not value:
        raise BadParameter("The 'api-version' query parameter is missing. Send e.g. api-version=7.5 "
                           f"(supported: {', '.join(SUPPORTED_API_VERSIONS)}).")
    if value not in SUPPORTED_API_VERSIONS:
        raise BadParameter(f"The specified version ({value}) is not recognized. Use one of: "
                           f"{', '.join(SUPPORTED_API_VERSIONS)}.")
    return value


def _attributes(secret: SecretVersion) -> dict[str, Any]:
    return {"enabled": secret.enabled, "created": secret.created, "updated": secret.updated,
            "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}


def secret_id(vault_uri: str, secret: SecretVersion, *, with_version: bool = True) -> str:
    base = f"{vault_uri}/secrets/{secret.name}"
    return f"{base}/{secret.version}" if with_version else base


def bundle(vault_uri: str, secret: SecretVersion) -> dict[str, Any]:
    """SecretBundle: what GET and PUT return (the only shape that carries ``value``)."""
    body: dict[str, Any] = {"value": secret.value, "id": secret_id(vault_uri, secret),
                            "attributes": _attributes(secret)}
    if secret.content_type is not None:
        body["contentType"] = secret.content_type
    if secret.tags:
        body["tags"] = dict(secret.tags)
    return body


def item(vault_uri: str, secret: SecretVersion, *, with_version: bool) -> dict[str, Any]:
    """SecretItem: list entries carry attributes, never the value."""
    body: dict[str, Any] = {"id": secret_id(vault_uri, secret, with_version=with_version),
                            "attributes": _attributes(secret)}
    if secret.content_type is not None:
        body["contentType"] = secret.content_type
    if secret.tags:
        body["tags"] = dict(secret.tags)
    return body


def page_size(maxresults: str | None) -> int:
    if maxresults is None or maxresults == "":
        return MAX_PAGE_SIZE
    try:
        size = int(maxresults)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadParameter(f"The 'maxresults' parameter must be an integer from 1 to {MAX_PAGE_SIZE}; "
                           f"got '{maxresults}'.")
    return size


def encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_skiptoken(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if text.startswith("offset:"):
            return max(0, int(text[len("offset:"):]))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadParameter("The '$skiptoken' parameter is not valid; follow the nextLink returned by the "
                       "previous page instead of building it.")


def page(items: list[dict[str, Any]], *, offset: int, size: int, next_base: str,
         api_version: str) -> dict[str, Any]:
    """One page of ``items`` from ``offset``; ``nextLink`` is absolute (as the SDK's pager expects) or null."""
    chunk = items[offset: offset + size]
    next_link = None
    if offset + size < len(items):
        query = urlencode({"api-version": api_version, "$skiptoken": encode_skiptoken(offset + size),
                           "maxresults": size})
        next_link = f"{next_base}?{query}"
    return {"value": chunk, "nextLink": next_link}
