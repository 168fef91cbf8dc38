"""The only reader of ModelFerry's app settings (environment variables / `local.settings.json`).

Everything the product needs to know about its resources and its tuning comes from here, validated once per
process, so a misconfiguration fails at the first call with a message that names the setting and says what to
do, instead of surfacing later as a confusing service error. Settings hold secret NAMES only (Key Vault secret
names), never keys, so a `Settings` object is safe to log or to serialise (`to_dict()`).

Other parts use:
- `SETTINGS`: the registry (name → `Setting`); the README and the infra tests are generated/checked from it
  (`settings_markdown()` renders the README table).
- `load(environ=os.environ) -> Settings`: parse + validate (cached per distinct configuration;
  `load.cache_clear()` forgets the cache, for tests).
- `Settings.resource(alias) -> Resource`, `Settings.aliases`, `Settings.copy_degrade(source, target)`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ferry import generations
from ferry.generations import API_VERSIONS  # re-exported: the versions FERRY_RESOURCES accepts

log = logging.getLogger("modelferry.settings")

RESOURCE_ID_PATTERN = re.compile(
    r"^/subscriptions/[^/]*/resourceGroups/[^/]*/providers/Microsoft.CognitiveServices/accounts/[^/]*$"
)
REGION_PATTERN = re.compile(r"^[a-z0-9]{1,24}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SECRET_NAME_PATTERN = re.compile(r"^[0-9A-Za-z-]{1,127}$")
LOOPBACK_HOSTS = frozenset({"localhost"})
RESOURCE_FIELDS = ("endpoint", "region", "resourceId", "apiVersion", "keySecretName", "cmk", "tier",
                   "managementRate", "getRate", "listRate")
REQUIRED_RESOURCE_FIELDS = ("endpoint", "region", "resourceId", "apiVersion")

RATE_GROUPS: tuple[str, ...] = ("manage", "get", "list")
"""The service's per-resource rate-limit groups: model management (build, authorizeCopy, copy, delete), get
(a model, an operation, the info) and list (models, operations)."""

TIER_RATES: dict[str, dict[str, float]] = {
    "S0": {"manage": 5.0, "get": 50.0, "list": 10.0},
    "F0": {"manage": 1.0, "get": 1.0, "list": 1.0},
}
"""Requests per second per resource and group, by pricing tier (the service-limits page; S0's are adjustable
by a support request: then set managementRate/getRate/listRate on the resource)."""

DEFAULT_TIER = "S0"
RATE_FIELDS = {"manage": "managementRate", "get": "getRate", "list": "listRate"}
MAX_RATE = 10_000.0


@dataclass(frozen=True)
class Setting:
    """One app setting: its name, whether it must be set, its default (as the string an env var would hold)."""

    name: str
    required: bool
    default: str | None
    description: str
    local_only: bool = False


def _registry(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


SETTINGS: dict[str, Setting] = _registry(
    Setting(
        "FERRY_RESOURCES",
        True,
        None,
        "JSON object: alias → {\"endpoint\", \"region\", \"resourceId\", \"apiVersion\", \"keySecretName\"?, "
        "\"cmk\"?}. endpoint is the resource's https endpoint (http only for loopback hosts); region the "
        "lower-case Azure region (e.g. westus2); resourceId the ARM id /subscriptions/…/resourceGroups/…/"
        "providers/Microsoft.CognitiveServices/accounts/…; apiVersion one of v2.0, v2.1, 2022-08-31, "
        "2023-07-31, 2024-11-30; keySecretName the Key Vault secret holding the resource's key (omit it to "
        "call the resource with the Function App's managed identity); cmk true when the resource is "
        "encrypted with a customer-managed key. Pacing: tier S0 (the default: 5 model-management calls per "
        "second, 50 get, 10 list) or F0 (1 each); managementRate, getRate, listRate (requests per second, "
        "0.01–10000) override the tier's limit when the resource's limits were raised. Every copy, whatever "
        "started it, waits for its resource's management budget before authorizeCopy, copyTo and delete.",
    ),
    Setting("FERRY_SOURCE", False, None, "Default source alias (a key of FERRY_RESOURCES) when a request or "
            "event names none."),
    Setting("FERRY_TARGETS", False, None, "Comma-separated default target aliases (keys of FERRY_RESOURCES, "
            "not the source) when a request or event names none."),
    Setting("FERRY_KEY_VAULT_URI", False, None, "URI of the Key Vault holding the resources' keys "
            "(https://<vault>.vault.azure.net/). Required when any resource has keySecretName."),
    Setting("FERRY_KEY_VAULT_CA_BUNDLE", False, None, "Local development only: path of a PEM CA bundle to "
            "trust for a loopback Key Vault stand-in. Leave unset in Azure.", local_only=True),
    Setting("FERRY_COPY_DEADLINE_SECONDS", False, "3600", "Overall deadline of one copy to one target, from "
            "the first authorization to the verified model, in seconds (30–86400). A copy still running at "
            "the deadline is reported as timed out and its unfinished target model is deleted. Default "
            "3600 s: real copies take seconds to minutes, composed copies have been seen to hang for hours."),
    Setting("FERRY_POLL_INITIAL_SECONDS", False, "1", "Delay before the first poll of a started copy, in "
            "seconds (0.1–60). Default 1 s, as the Copy API guide recommends (\"query the operation once "
            "every second\"): most copies finish within a few seconds, so noticing the completion quickly "
            "matters more than the extra request."),
    Setting("FERRY_POLL_BACKOFF_FACTOR", False, "1.1", "Each further poll delay is the previous one times "
            "this factor (1.0–4.0), capped at FERRY_POLL_MAX_SECONDS; a Retry-After from the service wins. "
            "Default 1.1: polls at about 1, 2.1, 3.3, 4.6, 6.1, 7.7 s…, so the delay stays under 2 s for the "
            "first ~13 s and a copy of a few seconds is noticed well within a second of completing (median "
            "0.7 s for copies of 1–10 s); the cap is reached after about 2.5 minutes."),
    Setting("FERRY_POLL_MAX_SECONDS", False, "15", "Upper bound of the delay between two polls, in seconds "
            "(1–600, at least FERRY_POLL_INITIAL_SECONDS). Default 15 s: a 30-minute copy costs about 140 "
            "polls, well inside the service's Get-operation rate limit (S0: 50 per second)."),
    Setting("FERRY_MAX_PARALLEL_TARGETS", False, "4", "How many targets one model is copied to at the same "
            "time (1–64). Concurrency only: the rate of calls to each resource is paced by its budget (tier / "
            "managementRate in FERRY_RESOURCES), however many copies run. Default 4."),
    Setting("FERRY_ALLOW_CMK_DEGRADE", False, "false", "true/false. Whether a copy from a CMK-encrypted "
            "resource (cmk: true) to one that is not may be sent with x-ms-forms-copy-degrade: true, i.e. "
            "stored under a weaker data-protection scheme. Default false: such copies fail with "
            "DataProtectionTransformServiceError until you opt in."),
    Setting("FERRY_MAX_AUTHORIZATION_ATTEMPTS", False, "3", "How many copy authorizations one copy to one "
            "target may use (1–10): an expired or already-used authorization is replaced by a fresh one and "
            "the copy re-issued, at most this many times in all. Default 3."),
    Setting("FERRY_MAX_TRANSIENT_RETRIES", False, "6", "How many times one step of a copy is repeated after a "
            "transient failure (5xx, dropped connection, timeout) before the copy is reported failed (0–20), "
            "waiting 2, 5, 13, 34, then 60 s between tries on durable timers. A 429 (throttled) does not count: "
            "it waits the service's Retry-After (plus up to 1 s of jitter) for as long as the copy deadline "
            "allows. Default 6: about 3.5 minutes of retries."),
    Setting("FERRY_PACING_LEAD_MS", False, "400", "How long before its rate-budget slot a copy wakes the activity "
            "that sends authorizeCopy and copyTo, in milliseconds (50–5000); the activity holds both calls until "
            "the slot itself. It must cover the reservation's round trips to the budgets and the activity's "
            "dispatch, or the slot is given back and a later one taken (a copy that wakes less than 40 ms before "
            "its slot does so). Default 400 ms: enough for the local host starting 90 copies at once (two "
            "reservations took up to about 250 ms there). Raise it where queues are slower to hand out work "
            "(the Azure Storage backend polls its queues). It only costs time when a budget is idle, i.e. in the "
            "first window of a burst of copies."),
    Setting("FERRY_PACING_MARGIN_MS", False, "30", "What each rate-limit window of a budget adds to the service's "
            "one second, in milliseconds (0–1000): the most a held call may arrive later, relative to the call "
            "a window earlier, than its slot says (client load, network, clock skew between Function App "
            "instances). Default 30 ms: in the bulk benchmark on one machine, copy calls a window apart arrived "
            "up to 15 ms closer than their slots. Raise it when a scaled-out app reports throttled copy calls."),
    Setting("FERRY_KEY_CACHE_SECONDS", False, "300", "How long a resource key read from Key Vault is reused "
            "before it is read again, in seconds (0–86400; 0 = read every time). A 401 from the service "
            "forces one early re-read (key rotation). Default 300 s."),
    Setting("FERRY_SYNC_SCHEDULE", False, "0 0 */6 * * *", "When the estate sync runs on its own: an NCRONTAB "
            "expression with six fields (second minute hour day month day-of-week, UTC), as Azure Functions "
            "timer triggers use; set it empty to turn the scheduled sync off (the timer function is then not "
            "registered). Default 0 0 */6 * * * (every 6 "
            "hours): models "
            "that arrive without a ModelTrained event (trained in Studio, rebuilt by hand) are replicated within "
            "6 hours, and a sync that finds everything up to date costs only list calls (one per page of models "
            "per resource), well inside the service's list budget. A scheduled run that finds a sync of the "
            "source running starts nothing."),
    Setting("FERRY_SYNC_MAX_PARALLEL_COPIES", False, "20", "How many copies one sync runs at the same time, "
            "across all its targets (1–500). Each copy spends most of its time waiting for the service, so "
            "keeping the source's model-management budget (S0: 5 copy calls per second) busy needs about "
            "5 × the copy time in flight; default 20 suits copies of about 4 s. Raising it does not exceed the "
            "service's limits: throttled calls wait their Retry-After."),
    Setting("FERRY_SYNC_RELAY", False, "true", "true/false. Whether a sync may copy a model to a target from "
            "the replica another target received and verified earlier in the same sync, instead of from the "
            "source. Each copy costs a model-management call on the resource that sends it, so relays spread "
            "the calls over every budget: with 2 targets the source sends 40 of 60 copies, with 3 targets 45 "
            "of 90. Only between targets with the source's API version and encryption; the replica's tags name "
            "the source, and a relay that cannot run or fails is copied from the source. Default true; set "
            "false to copy every replica from the source."),
    Setting("FERRY_COPY_RELAY_BACKLOG_SECONDS", False, "2", "When a copy of one model to several targets "
            "(`/api/copies`, Event Grid) relays: once the source's model-management budget is booked this many "
            "seconds ahead (0–3600, or off), the model is copied from the source to one target and from there "
            "to the others, as the sync's relays do (same API version and encryption as the source, the "
            "source's model id on every target). An idle source copies to every target side by side; many "
            "copies arriving together would queue behind the source's budget, and relays take part of them "
            "off it. Default 2 s: the first copies of a burst go straight, then two in three relay (with 2 "
            "targets; one in n+1 goes straight with n); a relay whose first copy leaves when the source is booked "
            "less than this sends its other copies from the source after all. off: never."),
)

def default_of(name: str) -> str:
    """The default of setting `name` as written in the registry (the one definition of every default)."""
    default = SETTINGS[name].default
    if default is None:
        raise KeyError(f"{name} has no default")
    return default


DEFAULT_SYNC_SCHEDULE = default_of("FERRY_SYNC_SCHEDULE")
_NCRONTAB_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


def schedule_problem(value: str) -> str | None:
    """Why `value` is not a six-field NCRONTAB expression (a sentence), or None when it looks like one."""
    fields_ = value.split()
    if len(fields_) != 6:
        return (f"{value!r} has {len(fields_)} fields; an NCRONTAB schedule has six: second minute hour day month "
                "day-of-week, e.g. '0 0 */6 * * *' (every 6 hours)")
    bad = [f for f in fields_ if not _NCRONTAB_FIELD.match(f)]
    if bad:
        return f"{value!r}: field(s) {', '.join(bad)} are not NCRONTAB fields (digits, names, * / , -)"
    return None


def sync_timer_schedule(environ: Mapping[str, str] | None = None) -> str | None:
    """The schedule to register the sync timer with, read once when the app is indexed: None when
    FERRY_SYNC_SCHEDULE is set empty (the timer is not registered at all: nothing wakes up), the default when it
    is unset, else its value — or the default when it is invalid, which the trigger then reports as
    InvalidSettings without starting anything."""
    env = os.environ if environ is None else environ
    raw = env.get("FERRY_SYNC_SCHEDULE")
    if raw is None:
        return DEFAULT_SYNC_SCHEDULE
    value = raw.strip()
    if not value:
        return None
    return value if schedule_problem(value) is None else DEFAULT_SYNC_SCHEDULE

def settings_markdown(*, include_local_only: bool = True) -> str:
    """The settings table for the README (| setting | required | default | meaning |), from `SETTINGS`."""
    rows = ["| setting | required | default | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS.values():
        if setting.local_only and not include_local_only:
            continue
        required = "yes" if setting.required else ("local only" if setting.local_only else "no")
        default = f"`{setting.default}`" if setting.default is not None else "—"
        rows.append(f"| `{setting.name}` | {required} | {default} | {setting.description.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class SettingsError(ValueError):
    """The app settings are invalid. `problems` lists (setting name, message) pairs; `setting` is the first."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        self.setting = problems[0][0] if problems else None
        lines = [f"{name}: {message}" for name, message in self.problems]
        super().__init__("Invalid ModelFerry app settings:\n  " + "\n  ".join(lines))


