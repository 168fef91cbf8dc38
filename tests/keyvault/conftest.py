"""Fixtures: a started Key Vault emulator with its identity endpoint, and the env the App Service platform sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.identity import OTHER_CREDENTIAL_VARS, TokenRegistry, WallClock, managed_identity_environment
from emulators.keyvault import KeyVaultEmulator

USER_ASSIGNED_CLIENT_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def kv(tmp_path, clock) -> Iterator[KeyVaultEmulator]:
    vault = KeyVaultEmulator(secrets={"fr-eastus-key": "key-one", "other": "x"}, clock=clock,
                             workdir=tmp_path / "kv", tokens=TokenRegistry(clock),
                             user_assigned_identities=(USER_ASSIGNED_CLIENT_ID,))
    vault.start()
    try:
        yield vault
    finally:
        vault.stop()


@pytest.fixture
def mi_env(kv, monkeypatch) -> KeyVaultEmulator:
    """The process looks like an Azure Functions app with a managed identity pointing at the emulator."""
    for name in OTHER_CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in managed_identity_environment(kv.identity_endpoint, kv.identity_header).items():
        monkeypatch.setenv(name, value)
    return kv
