"""Resource keys from Key Vault: one SecretClient per process, a short in-memory cache, rotation-aware.

Why this shape (Key Vault throttling guidance, "Manage connections" for Functions):
* one ``SecretClient`` + ``DefaultAzureCredential`` per worker process, created lazily on first use;
* each key cached for ``FERRY_KEY_CACHE_SECONDS`` (default 300 s): ~1 vault read per key per TTL per process;
* ``refresh(name, failed_value)`` is called when Document Intelligence answers 401 with a key we gave out:
  it re-reads the latest version once (key rotation), at most once per 30 s per secret so that a genuinely
  wrong key cannot hammer the vault, and says whether a retry would use a different key;
* stale-if-error: when the vault throttles or cannot be reached, the last good key keeps being served
  (a warning is logged, never the value);
* a secret that does not exist, or a vault the identity may not read, raises ``KeyAccessError`` saying what
  is wrong and what to do.

Production and local runs share the code path. Locally ``FERRY_KEY_VAULT_CA_BUNDLE`` names the local
vault's CA; it is used, together with ``verify_challenge_resource=False``, only when the vault URI is a
loopback host (a real vault is never verified against a local CA, and keeps challenge verification on).

API:
    provider = key_provider(settings)          # the process-wide provider for these settings
    provider.get("fr-eastus-key") -> str       # cached value
    provider.refresh("fr-eastus-key", failed_value) -> bool
    default_credential() -> DefaultAzureCredential  # shared with ferry.auth
Values are never logged and never appear in ``repr()``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from ferry.errors import FerryError

log = logging.getLogger("modelferry.keys")

DEFAULT_CACHE_SECONDS = 300.0
# At most one forced re-read (after a 401) per secret per this many seconds; read when a provider is created.
MIN_FORCED_REFRESH_INTERVAL = 30.0
# Without a cached key the SDK may retry a throttled vault a little; with one we fail fast and serve stale.
_RETRIES_WITHOUT_FALLBACK = 3
# Answers (not failures) of the vault: never hidden behind a cached key.
_DEFINITIVE = frozenset({"SecretNotFound", "Forbidden"})
# After a failed read with a cached key to fall back on, the vault is asked again after this long (or after
# its Retry-After, whichever is longer, capped at the cache TTL).
STALE_RETRY_SECONDS = 10.0


class SecretReader(Protocol):
    """What we need of ``azure.keyvault.secrets.SecretClient``."""

    def get_secret(self, name: str, version: str | None = None, **kwargs: Any) -> Any: ...


class KeyAccessError(FerryError):
    """A key could not be read from Key Vault: a ``FerryError`` (operation ``readKey``) naming the secret.

    ``code``: SecretNotFound | Forbidden | Unauthenticated | VaultUnavailable | VaultError | EmptySecret |
    NoKeyVault. ``kind``: "terminal" (fix the configuration), "unauthorized" (identity or role), or
    "throttled"/"transient" (retry later) when no cached key could be served instead.
    """

    def __init__(self, code: str, message: str, hint: str, *, secret_name: str, status: int | None = None,
                 retry_after: float | None = None, kind: str = "terminal") -> None:
        super().__init__(kind=kind, code=code, message=message, hint=hint, status=status,
                         retry_after=retry_after, operation="readKey")
        self.secret_name = secret_name


def is_loopback_uri(uri: str) -> bool:
    host = urlsplit(uri).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_credential: Any = None
_credential_lock = threading.Lock()


def default_credential() -> Any:
    """The process's ``DefaultAzureCredential`` (managed identity in Azure; created on first use)."""
    global _credential
    with _credential_lock:
        if _credential is None:
            from azure.identity import DefaultAzureCredential

            _credential = DefaultAzureCredential()
        return _credential


