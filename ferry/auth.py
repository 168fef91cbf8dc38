"""How a request to one Document Intelligence resource is authenticated (the ``ferry.http.Authenticator``).

A resource with ``keySecretName`` is called with ``Ocp-Apim-Subscription-Key: <key from Key Vault>``
(``ferry.keys``); a resource without one with ``Authorization: Bearer <token>`` for
``https://cognitiveservices.azure.com/.default`` from the app's managed identity (``DefaultAzureCredential``).

API (all an HTTP client needs):
    auth = authenticator(settings.resource(alias), settings)   # process-wide, thread-safe object
    headers.update(auth.headers())                            # may raise FerryError (key/token unavailable)
    ... on HTTP 401:  if auth.on_unauthorized(): retry once with auth.headers()

``on_unauthorized()`` answers "would a retry present a different credential?". It remembers, per thread,
what ``headers()`` last handed out, so a rotation noticed by another thread counts without another vault
read. Otherwise it re-reads the key (``KeyProvider.refresh``) or fetches a brand-new token (a fresh
credential, bypassing MSAL's cache) at most once per 30 s per key/scope, and says whether it changed: a
genuinely wrong key or a missing role answers False at once instead of hammering Key Vault or the
identity endpoint.

Keys and tokens never appear in logs, errors or ``repr()``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from azure.core.exceptions import ClientAuthenticationError

from ferry import keys
from ferry.errors import FerryError

log = logging.getLogger("modelferry.auth")

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
# azure-core refreshes tokens this long before they expire; so do we.
TOKEN_REFRESH_MARGIN = 300.0
# At most one forced token renewal (after a 401) per this many seconds, read when a TokenAuth is created.
TOKEN_RENEWAL_INTERVAL = keys.MIN_FORCED_REFRESH_INTERVAL


class KeyAuth:
    """Subscription key from Key Vault secret ``secret_name``."""

    def __init__(self, secret_name: str, provider: keys.KeyProvider) -> None:
        self.secret_name = secret_name
        self._provider = provider
        self._last = threading.local()

    def __repr__(self) -> str:
        return f"KeyAuth(secret_name={self.secret_name!r}, vault={self._provider.vault_uri!r})"

    def headers(self) -> dict[str, str]:
        value = self._provider.get(self.secret_name)
        self._last.value = value
        return {KEY_HEADER: value}

    def on_unauthorized(self) -> bool:
        return self._provider.refresh(self.secret_name, getattr(self._last, "value", None))


class TokenAuth:
    """Managed-identity bearer token for ``scope``, cached until ``TOKEN_REFRESH_MARGIN`` before expiry."""

    def __init__(self, *, scope: str = COGNITIVE_SCOPE, credential: Any = None,
                 credential_factory: Callable[[], Any] = keys.new_credential,
                 min_refresh_interval: float | None = None,
                 now: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.scope = scope
        self._credential = credential
        self._factory = credential_factory
        self._min_refresh_interval = float(TOKEN_RENEWAL_INTERVAL if min_refresh_interval is None
                                           else min_refresh_interval)
        self._now = now
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires_on = 0.0
        self._forced_at: float | None = None
        self._lock = threading.Lock()
        self._last = threading.local()

    def __repr__(self) -> str:
        return f"TokenAuth(scope={self.scope!r})"

    def headers(self) -> dict[str, str]:
        with self._lock:
            token = self._current()
        self._last.token = token
        return {"Authorization": f"Bearer {token}"}

    def on_unauthorized(self) -> bool:
        used = getattr(self._last, "token", None)
        with self._lock:
            if self._token is not None and used is not None and not _same(self._token, used):
                return True  # another thread already holds a newer token
            now = self._monotonic()
            if self._forced_at is not None and now - self._forced_at < self._min_refresh_interval:
                log.info("token for %s was renewed %.0f s ago; not renewing again yet", self.scope,
                         now - self._forced_at)
                return False
            self._forced_at = now
            self._credential = self._factory()  # a new credential has an empty token cache
            self._token = None
            fresh = self._current()
        changed = used is None or not _same(fresh, used)
        if not changed:
            log.warning("the identity endpoint returned the same token for %s after a 401: the identity "
                        "probably lacks the 'Cognitive Services User' role on the resource", self.scope)
        return changed

    def _current(self) -> str:
        """The cached token, or a new one when it is about to expire. Caller holds ``_lock``."""
        if self._token is not None and self._expires_on - self._now() > TOKEN_REFRESH_MARGIN:
            return self._token
        if self._credential is None:
            self._credential = keys.default_credential()
        try:
            access = self._credential.get_token(self.scope)
        except ClientAuthenticationError as exc:
            raise FerryError(
                kind="unauthorized", code="ManagedIdentityUnavailable",
                message=f"No managed-identity token for {self.scope}: "
                        f"{(getattr(exc, 'message', None) or str(exc)).splitlines()[0][:300]}",
                hint="Enable the Function App's managed identity (AZURE_CLIENT_ID for a user-assigned one) "
                     "and grant it 'Cognitive Services User' on the resource, or set keySecretName in "
                     "FERRY_RESOURCES to use a key; locally, point IDENTITY_ENDPOINT/IDENTITY_HEADER at the "
                     "local cloud.", operation="getToken") from None
        self._token = access.token
        self._expires_on = float(access.expires_on)
        return self._token


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _secret_name(resource: Any) -> str | None:
    if isinstance(resource, Mapping):
        return resource.get("keySecretName")
    return getattr(resource, "key_secret_name", None)


_token_auth: dict[str, TokenAuth] = {}
_key_auth: dict[tuple[int, str], KeyAuth] = {}
_lock = threading.Lock()


def authenticator(resource: Any, settings: Any) -> KeyAuth | TokenAuth:
    """The process-wide authenticator of ``resource`` (``ferry.settings.Resource`` or its JSON entry).

    ``settings`` supplies ``key_vault_uri``, ``key_vault_ca_bundle`` and ``key_cache_seconds`` for
    key-based resources (``ferry.settings.Settings``).
    """
    secret_name = _secret_name(resource)
    with _lock:
        if not secret_name:
            auth = _token_auth.get(COGNITIVE_SCOPE)
            if auth is None:
                auth = _token_auth[COGNITIVE_SCOPE] = TokenAuth()
            return auth
    provider = keys.key_provider(settings)
    with _lock:
        cache_key = (id(provider), secret_name)
        key_auth = _key_auth.get(cache_key)
        if key_auth is None:
            key_auth = _key_auth[cache_key] = KeyAuth(secret_name, provider)
        return key_auth


def reset_process_state() -> None:
    """Forget process-wide authenticators, key providers and the credential (tests)."""
    with _lock:
        _token_auth.clear()
        _key_auth.clear()
    keys.reset_process_state()
