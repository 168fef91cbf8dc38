"""Key Vault (secrets) emulator: HTTPS on loopback, challenge auth, versions, paging, injectable faults.

Split like moto: ``state`` (secrets and versions), ``wire`` (JSON shapes, api-version, paging), ``errors``
(the error envelope), ``routes`` (HTTP), ``emulator`` (lifecycle and control surface), ``loopback`` (server).
"""

from emulators.keyvault.emulator import KeyVaultEmulator

__all__ = ["KeyVaultEmulator"]
