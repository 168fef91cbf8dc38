"""Function keys, as the Functions host checks them when keys are enabled.

A request presents a key in the `x-functions-key` header or the `code` query parameter. The master key
opens everything; `function` level accepts a host key or one of that function's keys; `admin` level
(and the `/admin` API) only the master key; the extension webhooks (`/runtime/webhooks/durabletask`,
`/runtime/webhooks/eventgrid`) accept their system key (`durabletask_extension`, `eventgrid_extension`)
or the master key. `anonymous` functions are always open. With keys disabled (the default, like
`func start`) nothing is checked.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SYSTEM_KEY_NAMES", "HostKeys", "presented_key"]

SYSTEM_KEY_NAMES = {"durabletask": "durabletask_extension", "eventgrid": "eventgrid_extension"}


def _new_key() -> str:
    return secrets.token_urlsafe(40)


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a request presents: the header wins over `?code=`, as in the host."""
    for name, value in headers.items():
        if name.lower() == "x-functions-key" and value:
            return value
    return query.get("code") or None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class HostKeys:
    """The key set of a host started with keys enabled.

    `function_keys` maps function name → {key name: value}; `host_keys` and `system_keys` map
    key name → value. Create with `generate(function_names)` or `load(path)`; `save(path)` writes the
    file with owner-only permissions (the keys are never logged).
    """

    master_key: str
    host_keys: dict[str, str] = field(default_factory=dict)
    function_keys: dict[str, dict[str, str]] = field(default_factory=dict)
    system_keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls, function_names: list[str] | tuple[str, ...] = ()) -> HostKeys:
        """Fresh random keys: master, host `default`, one `default` per function, system keys."""
        return cls(
            master_key=_new_key(),
            host_keys={"default": _new_key()},
            function_keys={name: {"default": _new_key()} for name in function_names},
            system_keys={name: _new_key() for name in SYSTEM_KEY_NAMES.values()},
        )

    @classmethod
    def load(cls, path: Path) -> HostKeys:
        """Read a keys file written by `save` (or by hand: only `masterKey` is required)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read keys file {path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("masterKey"), str) or not data["masterKey"]:
            raise ValueError(f"keys file {path} needs a non-empty string \"masterKey\"")
        return cls(
            master_key=data["masterKey"],
            host_keys=dict(data.get("hostKeys") or {}),
            function_keys={k: dict(v) for k, v in (data.get("functionKeys") or {}).items()},
            system_keys=dict(data.get("systemKeys") or {}),
        )

    def ensure(self, function_names: list[str] | tuple[str, ...]) -> bool:
        """Add missing function `default` keys and system keys; True when something was added."""
        changed = False
        for name in function_names:
            if not self.function_keys.get(name):
                self.function_keys[name] = {"default": _new_key()}
                changed = True
        for name in SYSTEM_KEY_NAMES.values():
            if name not in self.system_keys:
                self.system_keys[name] = _new_key()
                changed = True
        return changed

    def save(self, path: Path) -> None:
        """Write the keys as JSON readable only by the owner."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "masterKey": self.master_key,
            "hostKeys": self.host_keys,
            "functionKeys": self.function_keys,
            "systemKeys": self.system_keys,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)

    def function_key(self, function_name: str) -> str:
        """The `default` key of a function (what a caller appends as `?code=`)."""
        return self.function_keys[function_name]["default"]

    def system_key(self, extension: str) -> str:
        """The system key of `durabletask` or `eventgrid`."""
        return self.system_keys[SYSTEM_KEY_NAMES[extension]]

    def _is_master(self, key: str) -> bool:
        return _same(key, self.master_key)

    def authorizes(self, level: str, key: str | None, *, function_name: str | None = None,
                   extension: str | None = None) -> bool:
        """True when `key` is enough for `level` (anonymous | function | admin | system)."""
        level = level.lower()
        if level == "anonymous":
            return True
        if not key:
            return False
        if self._is_master(key):
            return True
        if level == "admin":
            return False
        if level == "system":
            name = SYSTEM_KEY_NAMES.get(extension or "")
            return bool(name and name in self.system_keys and _same(key, self.system_keys[name]))
        if level == "function":
            if any(_same(key, value) for value in self.host_keys.values()):
                return True
            own = self.function_keys.get(function_name or "", {})
            return any(_same(key, value) for value in own.values())
        raise ValueError(f"unknown auth level '{level}'; expected anonymous, function or admin")
