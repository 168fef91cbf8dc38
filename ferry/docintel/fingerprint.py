"""Model fingerprints: what lets us tell that a target model is the copy of a given source model.

Why: re-runs must be idempotent. When a v3+ target already has a model with the wanted ID (an earlier run,
a crashed host, an Event Grid duplicate), the copy counts as done only if that model IS the copy of this source
model; otherwise it is another model and must not be overwritten silently.

What a copy preserves (docs/service-facts.md, "What a copy keeps"):
- v2: the target reports the source's modelInfo.createdDateTime / lastUpdatedDateTime, modelName, keys,
  trainResult and composedTrainResults; only modelId differs (service-assigned GUID).
- v3/v4: createdDateTime and expirationDateTime equal the source's; docTypes keep their field schemas, build
  modes and confidences, but a doc type named after the model itself is renamed to the TARGET model id in
  2024 previews (kept as the source id in 2022/2023). description and tags come from the authorize request,
  so they are recorded but not compared.

So the fingerprint is {generation, createdDateTime, (expirationDateTime | lastUpdatedDateTime), digest of the
content that travels with the copy, and (v3+) the doc-type names with the model's own id as a placeholder},
plus small informational fields. It is JSON-able and small (≤ 50 doc-type names), fit for durable history.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

SELF = "<self>"
MAX_NAMES = 50  # doc-type names kept verbatim in a fingerprint (composed models can have hundreds)
_NOT_CONTENT_V2 = {"accessToken"}  # injected into old recordings by a sanitizer; never real content


def normalize_time(value: Any) -> str | None:
    """ISO-8601 → 'YYYY-MM-DDTHH:MM:SSZ' (UTC, whole seconds): the service and SDKs vary the fraction digits."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # Python < 3.12 accepts at most 6 fraction digits; the service writes 7
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits):]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """A service timestamp as an aware UTC datetime, or None (missing or unreadable): one reading for every
    comparison of expiry and age."""
    text = normalize_time(value)
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def digest(content: Any) -> str:
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _strip(value: Any, drop: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_strip(v, drop) for v in value]
    return value


def fingerprint_v2(model: dict[str, Any]) -> dict[str, Any]:
    """Fingerprint of a v2 `GET /custom/models/{id}?includeKeys=true` body."""
    info = model.get("modelInfo") or {}
    attributes = info.get("attributes") or {}
    content = _strip({"modelName": info.get("modelName"), "isComposed": bool(attributes.get("isComposed")),
                      "keys": model.get("keys"), "trainResult": model.get("trainResult"),
                      "composedTrainResults": model.get("composedTrainResults")}, _NOT_CONTENT_V2)
    train = model.get("trainResult") or {}
    return {
        "generation": "v2",
        "modelId": info.get("modelId"),
        "createdDateTime": normalize_time(info.get("createdDateTime")),
        "lastUpdatedDateTime": normalize_time(info.get("lastUpdatedDateTime")),
        "modelName": info.get("modelName"),
        "isComposed": content["isComposed"],
        "documentCount": len(train.get("trainingDocuments") or []),
        "digest": digest(content),
    }


def fingerprint_v3(model: dict[str, Any]) -> dict[str, Any]:
    """Fingerprint of a v3/v4 DocumentModelDetails body (GET documentModels/{id} or a copy operation result).

    Doc-type names are kept apart from their content: a copy into another model id may keep the source's id as
    the doc-type name (2022/2023) or rename it to the target id (2024), so names are compared in `is_copy_of`
    with both model ids mapped to the same placeholder, while `digest` covers only the content.
    """
    model_id = model.get("modelId")
    doc_types = {name: spec for name, spec in (model.get("docTypes") or {}).items() if isinstance(spec, dict)}
    names = sorted(SELF if name == model_id else name for name in doc_types)
    # Only what every API version renders the same way: field schemas and per-doc-type build modes (a v4
    # target may add top-level buildMode / warnings that a 2023-07-31 source does not show).
    specs = sorted(digest({"fieldSchema": spec.get("fieldSchema"), "buildMode": spec.get("buildMode")})
                   for spec in doc_types.values())
    fields = sum(len(spec.get("fieldSchema") or {}) for spec in doc_types.values())
    return {
        "generation": "v3",
        "modelId": model_id,
        "createdDateTime": normalize_time(model.get("createdDateTime")),
        "expirationDateTime": normalize_time(model.get("expirationDateTime")),
        "apiVersion": model.get("apiVersion"),
        "description": (model.get("description") or "")[:200] or None,
        "tags": dict(list((model.get("tags") or {}).items())[:10]) or None,
        "docTypeCount": len(names),
        "docTypes": names if len(names) <= MAX_NAMES else None,
        "namesDigest": digest(names),
        "fieldCount": fields,
        "digest": digest({"specs": specs, "classifierId": model.get("classifierId")}),
    }


def _names_match(source: dict[str, Any], target: dict[str, Any]) -> bool:
    if source.get("namesDigest") == target.get("namesDigest"):
        return True
    src_names, dst_names = source.get("docTypes"), target.get("docTypes")
    if not isinstance(src_names, list) or not isinstance(dst_names, list):
        return False
    ids = {source.get("modelId"), target.get("modelId")} - {None}
    return sorted(SELF if n in ids else n for n in src_names) == sorted(SELF if n in ids else n for n in dst_names)


def is_copy_of(source: dict[str, Any], target: dict[str, Any]) -> bool:
    """True when `target` (a fingerprint) describes a copy of the model `source` (a fingerprint) describes.

    Same generation, same (non-empty) createdDateTime, same content digest, and — when both sides carry it —
    the same expirationDateTime (v3+) or lastUpdatedDateTime (v2). Model ids, description and tags are not
    compared: the copy changes or may change them.
    """
    if not isinstance(source, dict) or not isinstance(target, dict):
        return False
    if source.get("generation") != target.get("generation"):
        return False
    for key in ("createdDateTime", "digest"):
        if not source.get(key) or source.get(key) != target.get(key):
            return False
    for key in ("expirationDateTime", "lastUpdatedDateTime"):
        if source.get(key) and target.get(key) and source[key] != target[key]:
            return False
    if source.get("generation") == "v3":
        return source.get("docTypeCount") == target.get("docTypeCount") and _names_match(source, target)
    return True
