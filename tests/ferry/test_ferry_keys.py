"""ferry.keys against the Key Vault + managed-identity emulators, through the real SecretClient and
DefaultAzureCredential: TTL, rotation refresh, no vault hammering, stale-if-throttled, clear errors."""

from __future__ import annotations

import logging
import threading

import pytest
from ferry_testkit import Ticker

from emulators.identity import OTHER_CREDENTIAL_VARS, TokenRegistry, WallClock, managed_identity_environment
from emulators.keyvault import KeyVaultEmulator
from ferry import keys
from ferry.errors import FerryError


@pytest.fixture
def vault(tmp_path, monkeypatch):
    clock = WallClock()
    emulator = KeyVaultEmulator(secrets={"fr-key": "key-A", "other-key": "key-O"}, clock=clock,
                                workdir=tmp_path / "kv", tokens=TokenRegistry(clock)).start()
    for name in OTHER_CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in managed_identity_environment(emulator.identity_endpoint, emulator.identity_header).items():
        monkeypatch.setenv(name, value)
    keys.reset_process_state()
    try:
        yield emulator
    finally:
        keys.reset_process_state()
        emulator.stop()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def provider(vault, ticker) -> keys.KeyProvider:
    return keys.KeyProvider(vault.uri, ca_bundle=str(vault.ca_bundle), cache_seconds=300, now=ticker)


def reads(vault, status: int = 200) -> int:
    """Authorized secret reads the vault answered with ``status``."""
    return sum(1 for e in vault.request_log
               if e["operation"] == "getSecret" and e["auth"] == "bearer" and e["status"] == status)


def test_ttl_cache(vault, provider, ticker):
    assert provider.get("fr-key") == "key-A"
    vault.set_secret("fr-key", "key-B")
    ticker.now += 299
    assert provider.get("fr-key") == "key-A"
    assert reads(vault) == 1
    ticker.now += 2
    assert provider.get("fr-key") == "key-B"
    assert reads(vault) == 2


def test_zero_ttl_reads_every_time(vault, ticker):
    provider = keys.KeyProvider(vault.uri, ca_bundle=str(vault.ca_bundle), cache_seconds=0, now=ticker)
    provider.get("fr-key")
    provider.get("fr-key")
    assert reads(vault) == 2


def test_rotation_refresh_after_401(vault, provider):
    assert provider.get("fr-key") == "key-A"
    vault.set_secret("fr-key", "key-B")
    assert provider.refresh("fr-key", "key-A") is True
    assert provider.get("fr-key") == "key-B"
    assert reads(vault) == 2  # the refresh read, then served from the cache


def test_wrong_key_does_not_hammer_the_vault(vault, provider, ticker):
    provider.get("fr-key")
    assert provider.refresh("fr-key", "key-A") is False  # the vault still holds the rejected key
    assert reads(vault) == 2
    for _ in range(10):
        ticker.now += 2
        assert provider.refresh("fr-key", "key-A") is False
    assert reads(vault) == 2  # at most one forced re-read per 30 s
    ticker.now += 30
    vault.set_secret("fr-key", "key-C")
    assert provider.refresh("fr-key", "key-A") is True
    assert reads(vault) == 3


def test_refresh_after_another_thread_rotated_needs_no_read(vault, provider):
    provider.get("fr-key")
    vault.set_secret("fr-key", "key-B")
    assert provider.refresh("fr-key", "key-A") is True
    before = reads(vault)
    # A second activity that also used key-A learns that a retry now uses another key, without a vault read.
    assert provider.refresh("fr-key", "key-A") is True
    assert reads(vault) == before


def test_stale_key_served_when_vault_throttles(vault, provider, ticker, caplog):
    provider.get("fr-key")
    ticker.now += 301
    vault.throttle_next(100, retry_after=5)
    with caplog.at_level(logging.WARNING, logger="modelferry.keys"):
        assert provider.get("fr-key") == "key-A"
    assert [e["status"] for e in vault.request_log][-1] == 429
    assert sum(e["status"] == 429 for e in vault.request_log) == 1  # no SDK retries while a fallback exists
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "fr-key" in warning and "last good key" in warning
    assert "key-A" not in caplog.text
    vault.throttle_next(0)
    vault.set_secret("fr-key", "key-B")
    vault.throttle_next(100, retry_after=20)
    ticker.now += keys.STALE_RETRY_SECONDS + 1
    assert provider.get("fr-key") == "key-A"  # asked once more: now "retry after 20 s"
    vault.throttle_next(0)
    ticker.now += 19
    assert provider.get("fr-key") == "key-A"  # Retry-After honoured: not asked again before
    assert sum(e["status"] == 429 for e in vault.request_log) == 2
    ticker.now += 1
    assert provider.get("fr-key") == "key-B"  # then read again: the stale answer did not reset the TTL


def test_stale_pause_is_short_without_retry_after(vault, provider, ticker):
    provider.get("fr-key")
    ticker.now += 301
    vault.stop()  # the vault is unreachable
    assert provider.get("fr-key") == "key-A"
    ticker.now += keys.STALE_RETRY_SECONDS - 1
    assert provider.get("fr-key") == "key-A"  # served without trying the vault again


def test_refresh_while_vault_throttles_keeps_old_key(vault, provider):
    provider.get("fr-key")
    vault.throttle_next(100, retry_after=5)
    assert provider.refresh("fr-key", "key-A") is False
    assert provider.get("fr-key") == "key-A"