class UnknownResourceError(KeyError):
    """An alias that is not a key of FERRY_RESOURCES."""

    def __init__(self, alias: str, known: tuple[str, ...]):
        self.alias = alias
        self.known = known
        super().__init__(alias)

    def __str__(self) -> str:
        return (f"unknown resource alias {self.alias!r}: FERRY_RESOURCES defines {', '.join(self.known) or 'none'}"
                "; name one of those or add it to FERRY_RESOURCES")


@dataclass(frozen=True)
class Resource:
    """One Document Intelligence / Form Recognizer resource, as configured in FERRY_RESOURCES."""

    alias: str
    endpoint: str  # scheme://host[:port], no trailing slash, no path
    region: str
    resource_id: str
    api_version: str
    key_secret_name: str | None = None
    cmk: bool = False
    tier: str = DEFAULT_TIER
    rate_overrides: tuple[tuple[str, float], ...] = ()  # (group, requests per second) given explicitly

    def rate(self, group: str) -> float:
        """Requests per second this resource accepts in `group` (manage, get, list): the override or the tier's."""
        if group not in RATE_GROUPS:
            raise ValueError(f"unknown rate group {group!r}; groups are {', '.join(RATE_GROUPS)}")
        return dict(self.rate_overrides).get(group, TIER_RATES[self.tier][group])

    @property
    def generation(self) -> str:
        """"v2", "v3" or "v4" (`ferry.generations`)."""
        return generations.generation(self.api_version)

    @property
    def is_v2(self) -> bool:
        """v2.0/v2.1: /formrecognizer/v2.x, service-assigned GUID ids, no description/tags."""
        return generations.is_v2(self.api_version)

    @property
    def uses_managed_identity(self) -> bool:
        return self.key_secret_name is None

    def to_dict(self) -> dict[str, Any]:
        """The FERRY_RESOURCES entry shape (camelCase), without the alias."""
        out: dict[str, Any] = {"endpoint": self.endpoint, "region": self.region, "resourceId": self.resource_id,
                               "apiVersion": self.api_version, "cmk": self.cmk}
        if self.key_secret_name is not None:
            out["keySecretName"] = self.key_secret_name
        out["tier"] = self.tier
        for group, value in self.rate_overrides:
            out[RATE_FIELDS[group]] = value
        return out


