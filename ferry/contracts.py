"""The typed contracts at the activity boundary: what each copy activity takes and returns.

Why typed here: activity inputs and results cross durable history as JSON. Each shape is declared once, as a frozen
dataclass, and converted one way (`to_dict()` / `from_dict()`, camelCase keys on the wire, snake_case in Python),
so the steps, the activities and both orchestrators read fields instead of string keys, and a renamed field is a
type error rather than a silent `None`. `from_dict` ignores unknown keys and fills missing ones with defaults: a
replay may meet results recorded by an older build.

Nothing secret is in any contract: aliases, ids, statuses, fingerprints, the copy operation URL and the
authorization's expiry. The authorization itself (it holds an access token) never leaves
`ferry.steps.authorize_and_start_copy`.

Every activity answers with an `Answer` envelope, `{"ok": true, "value": ...}` or `{"ok": false, "error":
FerryError.to_dict()}`: the orchestrator needs the error's kind, Retry-After and code to choose between waiting,
re-authorizing, checking an existing model, cleaning up or reporting, and an exception raised by an activity
reaches it only as text. A bug still raises (a failed activity, visible as such).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ferry.errors import FerryError
from ferry.orchestration.policy import CopyPolicy

C = TypeVar("C", bound="Contract")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Contract:
    """Mixin: the one `to_dict`/`from_dict` pair of every contract (camelCase keys, nested contracts/errors)."""

    # field name → how to rebuild it from JSON (nested contracts, FerryError, CopyPolicy, lists of contracts)
    _nested: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[_camel(f.name)] = _dump(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls: type[C], data: Any) -> C:
        data = data if isinstance(data, dict) else {}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = _camel(f.name)
            if key not in data:
                continue
            raw = data[key]
            values[f.name] = _load(cls._nested.get(f.name), raw)
        return cls(**values)


def _dump(value: Any) -> Any:
    if isinstance(value, Contract | FerryError | CopyPolicy):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def _load(kind: Any, raw: Any) -> Any:
    if kind is None or raw is None:
        return raw
    if isinstance(kind, list):  # [Contract]: a list of them
        return [_load(kind[0], item) for item in raw or []]
    return kind.from_dict(raw)


# ---------------------------------------------------------------------------------------------------- envelope

@dataclass(frozen=True)
class Answer:
    """An activity's answer: `value` (a contract's dict) when it worked, else the classified `error`."""

    value: dict[str, Any] | None = None
    error: FerryError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def of(cls, value: Contract) -> Answer:
        return cls(value=value.to_dict())

    @classmethod
    def failed(cls, error: FerryError) -> Answer:
        return cls(error=error)

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"ok": False, "error": self.error.to_dict()}
        return {"ok": True, "value": self.value}

    @classmethod
    def from_dict(cls, data: Any) -> Answer:
        data = data if isinstance(data, dict) else {}
        if data.get("ok"):
            return cls(value=data.get("value") or {})
        return cls(error=FerryError.from_dict(data.get("error") or {}))


# ---------------------------------------------------------------------------------------------------- plan_copy

@dataclass(frozen=True)
class TargetPlan(Contract):
    """One target of a planned copy: its alias, API version, the id to copy into (None: v2 assigns it), degrade."""

    alias: str = ""
    api_version: str = ""
    target_model_id: str | None = None
    degrade: bool = False


@dataclass(frozen=True)
class CopyPlanned(Contract):
    """`plan_copy`'s value: the normalized request, per-target facts, and the tuning frozen into history."""

    _nested: ClassVar[dict[str, Any]] = {"targets": [TargetPlan], "policy": CopyPolicy}

    request: dict[str, Any] = field(default_factory=dict)
    source_api_version: str = ""
    targets: list[TargetPlan] = field(default_factory=list)
    policy: CopyPolicy = field(default_factory=CopyPolicy)
    kind: str = "model"  # ferry.kinds: what the request copies ("model" | "classifier")
    # targets the copy may relay between when the source is busy (`ferry.orchestration.relay.copy_route`), and
    # how far ahead the source's budget must be booked for that (None: never)
    relay_peers: list[str] = field(default_factory=list)
    relay_backlog_seconds: float | None = None
    # a relayed copy asks the source's budget again when its first copy is due to leave and when it is done
    # (`relay_recheck`); False in plans frozen by builds without it, whose parents replay without the timer and
    # the calls
    relay_recheck: bool = False


# ---------------------------------------------------------------------------------------- copy_model_to_target

