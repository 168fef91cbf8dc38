"""Plain-Python state of one emulated resource: models, copy authorizations and operations.

No HTTP here. Operations are state machines driven by the clock: a ``Job`` knows when it leaves
``notStarted``, when (if ever) it finishes and what happens then (its ``finish`` callback, applied once by
``World.tick``). A model created by a build/copy only appears when its job finishes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import CopyFailure
from .versions import ApiVersion

RETENTION_SECONDS = 24 * 3600  # operations are kept 24 h (docs)
# a classifier docType's training source → the "kind" the live 2024-11-30 service writes beside it
SOURCE_KINDS = {"azureBlobSource": "azureBlob", "azureBlobFileListSource": "azureBlobFileList"}
V3_MODEL_LIFETIME = 2 * 365 * 24 * 3600  # expirationDateTime = created + 2 years (recordings)


def iso_z(ts: float) -> str:
    """Whole seconds with Z: what v3+ bodies carry and what the formrecognizer SDK parses."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_7(ts: float) -> str:
    """Seven-digit fraction, as v2 copyResults switch to on completion (recorded)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{round((ts % 1) * 10_000_000) % 10_000_000:07d}Z"


def parse_iso(value: str) -> float | None:
    """Parse ``2023-07-18T01:29:16Z`` / ``…16.000Z`` / ``…+00:00``; None when it is not a timestamp."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def decode_ticks(value: int) -> float:
    """v2 expirationDateTimeTicks: Unix seconds (GA) or .NET ticks (v2.0-preview), as recorded."""
    if value > 10**15:
        return (value - 621355968000000000) / 10_000_000
    return float(value)


@dataclass
class Model:
    """A custom model. ``family`` "v2" (v2.0/v2.1 API) or "v3" (2022-08-31 … 2024-11-30 APIs)."""

    model_id: str
    family: str
    created: float
    last_updated: float
    status: str = "ready"  # v2: creating | ready | invalid; v3: ready | incomplete (left by a 3013 copy)
    ready_at: float | None = None  # v2 training: creating → ready at this time
    model_name: str | None = None  # v2.1
    is_composed: bool = False
    labeled: bool = False
    keys: dict[str, Any] | None = None  # v2 unlabeled
    train_result: dict[str, Any] | None = None  # v2
    composed_train_results: list[dict[str, Any]] | None = None  # v2.1 composed
    description: str | None = None  # v3
    tags: dict[str, str] | None = None  # v3
    api_version: str | None = None  # v3: the version that built it
    build_mode: str | None = None  # v3
    doc_types: dict[str, Any] | None = None  # v3
    expiration: float | None = None  # v3
    classifier_id: str | None = None  # 2024-11-30 composed: the classifier that routes to the docTypes
    split: str | None = None  # 2024-11-30 composed: auto | none | perPage
    origin: dict[str, Any] = field(default_factory=dict)  # how it came to be (inspection only)

    def clone(self, model_id: str) -> Model:
        twin = copy.deepcopy(self)
        twin.model_id = model_id
        return twin

    def inspect(self) -> dict[str, Any]:
        """A JSON-able view for the control interface (no wire format, every field)."""
        return {
            "modelId": self.model_id, "family": self.family, "status": self.status,
            "createdDateTime": iso_z(self.created), "lastUpdatedDateTime": iso_z(self.last_updated),
            "modelName": self.model_name, "isComposed": self.is_composed, "description": self.description,
            "tags": self.tags, "apiVersion": self.api_version, "docTypes": self.doc_types,
            "classifierId": self.classifier_id, "split": self.split, "origin": self.origin,
        }


@dataclass
class Authorization:
    """A copy authorization issued by a target resource; single use."""

    access_token: str
    family: str
    model_id: str
    issued: float
    expires: float
    payload: dict[str, Any]  # exactly what the target returned
    api: ApiVersion
    description: str | None = None
    tags: dict[str, str] | None = None
    consumed: bool = False
    artifact: str = "model"  # "model" or "classifier": an authorization only copies its own kind


@dataclass
class Job:
    """A long-running operation (v3+ operation, or a v2 copy result) as a clock-driven state machine."""

    op_id: str
    kind: str  # documentModelBuild|Compose|CopyTo, documentClassifierBuild|CopyTo, v2copy
    api: ApiVersion
    created: float
    start_at: float
    end_at: float | None  # None: never finishes
    target_model_id: str
    resource_location: str
    finish: Callable[[Job], None] | None = None  # sets outcome/failure/result; applied once
    outcome: str = "succeeded"
    failure: CopyFailure | None = None
    result: Model | Classifier | None = None
    tags: dict[str, str] | None = None
    source_model_id: str | None = None
    applied: bool = False
    finished_at: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def status(self, now: float) -> str:
        if now < self.start_at:
            return "notStarted"
        if not self.applied:
            return "running"
        return self.outcome

    def last_updated(self, now: float) -> float:
        if self.applied and self.finished_at is not None:
            return self.finished_at
        return self.start_at if now >= self.start_at else self.created

    def due(self, now: float) -> bool:
        return not self.applied and self.end_at is not None and now >= self.end_at

    def expired(self, now: float) -> bool:
        return now >= self.created + RETENTION_SECONDS

    def inspect(self, now: float) -> dict[str, Any]:
        return {
            "operationId": self.op_id, "kind": self.kind, "apiVersion": self.api.version,
            "status": self.status(now), "targetModelId": self.target_model_id,
            "sourceModelId": self.source_model_id, "createdDateTime": iso_z(self.created),
            "error": self.failure.v3_error() if self.failure and self.applied else None,
        }


@dataclass
class Classifier:
    """A custom classifier (2023-07-31 and 2024-11-30 APIs). It has no tags, unlike a model.

    ``doc_types`` keeps each type's training source as sent (``azureBlobSource`` or
    ``azureBlobFileListSource``); the 2024-11-30 wire adds the ``kind`` the live service writes.
    """

    classifier_id: str
    created: float
    modified: float
    expiration: float
    api_version: str
    doc_types: dict[str, dict[str, Any]]
    description: str | None = None
    base_classifier_id: str | None = None
    status: str = "ready"  # ready | incomplete (left by a 3013 copy)
    origin: dict[str, Any] = field(default_factory=dict)

    def clone(self, classifier_id: str) -> Classifier:
        twin = copy.deepcopy(self)
        twin.classifier_id = classifier_id
        return twin

    def inspect(self) -> dict[str, Any]:
        """A JSON-able view for the control interface (no wire format, every field)."""
        return {
            "classifierId": self.classifier_id, "status": self.status, "createdDateTime": iso_z(self.created),
            "modifiedDateTime": iso_z(self.modified), "expirationDateTime": iso_z(self.expiration),
            "apiVersion": self.api_version, "description": self.description,
            "baseClassifierId": self.base_classifier_id, "docTypes": self.doc_types, "origin": self.origin,
        }
