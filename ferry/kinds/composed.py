"""Composed models of API 2024-11-30: their dependencies, and how to compose one again from its definition.

Why its own module: a 2024-11-30 composed model embeds an explicit classifier (`classifierId`) and points at
component models (`docTypes[*].modelId`); a replica without them is useless, and whether the service copies a
composed model in one operation is not documented. So the copy workflow first copies the dependencies under the
same ids, then the composed model; if the service refuses the composed copy, it composes the model again on the
target from the source's definition (`compose_request`). Older composed models (v2.1, 2022-08-31/2023-07-31)
carry their components inside and copy in one operation: they have no dependencies here.
"""

from __future__ import annotations

from typing import Any

from ferry.kinds import CLASSIFIER_KIND, MODEL_KIND, Dependency

# Settable fields of a compose request's doc type (ComposedDocumentTypeDetails), besides `modelId`.
DOC_TYPE_FIELDS = ("description", "confidenceThreshold", "features", "queryFields", "maxDocumentsToAnalyze")


def is_composed(details: dict[str, Any]) -> bool:
    """A 2024-11-30 composed model: it names a classifier."""
    return isinstance(details, dict) and bool(details.get("classifierId"))


def dependencies(details: dict[str, Any]) -> list[Dependency]:
    """The classifier first, then every component model (each once, in doc-type order)."""
    if not is_composed(details):
        return []
    found = [Dependency(CLASSIFIER_KIND, str(details["classifierId"]))]
    for spec in (details.get("docTypes") or {}).values():
        component = spec.get("modelId") if isinstance(spec, dict) else None
        if component and component != details.get("modelId"):
            dep = Dependency(MODEL_KIND, str(component))
            if dep not in found:
                found.append(dep)
    return found


def composition(details: dict[str, Any]) -> dict[str, Any] | None:
    """What a composed model is made of (classifier, doc type → component, split, settable fields), small and
    JSON-able for its fingerprint; None for a model that is not composed."""
    from ferry.docintel.fingerprint import digest  # here: importing the kinds stays client-free

    if not is_composed(details):
        return None
    return {"classifierId": details.get("classifierId"), "split": details.get("split") or "none",
            "components": {name: (spec or {}).get("modelId") for name, spec in
                           sorted((details.get("docTypes") or {}).items()) if isinstance(spec, dict)},
            # description and tags are not part of what it is made of (a copy takes them from its authorization,
            # and ModelFerry adds its provenance tags)
            "digest": digest({key: value for key, value in compose_request(details).items()
                              if key not in ("description", "tags")})}


def same_composition(source: dict[str, Any], target: dict[str, Any]) -> bool:
    """Two model fingerprints describe the same composition (a copy, or a re-composition from the definition)."""
    mine, theirs = (source or {}).get("composition"), (target or {}).get("composition")
    return bool(mine) and mine == theirs


# How the service refuses to copy a composed model (400 InvalidRequest, innererror InvalidModel). The answer is not
# documented: this is the emulator's inferred answer (docs/service-facts.md).
REFUSED_INNER_CODES = frozenset({"InvalidModel"})


def copy_refused(code: str | None, inner_code: str | None) -> bool:
    """Whether a failed copy POST of a composed model means "this service does not copy composed models"."""
    return code == "InvalidRequest" and inner_code in REFUSED_INNER_CODES


def compose_request(details: dict[str, Any]) -> dict[str, Any]:
    """The `documentModels:compose` body that composes this model again (same id, classifier, doc types with
    their component ids and settable fields, split, description, tags)."""
    doc_types = {}
    for name, spec in (details.get("docTypes") or {}).items():
        if isinstance(spec, dict):
            doc_types[name] = {"modelId": spec.get("modelId")} | {
                key: spec[key] for key in DOC_TYPE_FIELDS if spec.get(key) is not None}
    body: dict[str, Any] = {"modelId": details.get("modelId"), "classifierId": details.get("classifierId"),
                            "docTypes": doc_types}
    for key in ("split", "description", "tags"):
        if details.get(key):
            body[key] = details[key]
    return body
