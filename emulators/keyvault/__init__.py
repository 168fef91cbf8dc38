"""Key Vault (secrets) emulator: HTTPS on loopback, challenge auth, versions, paging, injectable faults.

Split like moto: ``state`` (secrets and versions), ``wire`` (JSON shapes, api-version, paging), ``errors``
(the error envelope), ``routes`` (HTTP), ``emulator`` (lifecycle and control surface), ``loopback`` (server).
``KeyVaultEmulator`` is imported lazily because ``emulators.identity`` reuses ``loopback`` and is itself
imported by ``emulator``.
"""

from typing import Any

__all__ = ["KeyVaultEmulator"]


def __getattr__(name: str) -> Any:
    if name == "KeyVaultEmulator":
        from emulators.keyvault.emulator import KeyVaultEmulator

        return KeyVaultEmulator
    raise AttributeError(f"module 'emulators.keyvault' has no attribute {name!r}")