@dataclass(frozen=True)
class ChildInput(Contract):
    """Input of `copy_model_to_target`: one source model to one target (aliases and ids only)."""

    _nested: ClassVar[dict[str, Any]] = {"policy": CopyPolicy}

    model_id: str = ""
    source: str = ""
    target: str = ""
    target_model_id: str | None = None
    api_version: str = ""
    degrade: bool = False
    policy: CopyPolicy = field(default_factory=CopyPolicy)
    kind: str = "model"  # ferry.kinds: "model" | "classifier"; `model_id`s are that kind's ids
    # a relayed copy (`ferry.orchestration.relay`): `source` is a target holding a verified replica, `origin` the
    # resource the model comes from, which the copy's provenance tags name
    origin: str | None = None


# ------------------------------------------------------------------------------------------ check_source_model

@dataclass(frozen=True)
class SourceRef(Contract):
    """Input of `check_source_model`."""

    source: str = ""
    model_id: str = ""
    kind: str = "model"


@dataclass(frozen=True)
class SourceModel(Contract):
    """The source model: `status` "creating" | "ready"; its fingerprint identifies copies of it (ferry.docintel).

    `description`/`tags` (v3+) travel to authorizeCopy: the service takes them from the authorization.
    `dependencies` (`ferry.kinds.Dependency` dicts): what must be on the target first (a 2024-11-30 composed
    model's classifier and components)."""

    model_id: str = ""
    source: str = ""
    api_version: str = ""
    status: str = "ready"
    ready: bool = False
    fingerprint: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tags: dict[str, str] | None = None
    dependencies: list[dict[str, str]] = field(default_factory=list)
    created: str | None = None  # v3+: createdDateTime as the service wrote it (the copy's provenance records it)


# ------------------------------------------------------------------------------------ authorize_and_start_copy

@dataclass(frozen=True)
class StartCopy(Contract):
    """Input of `authorize_and_start_copy` (target id None: v2, the service assigns it). `not_before`: the
    instant (ISO-8601) of the rate-budget slot the calls were granted; the activity may start a little early
    and holds the calls until then (`ferry.steps.hold_until`)."""

    source: str = ""
    target: str = ""
    source_model_id: str = ""
    target_model_id: str | None = None
    degrade: bool = False
    description: str | None = None
    tags: dict[str, str] | None = None
    not_before: str | None = None
    kind: str = "model"
    source_created: str | None = None  # the source's createdDateTime, for the copy's provenance tags
    origin: str | None = None  # a relayed copy: the resource the provenance tags name (`ChildInput.origin`)


@dataclass(frozen=True)
class CopyStarted(Contract):
    """A started copy: poll `operation_url`; the model lands in `target_model_id`. No token, only its expiry."""

    operation_url: str = ""
    target_model_id: str | None = None
    authorization_expires_at: str | None = None


# --------------------------------------------------------------------------------------------------- poll_copy

@dataclass(frozen=True)
class PollCopy(Contract):
    """Input of `poll_copy`."""

    source: str = ""
    operation_url: str = ""
    target_model_id: str | None = None


@dataclass(frozen=True)
class CopyPoll(Contract):
    """One read of the copy operation: `status` notStarted | running | succeeded | failed (+ the service's word)."""

    _nested: ClassVar[dict[str, Any]] = {"error": FerryError}

    status: str = "running"
    target_model_id: str | None = None
    error: FerryError | None = None
    retry_after: float | None = None
    service_status: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "canceled")


# ------------------------------------------------------------------------- get_target_model / delete_target_model

@dataclass(frozen=True)
class TargetRef(Contract):
    """Input of `get_target_model` and `delete_target_model`."""

    target: str = ""
    target_model_id: str | None = None
    kind: str = "model"


@dataclass(frozen=True)
class TargetModel(Contract):
    """A model on the target: `status` "ready" | "creating" | "invalid" (a leftover of a failed copy)."""

    exists: bool = False
    model_id: str | None = None
    fingerprint: dict[str, Any] | None = None
    status: str | None = None


@dataclass(frozen=True)
class Deleted(Contract):
    """Whether `delete_target_model` removed a model (False: there was none)."""

    deleted: bool = False


# ------------------------------------------------------------------------------------------ list_target_copies

@dataclass(frozen=True)
class ListCopies(Contract):
    """Input of `list_target_copies`: the target and the source model's fingerprint."""

    target: str = ""
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetCopies(Contract):
    """What the target holds of one source model: its ready copies, and the models still being created there
    (whose content cannot be told yet)."""

    ready: list[str] = field(default_factory=list)
    creating: list[str] = field(default_factory=list)
