"""The local cloud: emulated Document Intelligence / Form Recognizer regions, Key Vault, managed identity.

``python -m emulators --config FILE`` runs it; ``LocalCloud.from_config(dict, clock=None)`` runs it in
process (see ``emulators/README.md``).
"""

from typing import Any

__all__ = ["ConfigError", "LocalCloud", "SystemClock"]


def __getattr__(name: str) -> Any:
    # lazy, so that importing emulators.identity / emulators.keyvault alone stays cheap and cycle-free
    if name == "LocalCloud":
        from emulators.localcloud import LocalCloud

        return LocalCloud
    if name == "ConfigError":
        from emulators.config import ConfigError

        return ConfigError
    if name == "SystemClock":
        from emulators.clock import SystemClock

        return SystemClock
    raise AttributeError(f"module 'emulators' has no attribute {name!r}")
