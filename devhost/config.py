"""Host configuration: `host.json` and `local.settings.json`, read the way the Functions host reads them.

Why a module of its own: the CLI, the in-process test API and the HTTP layer all need the same
values (route prefix, task hub, concurrency limits, function timeout) and the same rules for loading
app settings into the environment, so a setting read by `ferry.settings` behaves the same whether the
app runs under `python -m devhost start` or inside a pytest test.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ConfigError",
    "HostConfig",
    "apply_settings",
    "is_disabled",
    "load_host_config",
    "load_settings",
    "local_http_port",
    "parse_timespan",
]

#: Defaults of the Functions host / Durable extension when host.json says nothing.
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"  # the extension's default outside Azure (no WEBSITE_SITE_NAME)
DEFAULT_CONCURRENCY_PER_CPU = 10  # maxConcurrent{Activity,Orchestrator}Functions default: 10 x cores

_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2})(?:\.(?P<f>\d{1,7}))?$")
_HUB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,49}$")


class ConfigError(ValueError):
    """A host.json or settings file the real host would refuse; the message says what and where."""


def parse_timespan(text: str) -> float:
    """Parse a .NET TimeSpan string (`[d.]hh:mm:ss[.fffffff]`) into seconds.

    host.json's `functionTimeout` and timer schedules given as TimeSpans use this format.
    """
    match = _TIMESPAN.match(text.strip())
    if not match:
        raise ConfigError(f"'{text}' is not a TimeSpan; expected [d.]hh:mm:ss, e.g. '00:10:00'")
    days = int(match["days"] or 0)
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"])
    if minutes > 59 or seconds > 59 or hours > 23:
        raise ConfigError(f"'{text}' is not a TimeSpan: hours must be < 24, minutes and seconds < 60")
    fraction = float("0." + match["f"]) if match["f"] else 0.0
    return days * 86400 + hours * 3600 + minutes * 60 + seconds + fraction


@dataclass(frozen=True)
class HostConfig:
    """The host.json values devhost honours (everything else in host.json is accepted and ignored)."""

    route_prefix: str = DEFAULT_ROUTE_PREFIX
    hub_name: str = DEFAULT_HUB_NAME
    max_activities: int = DEFAULT_CONCURRENCY_PER_CPU * (os.cpu_count() or 1)
    max_orchestrators: int = DEFAULT_CONCURRENCY_PER_CPU * (os.cpu_count() or 1)
    function_timeout: float | None = None  # seconds; None = unlimited (local default)

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "host.json") -> HostConfig:
        """Build from a parsed host.json; raises ConfigError naming the bad key."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: the top level must be a JSON object")
        version = data.get("version")
        if version is not None and str(version) != "2.0":
            raise ConfigError(f"{source}: version '{version}' is not supported; Functions v4 needs \"2.0\"")
        extensions = _obj(data.get("extensions", {}), f"{source}: extensions")
        http = _obj(extensions.get("http", {}), f"{source}: extensions.http")
        durable = _obj(extensions.get("durableTask", {}), f"{source}: extensions.durableTask")

        prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
        if not isinstance(prefix, str):
            raise ConfigError(f"{source}: extensions.http.routePrefix must be a string")
        hub = durable.get("hubName", DEFAULT_HUB_NAME)
        if not isinstance(hub, str) or not _HUB_NAME.match(_expand_setting(hub)):
            raise ConfigError(
                f"{source}: extensions.durableTask.hubName '{hub}' is invalid: 3-50 letters or digits, "
                "starting with a letter (Azure Storage rule)"
            )
        timeout = data.get("functionTimeout")
        if timeout is not None and not isinstance(timeout, str):
            raise ConfigError(f"{source}: functionTimeout must be a TimeSpan string such as \"00:10:00\"")
        return cls(
            route_prefix=prefix.strip("/"),
            hub_name=_expand_setting(hub),
            max_activities=_positive_int(durable, "maxConcurrentActivityFunctions", cls.max_activities, source),
            max_orchestrators=_positive_int(
                durable, "maxConcurrentOrchestratorFunctions", cls.max_orchestrators, source
            ),
            function_timeout=None if timeout in (None, "-1") else parse_timespan(timeout),
        )


def load_host_config(app_dir: Path) -> HostConfig:
    """Read `<app_dir>/host.json` (defaults when absent, as Core Tools warns and goes on)."""
    path = Path(app_dir) / "host.json"
    if not path.exists():
        return HostConfig()
    return HostConfig.from_dict(_read_json(path), source=str(path))


def load_settings(path: Path) -> dict[str, str]:
    """Read the `Values` of a local.settings.json-style file; every value must be a string.

    Azure app settings are strings; refusing numbers/booleans here keeps an app that reads
    `os.environ` from behaving differently locally and in Azure.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a JSON object with a \"Values\" object")
    if data.get("IsEncrypted") is True:
        raise ConfigError(f"{path}: IsEncrypted is true; decrypt it (func settings decrypt) or set it to false")
    values = _obj(data.get("Values", {}), f"{path}: Values")
    out: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str):
            raise ConfigError(
                f"{path}: Values.{name} is {type(value).__name__}; app settings are strings, write \"{value}\""
            )
        out[name] = value
    return out


def local_http_port(path: Path) -> int | None:
    """`Host.LocalHttpPort` of a local.settings.json (Core Tools' default port when --port is not given)."""
    data = _read_json(Path(path))
    host = data.get("Host") if isinstance(data, Mapping) else None
    port = host.get("LocalHttpPort") if isinstance(host, Mapping) else None
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{path}: Host.LocalHttpPort must be a port number, not {port!r}")
    return port


def is_disabled(function_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """True when the app setting `AzureWebJobs.<name>.Disabled` is true: the host does not run the function."""
    env = os.environ if environ is None else environ
    return env.get(f"AzureWebJobs.{function_name}.Disabled", "").strip().lower() in ("true", "1")


@contextmanager
def apply_settings(values: Mapping[str, str]) -> Iterator[None]:
    """Put app settings into `os.environ` for the block, then restore what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _expand_setting(value: str) -> str:
    """Resolve `%NAME%` from the environment, as the host does for binding/host.json expressions."""
    match = re.fullmatch(r"%([^%]+)%", value)
    if not match:
        return value
    name = match.group(1)
    if name not in os.environ:
        raise ConfigError(f"'{value}' refers to app setting {name}, which is not set")
    return os.environ[name]


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def _obj(value: object, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a JSON object")
    return value


def _positive_int(section: Mapping, key: str, default: int, source: str) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{source}: extensions.durableTask.{key} must be a positive integer, not {value!r}")
    return value
