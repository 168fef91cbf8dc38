"""The typed contracts of the sync activities (`sync_prepare`, `sync_plan`, `sync_prune`), like `ferry.contracts`
for the copy activities: one frozen dataclass per shape, camelCase on the wire, `from_dict` tolerant of keys a
newer or older build wrote (a replay may meet either)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ferry.contracts import Contract


@dataclass(frozen=True)
class TargetFacts(Contract):
    """What a sync's copies to one target need, frozen into history: its API version and the degrade header."""

    api_version: str = ""
    generation: str = ""
    degrade: bool = False


@dataclass(frozen=True)
class SyncPrepared(Contract):
    """`sync_prepare`'s answer: the normalized request, the copy policy (as `CopyPolicy.to_dict()`), how many
    copies run at once, the source's generation, each target's facts, the targets copies may be relayed between
    (`ferry.orchestration.relay`) and each resource's model-management rate (calls per second)."""

    request: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    parallel: int = 1
    source_generation: str = ""
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    relay_peers: list[str] = field(default_factory=list)
    management_rates: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanSync(Contract):
    """`sync_plan`'s input: the normalized request, the orchestration's time (ISO-8601) and the v2 mapping."""

    request: dict[str, Any] = field(default_factory=dict)
    now: str = ""
    v2_map: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncPlan(Contract):
    """`sync_plan`'s answer (`ferry.orchestration.sync_plan.plan_sync`): only the rows that are not upToDate."""

    source: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    v2_adopt: dict[str, dict[str, str]] = field(default_factory=dict)
    v2_forget: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PruneReplica(Contract):
    """`sync_prune`'s input: the target model to delete and the source model it is a copy of."""

    source: str = ""
    target: str = ""
    target_model_id: str = ""
    source_model_id: str = ""


@dataclass(frozen=True)
class Pruned(Contract):
    """`sync_prune`'s answer: deleted, or why not (`skipped`: TargetModelGone, NotAModelFerryCopy,
    SourceModelExists)."""

    deleted: bool = False
    skipped: str | None = None
