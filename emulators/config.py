"""The local cloud's JSON config: schema checks whose errors name the field (``resources[1].keys``).

Schema (unknown fields are errors)::

    {"resources": [{"name", "region", "keys": [k1, k2], "resourceId",          # required
                    "port": 0, "cmk": false, "copySeconds": 2.0, "trainSeconds": 1.0,
                    "modelLimit": 5000, "pageSize": 50, "tier": "S0", "seed": 0,
                    "rateLimits": {"manage": 5, "get": 50, "list": 10},   # per second; null = unlimited
                    "regionDisplayName": "East US",
                    "composedCopy": "accept"}],                           # or "refuse" (2024-11-30)
     "keyVault": {"port": 0, "secrets": {"name": "value"}, "identityPort": 0, "identityHeader": "..."},
     "stateFile": "path", "workdir": "path"}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .docintel.settings import COMPOSED_COPY_MODES, DEFAULT_RATE_LIMITS, ResourceSettings
from .docintel.validate import REGION, RESOURCE_ID


class ConfigError(ValueError):
    """A config problem; the message starts with the path of the offending field."""


TOP = {"resources", "keyVault", "stateFile", "workdir"}
RESOURCE_REQUIRED = ("name", "region", "keys", "resourceId")
RESOURCE_OPTIONAL = {"port", "cmk", "copySeconds", "trainSeconds", "modelLimit", "pageSize", "tier", "seed",
                     "rateLimits", "regionDisplayName", "composedCopy"}
KEYVAULT = {"port", "secrets", "identityPort", "identityHeader"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class KeyVaultSettings:
    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    identity_port: int = 0
    identity_header: str | None = None


@dataclass
class CloudConfig:
    resources: list[ResourceSettings]
    key_vault: KeyVaultSettings | None = None
    state_file: str | None = None
    workdir: str | None = None


def _unknown(where: str, value: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(value) - allowed)
    if extra:
        raise ConfigError(f"{where}{extra[0]}: unknown field; allowed fields here: {', '.join(sorted(allowed))}")


def _number(where: str, value: Any, *, minimum: float = 0.0, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: must be {what} >= {minimum:g}, got {value!r}")
    return value


def _port(where: str, value: Any) -> int:
    port = _number(where, value, integer=True)
    if port > 65535:
        raise ConfigError(f"{where}: must be a TCP port (0 picks a free one), got {value!r}")
    return int(port)


def _string(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _resource(index: int, raw: Any) -> ResourceSettings:
    where = f"resources[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be an object with {', '.join(RESOURCE_REQUIRED)}")
    _unknown(f"{where}.", raw, set(RESOURCE_REQUIRED) | RESOURCE_OPTIONAL)
    for name in RESOURCE_REQUIRED:
        if name not in raw:
            raise ConfigError(f"{where}.{name}: missing required field")
    name = _string(f"{where}.name", raw["name"])
    if not NAME.match(name):
        raise ConfigError(f"{where}.name: {name!r} must be letters, digits, '.', '_' or '-'")
    region = _string(f"{where}.region", raw["region"])
    if not REGION.match(region):
        raise ConfigError(f"{where}.region: {region!r} must be an Azure region name like 'eastus' (lower case)")
    keys = raw["keys"]
    if (not isinstance(keys, list) or len(keys) != 2 or not all(isinstance(k, str) and k for k in keys)
            or keys[0] == keys[1]):
        raise ConfigError(f"{where}.keys: must be two different non-empty strings [key1, key2]")
    resource_id = _string(f"{where}.resourceId", raw["resourceId"])
    if not RESOURCE_ID.match(resource_id):
        raise ConfigError(f"{where}.resourceId: {resource_id!r} must look like /subscriptions/<sub>/resourceGroups/"
                          "<rg>/providers/Microsoft.CognitiveServices/accounts/<name>")
    settings = ResourceSettings(name=name, region=region, resource_id=resource_id, keys=(keys[0], keys[1]))
    if "port" in raw:
        settings.port = _port(f"{where}.port", raw["port"])
    if "cmk" in raw:
        if not isinstance(raw["cmk"], bool):
            raise ConfigError(f"{where}.cmk: must be true or false, got {raw['cmk']!r}")
        settings.cmk = raw["cmk"]
    if "copySeconds" in raw:
        settings.copy_seconds = float(_number(f"{where}.copySeconds", raw["copySeconds"]))
    if "trainSeconds" in raw:
        settings.train_seconds = float(_number(f"{where}.trainSeconds", raw["trainSeconds"]))
    if "modelLimit" in raw:
        settings.model_limit = int(_number(f"{where}.modelLimit", raw["modelLimit"], minimum=1, integer=True))
    if "pageSize" in raw:
        settings.page_size = int(_number(f"{where}.pageSize", raw["pageSize"], minimum=1, integer=True))
    if "seed" in raw:
        settings.seed = int(_number(f"{where}.seed", raw["seed"], integer=True))
    if "tier" in raw:
        if raw["tier"] not in ("F0", "S0"):
            raise ConfigError(f"{where}.tier: must be 'F0' or 'S0', got {raw['tier']!r}")
        settings.tier = raw["tier"]
    if "regionDisplayName" in raw:
        settings.region_display_name = _string(f"{where}.regionDisplayName", raw["regionDisplayName"])
    if "composedCopy" in raw:
        if raw["composedCopy"] not in COMPOSED_COPY_MODES:
            raise ConfigError(f"{where}.composedCopy: must be 'accept' or 'refuse', got {raw['composedCopy']!r}")
        settings.composed_copy = raw["composedCopy"]
    if "rateLimits" in raw:
        limits = raw["rateLimits"]
        if not isinstance(limits, dict):
            raise ConfigError(f"{where}.rateLimits: must be an object with manage/get/list")
        _unknown(f"{where}.rateLimits.", limits, set(DEFAULT_RATE_LIMITS))
        for group, value in limits.items():
            if value is not None:
                _number(f"{where}.rateLimits.{group}", value, minimum=0.001)
        settings.rate_limits = {**DEFAULT_RATE_LIMITS, **limits}
    return settings


def _key_vault(raw: Any) -> KeyVaultSettings:
    if not isinstance(raw, dict):
        raise ConfigError("keyVault: must be an object with port and secrets")
    _unknown("keyVault.", raw, KEYVAULT)
    kv = KeyVaultSettings()
    if "port" in raw:
        kv.port = _port("keyVault.port", raw["port"])
    if "identityPort" in raw:
        kv.identity_port = _port("keyVault.identityPort", raw["identityPort"])
    if "identityHeader" in raw:
        kv.identity_header = _string("keyVault.identityHeader", raw["identityHeader"])
    secrets = raw.get("secrets", {})
    if not isinstance(secrets, dict):
        raise ConfigError("keyVault.secrets: must be an object of name → value")
    for name, value in secrets.items():
        if not isinstance(value, str):
            raise ConfigError(f"keyVault.secrets.{name}: must be a string")
    kv.secrets = dict(secrets)
    return kv


def parse(raw: Any) -> CloudConfig:
    """Validate a config document (already JSON-decoded) into settings objects."""
    if not isinstance(raw, dict):
        raise ConfigError("config: must be a JSON object with 'resources'")
    _unknown("", raw, TOP)
    if "resources" not in raw:
        raise ConfigError("resources: missing required field (a list of Document Intelligence resources)")
    if not isinstance(raw["resources"], list) or not raw["resources"]:
        raise ConfigError("resources: must be a non-empty list")
    resources = [_resource(i, r) for i, r in enumerate(raw["resources"])]
    seen_names: set[str] = set()
    seen_ids: set[str] = set()
    for index, res in enumerate(resources):
        if res.name in seen_names:
            raise ConfigError(f"resources[{index}].name: duplicate name {res.name!r}")
        if res.resource_id.lower() in seen_ids:
            raise ConfigError(f"resources[{index}].resourceId: duplicate resourceId {res.resource_id!r}")
        seen_names.add(res.name)
        seen_ids.add(res.resource_id.lower())
    config = CloudConfig(resources)
    if "keyVault" in raw:
        config.key_vault = _key_vault(raw["keyVault"])
    if "stateFile" in raw:
        config.state_file = _string("stateFile", raw["stateFile"])
    if "workdir" in raw:
        config.workdir = _string("workdir", raw["workdir"])
    return config
