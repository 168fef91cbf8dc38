"""The vault's secrets: names, versions, attributes. Plain Python, no HTTP (moto's ``models.py`` role)."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from emulators.keyvault.errors import BadParameter, SecretDisabled, SecretNotFound

# Key Vault object names: 1-127 characters, letters, digits and dashes.
_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
MAX_VALUE_BYTES = 25 * 1024


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadParameter(
            f"The request URI contains an invalid name: {name}. Secret names are 1-127 characters of "
            "letters, digits and dashes."
        )
    return name


@dataclass(frozen=True)
class SecretVersion:
    name: str
    version: str
    value: str = field(repr=False)
    created: int
    updated: int
    enabled: bool = True
    content_type: str | None = None
    tags: dict[str, str] | None = None


class SecretStore:
    """Versions of each secret in creation order; the last one is "latest". Thread-safe."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._secrets: dict[str, list[SecretVersion]] = {}
        self._lock = threading.Lock()

    def _key(self, name: str) -> str:
        return check_name(name).lower()  # names are case-insensitive in Key Vault

    def set(self, name: str, value: str, *, content_type: str | None = None,
            tags: dict[str, str] | None = None, enabled: bool = True) -> SecretVersion:
        if not isinstance(value, str):
            raise BadParameter("The secret value must be a string ('value' in the request body).")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise BadParameter(f"The secret value is larger than {MAX_VALUE_BYTES} bytes.")
        now = int(self._clock.time())
        with self._lock:
            versions = self._secrets.setdefault(self._key(name), [])
            stored_name = versions[0].name if versions else name
            created = SecretVersion(stored_name, uuid.uuid4().hex, value, now, now, enabled, content_type,
                                    dict(tags) if tags else None)
            versions.append(created)
            return created

    def get(self, name: str, version: str | None = None) -> SecretVersion:
        with self._lock:
            versions = list(self._secrets.get(self._key(name), ()))
        if not versions:
            raise SecretNotFound(name, version)
        if version:
            found = next((v for v in versions if v.version == version.lower()), None)
            if found is None:
                raise SecretNotFound(name, version)
        else:
            found = versions[-1]
        if not found.enabled:
            raise SecretDisabled("Operation get is not allowed on a disabled secret.")
        return found

    def set_enabled(self, name: str, version: str | None, enabled: bool) -> SecretVersion:
        with self._lock:
            versions = self._secrets.get(self._key(name), [])
            if version is None:
                index = len(versions) - 1 if versions else None
            else:
                index = next((i for i, v in enumerate(versions) if v.version == version.lower()), None)
            if index is None:
                raise SecretNotFound(name, version)
            versions[index] = replace(versions[index], enabled=enabled, updated=int(self._clock.time()))
            return versions[index]

    def versions(self, name: str) -> list[SecretVersion]:
        with self._lock:
            return list(self._secrets.get(self._key(name), ()))

    def latest_of_each(self) -> list[SecretVersion]:
        with self._lock:
            return [self._secrets[key][-1] for key in sorted(self._secrets)]

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