def test_throttled_without_cached_key_is_retryable_error(vault, provider):
    vault.throttle_next(100, retry_after=0.01)
    with pytest.raises(keys.KeyAccessError) as caught:
        provider.get("fr-key")
    error = caught.value
    assert isinstance(error, FerryError)
    assert (error.code, error.kind, error.retryable, error.status) == ("VaultUnavailable", "throttled", True, 429)
    assert error.retry_after == pytest.approx(0.01)
    assert sum(e["status"] == 429 for e in vault.request_log) == 4  # SDK: first try + 3 retries


def test_missing_secret_says_what_and_what_to_do(vault, provider):
    with pytest.raises(keys.KeyAccessError) as caught:
        provider.get("no-such-key")
    error = caught.value
    assert error.code == "SecretNotFound" and error.kind == "terminal" and not error.retryable
    assert "no-such-key" in error.message and vault.uri in error.message
    assert "az keyvault secret set" in error.hint and "keySecretName" in error.hint
    assert error.to_dict()["operation"] == "readKey"


def test_identity_without_access_is_clear_and_not_hidden_by_cache(vault, provider, ticker):
    provider.get("fr-key")
    ticker.now += 301
    vault.deny_access("fr-key")
    with pytest.raises(keys.KeyAccessError) as caught:
        provider.get("fr-key")
    assert caught.value.code == "Forbidden" and caught.value.kind == "unauthorized"
    assert "Key Vault Secrets User" in caught.value.hint
    assert provider.get("other-key") == "key-O"


def test_no_managed_identity_is_clear(vault, provider, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-platform-header")
    keys.reset_process_state()
    fresh = keys.KeyProvider(vault.uri, ca_bundle=str(vault.ca_bundle))
    with pytest.raises(keys.KeyAccessError) as caught:
        fresh.get("fr-key")
    assert caught.value.code == "Unauthenticated"
    assert "managed identity" in caught.value.hint


def test_concurrent_misses_read_the_vault_once(vault, provider):
    results: list[str] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        results.append(provider.get("fr-key"))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["key-A"] * 12
    assert reads(vault) == 1


def test_values_never_in_repr_or_logs(vault, provider, caplog):
    with caplog.at_level(logging.DEBUG):
        provider.get("fr-key")
        vault.set_secret("fr-key", "key-B")
        provider.refresh("fr-key", "key-A")
    text = caplog.text + repr(provider) + repr(provider._entries)
    assert "key-A" not in text and "key-B" not in text
    assert "fr-key" in repr(provider)


def test_key_provider_from_settings_is_process_wide(vault, monkeypatch):
    from ferry import settings as ferry_settings

    env = {
        "FERRY_RESOURCES": '{"east": {"endpoint": "http://127.0.0.1:9", "region": "eastus", "resourceId": '
                           '"/subscriptions/s/resourceGroups/r/providers/Microsoft.CognitiveServices/accounts/a", '
                           '"apiVersion": "2024-11-30", "keySecretName": "fr-key"}}',
        "FERRY_KEY_VAULT_URI": vault.uri,
        "FERRY_KEY_VAULT_CA_BUNDLE": str(vault.ca_bundle),
        "FERRY_KEY_CACHE_SECONDS": "60",
    }
    settings = ferry_settings.parse(env)
    provider = keys.key_provider(settings)
    assert provider is keys.key_provider(settings)
    assert provider.cache_seconds == 60
    assert provider.get(settings.resource("east").key_secret_name) == "key-A"


def test_key_provider_without_vault_uri():
    class NoVault:
        key_vault_uri = None

    with pytest.raises(keys.KeyAccessError) as caught:
        keys.key_provider(NoVault())
    assert "FERRY_KEY_VAULT_URI" in caught.value.message


def test_local_ca_only_for_loopback_vaults(caplog):
    with caplog.at_level(logging.WARNING, logger="modelferry.keys"):
        client = keys.make_secret_client("https://myvault.vault.azure.net/", ca_bundle="/tmp/ca.pem",
                                         credential=object())
    assert "ignored" in caplog.text
    assert client.vault_url == "https://myvault.vault.azure.net"
    assert keys.is_loopback_uri("https://127.0.0.1:8443") and keys.is_loopback_uri("https://localhost:1")
    assert not keys.is_loopback_uri("https://127.0.0.1.nip.io")


def test_bad_arguments():
    with pytest.raises(ValueError, match="FERRY_KEY_CACHE_SECONDS"):
        keys.KeyProvider("https://v.vault.azure.net", cache_seconds=-1)
    with pytest.raises(ValueError, match="keySecretName"):
        keys.KeyProvider("https://v.vault.azure.net").get("")


def test_token_rejected_by_vault_is_renewed_once(vault, provider, ticker):
    provider.get("fr-key")
    vault.tokens.revoke_all()  # the SDK still caches its token; the vault no longer accepts it
    vault.set_secret("fr-key", "key-B")
    ticker.now += 301
    assert provider.get("fr-key") == "key-B"
    assert [e["status"] for e in vault.identity.request_log] == [200, 200]


def test_concurrent_401s_after_rotation_cause_one_vault_read(vault, provider):
    provider.get("fr-key")
    vault.set_secret("fr-key", "key-B")
    answers: list[bool] = []
    barrier = threading.Barrier(8)

    def activity() -> None:
        barrier.wait()
        answers.append(provider.refresh("fr-key", "key-A"))

    threads = [threading.Thread(target=activity) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [True] * 8  # every activity retries, with the new key
    assert reads(vault) == 2
    assert provider.get("fr-key") == "key-B"