def new_credential() -> Any:
    """A fresh ``DefaultAzureCredential`` with an empty token cache (forced token refresh, see ferry.auth)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def make_secret_client(vault_uri: str, *, ca_bundle: str | None = None, credential: Any = None) -> Any:
    """``SecretClient`` for ``vault_uri``; local-vault trust settings only for loopback hosts."""
    from azure.keyvault.secrets import SecretClient

    kwargs: dict[str, Any] = {"retry_total": _RETRIES_WITHOUT_FALLBACK, "retry_backoff_max": 8,
                              "connection_timeout": 10, "read_timeout": 30}
    if is_loopback_uri(vault_uri):
        kwargs["verify_challenge_resource"] = False  # a loopback host can never end with .vault.azure.net
        if ca_bundle:
            kwargs["connection_verify"] = ca_bundle
    elif ca_bundle:
        log.warning("FERRY_KEY_VAULT_CA_BUNDLE is ignored: the vault %s is not a loopback host (the setting "
                    "is for a local vault only; unset it in Azure)", vault_uri)
    return SecretClient(vault_uri, credential if credential is not None else default_credential(), **kwargs)


@dataclass
class _Entry:
    value: str | None = field(default=None, repr=False)
    fetched_at: float | None = None
    forced_at: float | None = None
    stale_until: float = 0.0  # after a failed read, serve the cached key without asking until then
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class KeyProvider:
    """Cached, rotation-aware reads of Key Vault secrets. Thread-safe; one per vault per process."""

    def __init__(self, vault_uri: str, *, ca_bundle: str | None = None,
                 cache_seconds: float = DEFAULT_CACHE_SECONDS,
                 min_refresh_interval: float | None = None,
                 client: SecretReader | None = None, credential: Any = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        if cache_seconds < 0:
            raise ValueError(f"cache_seconds must be >= 0 (FERRY_KEY_CACHE_SECONDS); got {cache_seconds}")
        self.vault_uri = vault_uri
        self.cache_seconds = float(cache_seconds)
        self.min_refresh_interval = float(MIN_FORCED_REFRESH_INTERVAL if min_refresh_interval is None
                                          else min_refresh_interval)
        self._ca_bundle = ca_bundle
        self._credential = credential
        self._client = client
        self._injected = client is not None or credential is not None
        self._now = now
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        with self._lock:
            names = sorted(self._entries)
        return f"KeyProvider(vault_uri={self.vault_uri!r}, cache_seconds={self.cache_seconds:g}, cached={names})"

    # public ----------------------------------------------------------------------------------------------
    def get(self, name: str) -> str:
        """The key held by secret ``name``: cached if younger than the TTL, else read from the vault."""
        entry = self._entry(name)
        with entry.lock:  # one reader per secret at a time: concurrent misses cause a single vault read
            now = self._now()
            if entry.value is not None and entry.fetched_at is not None and (
                    now - entry.fetched_at < self.cache_seconds or now < entry.stale_until):
                return entry.value
            return self._read(name, entry, reason="cache expired" if entry.value else "first use")[0]

    def refresh(self, name: str, failed_value: str | None = None) -> bool:
        """After a 401 from the service: would a retry use a different key? Re-reads the vault if needed.

        ``failed_value`` is the key that was rejected. If the cache already holds another key (another thread
        refreshed first, or the TTL expired), answers True without a vault call. Otherwise re-reads the
        latest version, at most once per ``min_refresh_interval`` per secret, and answers whether the value
        changed. A vault failure during the re-read keeps the old key and answers False.
        """
        entry = self._entry(name)
        with entry.lock:
            if entry.value is not None and failed_value is not None and \
                    not hmac.compare_digest(entry.value.encode(), failed_value.encode()):
                return True
            now = self._now()
            if entry.forced_at is not None and now - entry.forced_at < self.min_refresh_interval:
                log.info("key %r was re-read %.0f s ago; not re-reading Key Vault again yet (at most once per "
                         "%.0f s per secret)", name, now - entry.forced_at, self.min_refresh_interval)
                return False
            entry.forced_at = now
            before = entry.value if failed_value is None else failed_value
            after, fresh = self._read(name, entry, reason="rejected by the service (401)")
            if not fresh:
                return False  # the vault could not be read; the old key is all we have
            changed = before is None or not hmac.compare_digest(before.encode(), after.encode())
            if changed:
                log.info("key %r changed in Key Vault (rotation); retrying with the new version", name)
            else:
                log.warning("key %r was rejected by the service but Key Vault still holds the same value; the "
                            "stored key is wrong or was regenerated without updating the secret", name)
            return changed

    def clear(self) -> None:
        """Forget every cached key (tests, or after configuration changes)."""
        with self._lock:
            self._entries.clear()

    # internals -------------------------------------------------------------------------------------------
    def _entry(self, name: str) -> _Entry:
        if not name:
            raise ValueError("a Key Vault secret name is required (keySecretName in FERRY_RESOURCES)")
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                entry = self._entries[name] = _Entry()
            return entry

    def _secret_client(self) -> SecretReader:
        with self._lock:
            if self._client is None:
                self._client = make_secret_client(self.vault_uri, ca_bundle=self._ca_bundle,
                                                  credential=self._credential)
            return self._client

    def _renew_credential(self) -> bool:
        """Replace the client with one on a fresh credential; False when the caller injected its own."""
        with self._lock:
            if self._injected:
                return False
            self._client = make_secret_client(self.vault_uri, ca_bundle=self._ca_bundle,
                                              credential=new_credential())
            return True

    def _read(self, name: str, entry: _Entry, *, reason: str) -> tuple[str, bool]:
        """(value, fresh): the latest version, or on a transient failure ``entry.value`` (fresh=False).

        The caller holds ``entry.lock``.
        """
        has_fallback = entry.value is not None
        options = {"retry_total": 0} if has_fallback else {}
        try:
            try:
                secret = self._secret_client().get_secret(name, **options)
            except ClientAuthenticationError as exc:
                if getattr(exc, "status_code", None) != 401 or not self._renew_credential():
                    raise
                # The vault rejected a token the credential still considered valid (revoked, or the
                # identity changed): one more try with a fresh credential, whose token cache is empty.
                log.warning("Key Vault rejected the app's token while reading %r; retrying with a new token",
                            name)
                secret = self._secret_client().get_secret(name, **options)
        except Exception as exc:  # classified below; anything unexpected propagates
            error = self._classify(name, exc)
            if error is None:
                raise
            if has_fallback and error.code not in _DEFINITIVE:
                log.warning("Key Vault read of %r failed (%s: %s); serving the last good key (%s)",
                            name, error.code, _describe(exc), reason)
                assert entry.value is not None
                # Do not ask a struggling vault again on every call: wait its Retry-After, at least a little.
                pause = min(max(error.retry_after or 0.0, STALE_RETRY_SECONDS), max(self.cache_seconds, 1.0))
                entry.stale_until = self._now() + pause
                return entry.value, False
            raise error from None
        value = getattr(secret, "value", None)
        if not value:
            raise KeyAccessError(
                "EmptySecret", f"Key Vault secret '{name}' in {self.vault_uri} has an empty value.",
                "Store the resource's key (Keys and Endpoint page of the resource) as the secret's value.",
                secret_name=name)
        entry.value = value
        entry.fetched_at = self._now()
        log.debug("read key %r from Key Vault (%s)", name, reason)
        return value, True

    def _classify(self, name: str, exc: Exception) -> KeyAccessError | None:
        vault = self.vault_uri
        if isinstance(exc, ResourceNotFoundError):
            return KeyAccessError(
                "SecretNotFound", f"Key Vault secret '{name}' does not exist in {vault}.",
                f"Create it with the resource's key (az keyvault secret set --vault-name <vault> --name {name} "
                "--value <key>) or fix keySecretName in FERRY_RESOURCES.", secret_name=name, status=404)
        if isinstance(exc, ClientAuthenticationError):
            return KeyAccessError(
                "Unauthenticated", f"Could not authenticate to Key Vault {vault} to read '{name}': "
                f"{_describe(exc)}.",
                "Enable the Function App's managed identity (set AZURE_CLIENT_ID for a user-assigned one); "
                "locally, point IDENTITY_ENDPOINT/IDENTITY_HEADER at the local cloud's identity endpoint.",
                secret_name=name, status=getattr(exc, "status_code", None), kind="unauthorized")
        if isinstance(exc, HttpResponseError):
            status = exc.status_code
            if status == 403:
                return KeyAccessError(
                    "Forbidden", f"The app's identity may not read secret '{name}' in Key Vault {vault}.",
                    "Grant the Function App's managed identity the 'Key Vault Secrets User' role on the vault "
                    "(RBAC), or a 'get' secret permission in its access policies.", secret_name=name,
                    status=403, kind="unauthorized")
            if status in (408, 429) or (status is not None and status >= 500):
                retry_after = _retry_after(exc)
                return KeyAccessError(
                    "VaultUnavailable", f"Key Vault {vault} answered {status} when reading '{name}'.",
                    "Retry later; Key Vault allows 4,000 secret reads per 10 s per vault, keys are cached for "
                    "FERRY_KEY_CACHE_SECONDS.", secret_name=name, status=status,
                    retry_after=retry_after, kind="throttled" if status == 429 else "transient")
            return KeyAccessError(
                "VaultError", f"Key Vault {vault} refused to read '{name}' ({status}): {_describe(exc)}.",
                "Check FERRY_KEY_VAULT_URI and the secret's state (enabled, not expired) in the portal.",
                secret_name=name, status=status)
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return KeyAccessError(
                "VaultUnavailable", f"Key Vault {vault} could not be reached to read '{name}': "
                f"{_describe(exc)}.",
                "Check FERRY_KEY_VAULT_URI and network access to the vault (firewall, private endpoint); "
                "locally, check FERRY_KEY_VAULT_CA_BUNDLE and that the local cloud is running.",
                secret_name=name, kind="transient")
        return None


def _describe(exc: Exception) -> str:
    """A short, secret-free description: SDK errors carry service messages, never secret values."""
    code = getattr(getattr(exc, "error", None), "code", None)
    text = (getattr(exc, "message", None) or str(exc)).splitlines()[0][:200]
    return f"{code}: {text}" if code else f"{type(exc).__name__}: {text}"


def _retry_after(exc: HttpResponseError) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None


_providers: dict[tuple[str, str | None, float], KeyProvider] = {}
_providers_lock = threading.Lock()


def key_provider(settings: Any) -> KeyProvider:
    """The process-wide provider for ``settings`` (``key_vault_uri``, ``key_vault_ca_bundle``,
    ``key_cache_seconds`` — the attributes of ``ferry.settings.Settings``)."""
    vault_uri = getattr(settings, "key_vault_uri", None)
    if not vault_uri:
        raise KeyAccessError(
            "NoKeyVault", "A resource has keySecretName but FERRY_KEY_VAULT_URI is not set.",
            "Set FERRY_KEY_VAULT_URI to the vault holding the keys, or remove keySecretName to use the "
            "managed identity.", secret_name="")
    ca_bundle = getattr(settings, "key_vault_ca_bundle", None)
    ttl = float(getattr(settings, "key_cache_seconds", DEFAULT_CACHE_SECONDS))
    key = (vault_uri, ca_bundle, ttl)
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = KeyProvider(vault_uri, ca_bundle=ca_bundle, cache_seconds=ttl)
        return provider


def reset_process_state() -> None:
    """Drop the process-wide providers and credential (tests that change the environment)."""
    global _credential
    with _providers_lock:
        _providers.clear()
    with _credential_lock:
        _credential = None
