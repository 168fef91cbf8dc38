"""Inventory of one resource: every custom artifact it holds, in the compact shape sync planning reads.

Why lists and not a GET per model: a 5,000-model estate must be planned within the service's list budget
(S0: 10 list calls per second, a page holds tens of models), and the list already carries what planning needs
— id, creation and expiry times, the API version the model was built with, tags (so provenance) in v3+;
creation/update times and name in v2. The item shape (`InventoryItem.to_dict()`) is the contract between this
module, `ferry.orchestration.sync_plan` (pure) and the replica catalog:

    {"id", "kind": "model", "created", "expires"?, "apiVersion"?, "status", "provenance"?,
     "lastUpdated"? (v2), "name"? (v2)}

Only ModelFerry's provenance is kept of a model's tags: history stays small, and other tags may be anyone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferry import auth as ferry_auth
from ferry import generations
from ferry.docintel import client_for, is_copy_of
from ferry.docintel.fingerprint import normalize_time
from ferry.errors import FerryError
from ferry.kinds.classifier import CLASSIFIER
from ferry.provenance import read_provenance
from ferry.settings import Resource, Settings, UnknownResourceError

KIND_MODEL = "model"
KIND_CLASSIFIER = CLASSIFIER.name


@dataclass(frozen=True)
class InventoryItem:
    """One artifact as listed by its resource."""

    id: str
    kind: str
    created: str | None
    status: str = "ready"
    expires: str | None = None
    api_version: str | None = None
    provenance: dict[str, Any] | None = None
    last_updated: str | None = None
    name: str | None = None
    fingerprint: dict[str, Any] | None = None  # classifiers: no tags, recognised by the fields a copy keeps

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "created": self.created, "status": self.status}
        for key, value in (("expires", self.expires), ("apiVersion", self.api_version),
                           ("provenance", self.provenance), ("lastUpdated", self.last_updated),
                           ("name", self.name), ("fingerprint", self.fingerprint)):
            if value is not None:
                out[key] = value
        return out


def model_item(generation: str, listed: dict[str, Any]) -> InventoryItem:
    """The inventory item of one entry of a model list (v2 ModelInfo or v3+ DocumentModelSummary)."""
    if generation == "v2":
        return InventoryItem(id=str(listed.get("modelId")), kind=KIND_MODEL, created=listed.get("createdDateTime"),
                             status=str(listed.get("status") or "creating"),
                             last_updated=listed.get("lastUpdatedDateTime"), name=listed.get("modelName"))
    provenance = read_provenance(listed.get("tags"))
    return InventoryItem(id=str(listed.get("modelId")), kind=KIND_MODEL, created=listed.get("createdDateTime"),
                         expires=listed.get("expirationDateTime"), api_version=listed.get("apiVersion"),
                         provenance=provenance.to_dict() if provenance else None)


def classifier_item(listed: dict[str, Any]) -> InventoryItem:
    """The inventory item of one entry of a classifier list (2024-11-30 lists the details a copy keeps)."""
    return InventoryItem(id=str(listed.get("classifierId")), kind=KIND_CLASSIFIER,
                         created=listed.get("createdDateTime"), expires=listed.get("expirationDateTime"),
                         api_version=listed.get("apiVersion"), fingerprint=CLASSIFIER.fingerprint(listed))


def inventory(settings: Settings, alias: str) -> dict[str, Any]:
    """Every custom model of resource `alias` plus its model count and limit (info / list summary).

    Returns {"alias", "resourceId", "generation" (the copy family: "v2" | "v3"), "apiVersion", "count", "limit"
    (of models), "items": [item dicts], "classifierCopy": None when the resource can copy classifiers (they are
    then listed too), else why not}.
    Service failures raise `FerryError` (a throttled page is retried inside the client first)."""
    resource = _resource(settings, alias)
    client = client_for(resource, ferry_auth.authenticator(resource, settings))
    family = generations.copy_family(resource.api_version)
    items = [model_item(family, listed).to_dict() for listed in client.list_models()]
    info = client.get_info()
    models = len(items)
    refusal = CLASSIFIER.copy_refusal(resource.api_version, resource.region)
    if refusal is None:  # classifiers are listed only where the service can copy them
        items += [classifier_item(listed).to_dict() for listed in client.list_models(CLASSIFIER)]
    return {"alias": alias, "resourceId": resource.resource_id, "generation": family,
            "apiVersion": resource.api_version, "count": info.get("count") if info.get("count") is not None
            else models, "limit": info.get("limit"), "items": items, "classifierCopy": refusal}


def _resource(settings: Settings, alias: str) -> Resource:
    try:
        return settings.resource(alias)
    except UnknownResourceError as exc:
        raise FerryError(kind="terminal", code="UnknownResource", message=str(exc),
                         hint="Name a resource alias defined in FERRY_RESOURCES.", operation="inventory",
                         resource=str(alias)) from exc


def verify_untagged_copies(settings: Settings, source: dict[str, Any], target: dict[str, Any]) -> int:
    """Mark the target's models that carry no provenance but look like copies of the source model with the same
    id (same creation time): `"verifiedCopy"` is set from the copy workflow's fingerprint comparison (a GET of
    both models). Copies made before provenance tags are thereby recognised; a model made by hand is not.
    Returns how many models were checked (normally none: ModelFerry's copies carry provenance)."""
    if source.get("generation") != "v3" or target.get("generation") != "v3":
        return 0
    by_id = {item["id"]: item for item in source.get("items", []) if item.get("kind") == KIND_MODEL}
    candidates = [item for item in target.get("items", []) if item.get("kind") == KIND_MODEL
                  and item.get("provenance") is None
                  and item["id"] in by_id and same_time(item.get("created"), by_id[item["id"]].get("created"))]
    if not candidates:
        return 0
    src, dst = _resource(settings, source["alias"]), _resource(settings, target["alias"])
    source_client = client_for(src, ferry_auth.authenticator(src, settings))
    target_client = client_for(dst, ferry_auth.authenticator(dst, settings))
    for item in candidates:
        source_model, target_model = source_client.get_model(item["id"]), target_client.get_model(item["id"])
        item["verifiedCopy"] = bool(source_model and target_model and is_copy_of(
            source_client.fingerprint(source_model), target_client.fingerprint(target_model)))
    return len(candidates)


def same_time(a: Any, b: Any) -> bool:
    """Whether two service timestamps name the same second (the service varies the fraction digits)."""
    return bool(a) and bool(b) and normalize_time(a) == normalize_time(b)


def prune_replica(settings: Settings, source: str, target: str, target_model_id: str,
                  source_model_id: str) -> dict[str, Any]:
    """Delete a target model the plan found orphaned, after checking again that it still is ModelFerry's copy
    (v3+: its provenance names this source resource and model) and that its source model is still gone.

    Returns {"deleted": bool, "skipped"?: reason}: between the plan and this step the source may have been
    rebuilt or the target model replaced; then nothing is deleted."""
    src, dst = _resource(settings, source), _resource(settings, target)
    target_client = client_for(dst, ferry_auth.authenticator(dst, settings))
    found = target_client.get_model(target_model_id)
    if found is None:
        return {"deleted": False, "skipped": "TargetModelGone"}
    if not dst.is_v2:
        provenance = read_provenance(found.get("tags"))
        if provenance is None or not provenance.is_from(src.resource_id) or \
                provenance.source_model_id != source_model_id:
            return {"deleted": False, "skipped": "NotAModelFerryCopy"}
    source_client = client_for(src, ferry_auth.authenticator(src, settings))
    if source_client.get_model(source_model_id) is not None:
        return {"deleted": False, "skipped": "SourceModelExists"}
    return {"deleted": target_client.delete_model(target_model_id)}
