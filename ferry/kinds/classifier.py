"""Custom classifiers (`documentClassifiers`, copy from API 2024-11-30 on): paths, copy rules, fingerprint.

Facts (docs/service-facts.md): authorizeCopy `{classifierId, description?, tags?}` → `{targetClassifierId, …,
accessToken, expirationDateTime}`; `:copyTo` → 202 + operation `documentClassifierCopyTo`. Classifier copy works
only at 2024-11-30 (2023-07-31 has classifiers but no copy) and only to and from East US, West US 2 and West
Europe. A classifier has no tags, so a copy cannot be marked: it is recognised by its id and the fields a copy
keeps — `modifiedDateTime`, `expirationDateTime`, `description` and the doc types (a copy gets a NEW
`createdDateTime`, the copy's time, so that one is not compared).
"""

from __future__ import annotations

from typing import Any

from ferry.kinds import CLASSIFIER_KIND, Dependency, Kind

COPY_REGIONS: tuple[str, ...] = ("eastus", "westus2", "westeurope")
"""Regions where the service copies custom classifiers (to and from)."""
COPY_API_VERSIONS: tuple[str, ...] = ("2024-11-30",)
"""API versions with classifier copy (`documentClassifiers:authorizeCopy` / `:copyTo`)."""


def _doc_types(details: dict[str, Any]) -> dict[str, Any]:
    """Doc types with the source kind written one way (the live service writes `kind`, the spec `sourceKind`)."""
    out: dict[str, Any] = {}
    for name, spec in (details.get("docTypes") or {}).items():
        if isinstance(spec, dict):
            spec = dict(spec)
            source_kind = spec.pop("kind", None) or spec.pop("sourceKind", None)
            spec.pop("sourceKind", None)
            out[name] = {"sourceKind": source_kind, **spec}
    return out


def fingerprint(details: dict[str, Any]) -> dict[str, Any]:
    """Fingerprint of a DocumentClassifierDetails body (GET documentClassifiers/{id} or a copy's result)."""
    from ferry.docintel.fingerprint import digest, normalize_time  # here: importing the kinds stays client-free
    doc_types = _doc_types(details)
    return {
        "generation": "classifier",
        "classifierId": details.get("classifierId"),
        "createdDateTime": normalize_time(details.get("createdDateTime")),  # informational: a copy's is new
        "modifiedDateTime": normalize_time(details.get("modifiedDateTime")),
        "expirationDateTime": normalize_time(details.get("expirationDateTime")),
        "apiVersion": details.get("apiVersion"),
        "description": details.get("description"),
        "docTypes": sorted(doc_types)[:50],
        "digest": digest(doc_types),
    }


def is_copy_of(source: dict[str, Any], target: dict[str, Any]) -> bool:
    """True when the classifier `target` (fingerprint) is a copy of `source` (fingerprint): same modifiedDateTime,
    expirationDateTime, description and doc types (the id is the one it was looked up by; a copy may be made
    under another id, as in the recorded traffic)."""
    if not isinstance(source, dict) or not isinstance(target, dict):
        return False
    if source.get("generation") != "classifier" or target.get("generation") != "classifier":
        return False
    if not source.get("expirationDateTime") or not source.get("digest"):
        return False
    return all(source.get(key) == target.get(key) for key in
               ("modifiedDateTime", "expirationDateTime", "description", "digest"))


def _no_dependencies(details: dict[str, Any]) -> list[Dependency]:
    return []


CLASSIFIER = Kind(
    name=CLASSIFIER_KIND, request_field="classifierId", collection="documentClassifiers",
    target_id_field="targetClassifierId", build_operations=frozenset({"documentClassifierBuild"}),
    api_versions=COPY_API_VERSIONS, regions=COPY_REGIONS, fingerprint=fingerprint, is_copy_of=is_copy_of,
    dependencies=_no_dependencies)
