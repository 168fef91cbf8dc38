"""Fixtures: a started Key Vault emulator with its identity endpoint, and the env the App Service platform sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators.identity import TokenRegistry, WallClock
from emulators.keyvault import KeyVaultEmulator

# Variables that would steer azure-identity away from the App Service managed-identity flow.
FOREIGN_IDENTITY_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME",
                         "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_CERTIFICATE_PATH", "MSI_ENDPOINT",
                         "MSI_SECRET", "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT")

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
    for name in FOREIGN_IDENTITY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", kv.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", kv.identity_header)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    return kv