@dataclass(frozen=True)
class Settings:
    """Validated, immutable settings. Holds no secrets (only Key Vault secret names)."""

    resources: tuple[Resource, ...]
    source: str | None = None
    targets: tuple[str, ...] = ()
    key_vault_uri: str | None = None
    key_vault_ca_bundle: str | None = None
    copy_deadline_seconds: float = float(default_of("FERRY_COPY_DEADLINE_SECONDS"))
    poll_initial_seconds: float = float(default_of("FERRY_POLL_INITIAL_SECONDS"))
    poll_backoff_factor: float = float(default_of("FERRY_POLL_BACKOFF_FACTOR"))
    poll_max_seconds: float = float(default_of("FERRY_POLL_MAX_SECONDS"))
    max_parallel_targets: int = int(default_of("FERRY_MAX_PARALLEL_TARGETS"))
    allow_cmk_degrade: bool = default_of("FERRY_ALLOW_CMK_DEGRADE") == "true"
    max_authorization_attempts: int = int(default_of("FERRY_MAX_AUTHORIZATION_ATTEMPTS"))
    max_transient_retries: int = int(default_of("FERRY_MAX_TRANSIENT_RETRIES"))
    key_cache_seconds: float = float(default_of("FERRY_KEY_CACHE_SECONDS"))
    pacing_lead_ms: float = float(default_of("FERRY_PACING_LEAD_MS"))
    pacing_margin_ms: float = float(default_of("FERRY_PACING_MARGIN_MS"))
    sync_schedule: str | None = default_of("FERRY_SYNC_SCHEDULE")  # None: the scheduled sync is off
    sync_max_parallel_copies: int = int(default_of("FERRY_SYNC_MAX_PARALLEL_COPIES"))
    sync_relay: bool = default_of("FERRY_SYNC_RELAY") == "true"
    copy_relay_backlog_seconds: float | None = float(default_of("FERRY_COPY_RELAY_BACKLOG_SECONDS"))
    _by_alias: dict[str, Resource] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_alias", {r.alias: r for r in self.resources})

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(r.alias for r in self.resources)

    def has(self, alias: str) -> bool:
        return alias in self._by_alias

    def resource(self, alias: str) -> Resource:
        """The resource for `alias`; raises UnknownResourceError (a KeyError) naming the known aliases."""
        try:
            return self._by_alias[alias]
        except (KeyError, TypeError):
            raise UnknownResourceError(str(alias), self.aliases) from None

    def relay_peers(self, source: str, targets: tuple[str, ...] | list[str]) -> list[str]:
        """The targets a sync may relay copies between (`ferry.orchestration.relay`): none when FERRY_SYNC_RELAY is
        off; else the v3+ targets with the source's API version and encryption, so a relayed copy needs nothing
        a direct one does not (no other API generation, no degrade header)."""
        return self._relay_compatible(source, targets) if self.sync_relay else []

    def copy_relay_peers(self, source: str, targets: tuple[str, ...] | list[str]) -> list[str]:
        """The targets a copy of one model may relay between (`ferry.orchestration.relay.copy_route`): as for a
        sync, none when FERRY_COPY_RELAY_BACKLOG_SECONDS is off."""
        return self._relay_compatible(source, targets) if self.copy_relay_backlog_seconds is not None else []

    def _relay_compatible(self, source: str, targets: tuple[str, ...] | list[str]) -> list[str]:
        src = self.resource(source)
        return [alias for alias in targets if not self.resource(alias).is_v2
                and self.resource(alias).api_version == src.api_version and self.resource(alias).cmk == src.cmk]

    def copy_degrade(self, source: str, target: str) -> bool:
        """Whether a copy source → target should carry x-ms-forms-copy-degrade: true.

        Only a CMK → non-CMK copy needs it, and only when FERRY_ALLOW_CMK_DEGRADE allows it; otherwise the
        service refuses the copy with DataProtectionTransformServiceError (→ FerryError kind
        "degrade_required"), which is the safe outcome.
        """
        return self.allow_cmk_degrade and self.resource(source).cmk and not self.resource(target).cmk

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (no secrets: settings never hold any)."""
        return {
            "resources": {r.alias: r.to_dict() for r in self.resources},
            "source": self.source,
            "targets": list(self.targets),
            "keyVaultUri": self.key_vault_uri,
            "keyVaultCaBundle": self.key_vault_ca_bundle,
            "copyDeadlineSeconds": self.copy_deadline_seconds,
            "pollInitialSeconds": self.poll_initial_seconds,
            "pollBackoffFactor": self.poll_backoff_factor,
            "pollMaxSeconds": self.poll_max_seconds,
            "maxParallelTargets": self.max_parallel_targets,
            "allowCmkDegrade": self.allow_cmk_degrade,
            "maxAuthorizationAttempts": self.max_authorization_attempts,
            "maxTransientRetries": self.max_transient_retries,
            "keyCacheSeconds": self.key_cache_seconds,
            "pacingLeadMs": self.pacing_lead_ms,
            "pacingMarginMs": self.pacing_margin_ms,
            "syncSchedule": self.sync_schedule,
            "syncMaxParallelCopies": self.sync_max_parallel_copies,
            "syncRelay": self.sync_relay,
            "copyRelayBacklogSeconds": self.copy_relay_backlog_seconds,
        }


# --------------------------------------------------------------------------------------------------------------
# parsing


def is_loopback_host(host: str | None) -> bool:
    """True for localhost / 127.0.0.0/8 / ::1: the only hosts an http:// endpoint may point at."""
    if not host:
        return False
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_endpoint(value: Any) -> tuple[str | None, str | None]:
    """Normalise an endpoint to scheme://host[:port]; returns (endpoint, problem)."""
    if not isinstance(value, str) or not value.strip():
        return None, "endpoint must be a non-empty string such as https://<name>.cognitiveservices.azure.com/"
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        return None, f"endpoint {value!r} is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None, (f"endpoint {value!r} must be an absolute https URL such as "
                      "https://<name>.cognitiveservices.azure.com/")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return None, (f"endpoint {value!r} uses http; use https (http is only accepted for loopback hosts "
                      "such as the local cloud on 127.0.0.1)")
    if parts.username or parts.password:
        return None, f"endpoint for host {parts.hostname!r} must not contain credentials"
    if parts.query or parts.fragment:
        return None, f"endpoint {value!r} must not contain a query or fragment"
    if parts.path not in ("", "/"):
        return None, (f"endpoint {value!r} must not contain a path ({parts.path!r}): give only the resource's "
                      "base URL; ModelFerry adds /formrecognizer or /documentintelligence itself")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{'' if port is None else f':{port}'}", None


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    return None


