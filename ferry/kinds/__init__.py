"""Artifact kinds: what differs between copying a model and copying a classifier, one module each.

Why: the copy workflow (`CopyOrchestrator/child.py`: check the source → authorize and start → poll → verify →
recover) is the same for every kind; what differs is data — the REST collection and id field, which operations
build one, how a copy is recognised (its fingerprint) and what must be copied first (its dependencies). Each
kind is a `Kind` value (`ferry.kinds.model.MODEL`, `ferry.kinds.classifier.CLASSIFIER`); composed models are
models whose dependencies `ferry.kinds.composed` reads from their definition. Pure: no client, no I/O, so the
request validation (`ferry.orchestration.plan`) and a sync's plan can ask "which kinds, which rules" too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MODEL_KIND = "model"
CLASSIFIER_KIND = "classifier"


@dataclass(frozen=True)
class Dependency:
    """An artifact another one needs on the same resource (a composed model's classifier or component)."""

    kind: str
    id: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}

    @classmethod
    def from_dict(cls, data: Any) -> Dependency:
        data = data if isinstance(data, dict) else {}
        return cls(kind=str(data.get("kind") or MODEL_KIND), id=str(data.get("id") or ""))


@dataclass(frozen=True)
class Kind:
    """One artifact kind, as the clients, the steps and the workflow need it (v3+ REST; v2 has models only)."""

    name: str  # "model" | "classifier": the `kind` of requests, contracts and results
    request_field: str  # the request's / the REST body's id field: "modelId" | "classifierId"
    collection: str  # REST collection: "documentModels" | "documentClassifiers"
    target_id_field: str  # the id field of an authorizeCopy answer: "targetModelId" | "targetClassifierId"
    build_operations: frozenset[str]  # operation kinds that create one (a 404 during them means "being built")
    api_versions: tuple[str, ...] | None  # API versions that can copy it (None: every supported version)
    regions: tuple[str, ...] | None  # regions that can copy it, to and from (None: every region)
    fingerprint: Callable[[dict[str, Any]], dict[str, Any]]  # what recognises its copies (v3+ details)
    is_copy_of: Callable[[dict[str, Any], dict[str, Any]], bool]  # (source fingerprint, target fingerprint)
    dependencies: Callable[[dict[str, Any]], list[Dependency]]  # what must be on the target first

    def copy_refusal(self, api_version: str, region: str) -> str | None:
        """Why a resource at `api_version` in `region` cannot copy this kind (a sentence), or None."""
        if self.api_versions is not None and api_version not in self.api_versions:
            return (f"{self.name} copy needs apiVersion {' or '.join(self.api_versions)} "
                    f"(the resource uses {api_version})")
        if self.regions is not None and region not in self.regions:
            return (f"{self.name} copy is available only to and from the regions {', '.join(self.regions)} "
                    f"(the resource is in {region})")
        return None


def kind_named(name: str | None) -> Kind:
    """The `Kind` called `name` (None or "": model); ValueError for an unknown name."""
    from ferry.kinds.classifier import CLASSIFIER
    from ferry.kinds.model import MODEL

    known = {MODEL.name: MODEL, CLASSIFIER.name: CLASSIFIER}
    try:
        return known[name or MODEL_KIND]
    except KeyError:
        raise ValueError(f"unknown artifact kind {name!r} (use one of {', '.join(known)})") from None


def kinds() -> tuple[Kind, ...]:
    """Every kind, in dependency order (classifiers before the models that may compose them)."""
    from ferry.kinds.classifier import CLASSIFIER
    from ferry.kinds.model import MODEL

    return (CLASSIFIER, MODEL)