def _parse_resources(raw: str | None, problems: list[tuple[str, str]]) -> tuple[Resource, ...]:
    name = "FERRY_RESOURCES"
    if raw is None or not raw.strip():
        problems.append((name, "is not set; set it to a JSON object alias → {\"endpoint\", \"region\", "
                               "\"resourceId\", \"apiVersion\", \"keySecretName\"?, \"cmk\"?}"))
        return ()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append((name, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                               "fix the JSON (double quotes, no trailing commas)"))
        return ()
    if not isinstance(data, dict) or not data:
        problems.append((name, "must be a non-empty JSON object mapping each alias to its resource, "
                               "e.g. {\"primary\": {\"endpoint\": …}}"))
        return ()
    resources = []
    for alias, entry in data.items():
        where = f"resource {alias!r}"
        before = len(problems)
        if not ALIAS_PATTERN.match(alias):
            problems.append((name, f"alias {alias!r} is not valid: use 1–64 letters, digits, '-' or '_', "
                                   "starting with a letter or digit"))
            continue
        if not isinstance(entry, dict):
            problems.append((name, f"{where} must be a JSON object with endpoint, region, resourceId, apiVersion"))
            continue
        unknown = sorted(set(entry) - set(RESOURCE_FIELDS))
        if unknown:
            problems.append((name, f"{where} has unknown field(s) {', '.join(unknown)}; the allowed fields are "
                                   f"{', '.join(RESOURCE_FIELDS)} (check the spelling)"))
        missing = [f for f in REQUIRED_RESOURCE_FIELDS if f not in entry]
        if missing:
            problems.append((name, f"{where} is missing required field(s) {', '.join(missing)}"))
            continue
        endpoint, problem = _check_endpoint(entry["endpoint"])
        if problem:
            problems.append((name, f"{where}: {problem}"))
        region = entry["region"]
        if not isinstance(region, str) or not REGION_PATTERN.match(region):
            problems.append((name, f"{where}: region {region!r} must be the Azure region name in lower case "
                                   "letters and digits, 1–24 characters (e.g. westus2)"))
        resource_id = entry["resourceId"]
        if not isinstance(resource_id, str) or len(resource_id) > 1024 or not RESOURCE_ID_PATTERN.match(
                resource_id):
            problems.append((name, f"{where}: resourceId {resource_id!r} must be the ARM resource id "
                                   "/subscriptions/<sub>/resourceGroups/<rg>/providers/"
                                   "Microsoft.CognitiveServices/accounts/<name> (copy it from the resource's "
                                   "Properties/JSON view in the portal)"))
        api_version = entry["apiVersion"]
        if api_version not in API_VERSIONS:
            problems.append((name, f"{where}: apiVersion {api_version!r} is not supported; use one of "
                                   f"{', '.join(API_VERSIONS)}"))
        secret = entry.get("keySecretName")
        if secret is not None and (not isinstance(secret, str) or not SECRET_NAME_PATTERN.match(secret)):
            problems.append((name, f"{where}: keySecretName {secret!r} must be a Key Vault secret name "
                                   "(1–127 letters, digits and '-'); omit it to use the managed identity"))
        cmk = _parse_bool(entry.get("cmk", False))
        if cmk is None:
            problems.append((name, f"{where}: cmk {entry.get('cmk')!r} must be true or false"))
        tier = entry.get("tier", DEFAULT_TIER)
        if tier not in TIER_RATES:
            problems.append((name, f"{where}: tier {tier!r} is not known; use one of {', '.join(TIER_RATES)} "
                                   "(the resource's pricing tier, which sets its rate limits)"))
        overrides = []
        for group, field_name in RATE_FIELDS.items():
            if field_name not in entry:
                continue
            value = entry[field_name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.01 <= value <= MAX_RATE:
                problems.append((name, f"{where}: {field_name} {value!r} must be a number of requests per second "
                                       f"between 0.01 and {MAX_RATE:g}; omit it to use the tier's limit"))
            else:
                overrides.append((group, float(value)))
        if len(problems) == before:
            resources.append(Resource(alias=alias, endpoint=endpoint, region=region, resource_id=resource_id,
                                      api_version=api_version, key_secret_name=secret, cmk=bool(cmk), tier=tier,
                                      rate_overrides=tuple(overrides)))
    return tuple(resources)


def _number(env: Mapping[str, str], name: str, lo: float, hi: float, problems: list[tuple[str, str]],
            *, integer: bool = False) -> float:
    default = SETTINGS[name].default
    assert default is not None
    raw = env.get(name)
    text = default if raw is None or not raw.strip() else raw.strip()
    kind = "a whole number" if integer else "a number"
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        problems.append((name, f"{text!r} is not {kind}; set {kind} between {lo:g} and {hi:g} "
                               f"or unset it for the default {default}"))
        return int(default) if integer else float(default)
    if not (lo <= value <= hi):  # also rejects NaN
        problems.append((name, f"{text} is out of range; set {kind} between {lo:g} and {hi:g} "
                               f"or unset it for the default {default}"))
        return int(default) if integer else float(default)
    return value


def parse(environ: Mapping[str, str]) -> Settings:
    """Parse and validate settings from `environ` (no caching). Raises SettingsError listing every problem."""
    problems: list[tuple[str, str]] = []
    resources = _parse_resources(environ.get("FERRY_RESOURCES"), problems)
    known = {r.alias for r in resources}
    resources_ok = not any(name == "FERRY_RESOURCES" for name, _ in problems)

    source = (environ.get("FERRY_SOURCE") or "").strip() or None
    if source is not None and resources_ok and source not in known:
        problems.append(("FERRY_SOURCE", f"unknown alias {source!r}; use one of the FERRY_RESOURCES aliases: "
                                         f"{', '.join(sorted(known))}"))
    targets_raw = environ.get("FERRY_TARGETS") or ""
    targets = tuple(t.strip() for t in targets_raw.split(",") if t.strip())
    if resources_ok:
        unknown = [t for t in targets if t not in known]
        if unknown:
            problems.append(("FERRY_TARGETS", f"unknown alias(es) {', '.join(unknown)}; use FERRY_RESOURCES "
                                              f"aliases ({', '.join(sorted(known))}), comma-separated"))
    if len(set(targets)) != len(targets):
        problems.append(("FERRY_TARGETS", f"{targets_raw!r} names a target twice; list each alias once"))
    if source is not None and source in targets:
        problems.append(("FERRY_TARGETS", f"contains the source alias {source!r} (FERRY_SOURCE); a model "
                                          "cannot be replicated onto its own source, remove it"))

    kv_uri = (environ.get("FERRY_KEY_VAULT_URI") or "").strip() or None
    if kv_uri is not None:
        parts = urlsplit(kv_uri)
        if parts.scheme != "https" or not parts.hostname:
            problems.append(("FERRY_KEY_VAULT_URI", f"{kv_uri!r} must be an https URL such as "
                                                    "https://<vault>.vault.azure.net/"))
        kv_uri = kv_uri.rstrip("/") + "/"
    needing_key = sorted(r.alias for r in resources if r.key_secret_name)
    if needing_key and kv_uri is None:
        problems.append(("FERRY_KEY_VAULT_URI", f"is not set but resource(s) {', '.join(needing_key)} have "
                                                "keySecretName; set it to the vault holding those secrets, or "
                                                "remove keySecretName to use the managed identity"))
    ca_bundle = (environ.get("FERRY_KEY_VAULT_CA_BUNDLE") or "").strip() or None
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        problems.append(("FERRY_KEY_VAULT_CA_BUNDLE", f"file {ca_bundle!r} does not exist; point it at the "
                                                      "local vault's PEM CA bundle or unset it (never set in "
                                                      "Azure)"))

    deadline = _number(environ, "FERRY_COPY_DEADLINE_SECONDS", 30, 86400, problems)
    poll_initial = _number(environ, "FERRY_POLL_INITIAL_SECONDS", 0.1, 60, problems)
    poll_factor = _number(environ, "FERRY_POLL_BACKOFF_FACTOR", 1.0, 4.0, problems)
    poll_max = _number(environ, "FERRY_POLL_MAX_SECONDS", 1, 600, problems)
    if poll_max < poll_initial:
        problems.append(("FERRY_POLL_MAX_SECONDS", f"{poll_max:g} is smaller than FERRY_POLL_INITIAL_SECONDS "
                                                   f"({poll_initial:g}); raise it or lower the initial delay"))
    parallel = int(_number(environ, "FERRY_MAX_PARALLEL_TARGETS", 1, 64, problems, integer=True))
    attempts = int(_number(environ, "FERRY_MAX_AUTHORIZATION_ATTEMPTS", 1, 10, problems, integer=True))
    transient_retries = int(_number(environ, "FERRY_MAX_TRANSIENT_RETRIES", 0, 20, problems, integer=True))
    key_cache = _number(environ, "FERRY_KEY_CACHE_SECONDS", 0, 86400, problems)
    pacing_lead = _number(environ, "FERRY_PACING_LEAD_MS", 50, 5000, problems)
    pacing_margin = _number(environ, "FERRY_PACING_MARGIN_MS", 0, 1000, problems)
    degrade_raw = environ.get("FERRY_ALLOW_CMK_DEGRADE")
    degrade = _parse_bool(degrade_raw if degrade_raw is not None and degrade_raw.strip() else "false")
    if degrade is None:
        problems.append(("FERRY_ALLOW_CMK_DEGRADE", f"{degrade_raw!r} is not a boolean; set true or false"))

    schedule_raw = environ.get("FERRY_SYNC_SCHEDULE")
    sync_schedule = DEFAULT_SYNC_SCHEDULE if schedule_raw is None else (schedule_raw.strip() or None)
    if sync_schedule is not None and schedule_problem(sync_schedule):
        problems.append(("FERRY_SYNC_SCHEDULE", f"{schedule_problem(sync_schedule)}; or set it empty to turn the "
                                                "scheduled sync off"))
    sync_parallel = int(_number(environ, "FERRY_SYNC_MAX_PARALLEL_COPIES", 1, 500, problems, integer=True))
    relay_raw = environ.get("FERRY_SYNC_RELAY")
    relay = _parse_bool(relay_raw if relay_raw is not None and relay_raw.strip() else default_of("FERRY_SYNC_RELAY"))
    if relay is None:
        problems.append(("FERRY_SYNC_RELAY", f"{relay_raw!r} is not a boolean; set true or false"))
    copy_relay_raw = (environ.get("FERRY_COPY_RELAY_BACKLOG_SECONDS") or "").strip().lower()
    known = len(problems)
    copy_relay = None if copy_relay_raw == "off" else _number(environ, "FERRY_COPY_RELAY_BACKLOG_SECONDS", 0, 3600,
                                                                 problems)
    if len(problems) > known:
        problems[-1] = (problems[-1][0], f"{problems[-1][1]}; or set off to never relay")

    if problems:
        raise SettingsError(problems)
    for name in sorted(k for k in environ if k.startswith("FERRY_") and k not in SETTINGS):
        log.warning("ignoring unknown app setting %s (known: %s); check its spelling", name, ", ".join(SETTINGS))
    return Settings(
        resources=resources, source=source, targets=targets, key_vault_uri=kv_uri, key_vault_ca_bundle=ca_bundle,
        copy_deadline_seconds=deadline, poll_initial_seconds=poll_initial, poll_backoff_factor=poll_factor,
        poll_max_seconds=poll_max, max_parallel_targets=parallel, allow_cmk_degrade=bool(degrade),
        max_authorization_attempts=attempts, max_transient_retries=transient_retries, key_cache_seconds=key_cache,
        pacing_lead_ms=pacing_lead, pacing_margin_ms=pacing_margin, sync_schedule=sync_schedule,
        sync_max_parallel_copies=sync_parallel, sync_relay=bool(relay), copy_relay_backlog_seconds=copy_relay,
    )


@functools.lru_cache(maxsize=8)
def _parse_cached(items: tuple[tuple[str, str], ...]) -> Settings:
    return parse(dict(items))


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Validated settings from `environ` (default: os.environ), parsed once per distinct FERRY_* configuration.

    The cache key is the FERRY_* variables themselves, so a process validates once and a test that changes
    the environment gets fresh settings; `load.cache_clear()` empties the cache.
    """
    env = os.environ if environ is None else environ
    items = tuple(sorted((k, v) for k, v in env.items() if k.startswith("FERRY_")))
    return _parse_cached(items)


load.cache_clear = _parse_cached.cache_clear  # type: ignore[attr-defined]
