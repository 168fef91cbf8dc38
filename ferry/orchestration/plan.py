"""The one validation of a copy request: body bytes → JSON → `{modelId | classifierId, source?, targets?,
targetModelId?}` → a `CopyPlan`.

Why here and pure: the HTTP trigger must answer 400/413 before anything starts, the Event Grid trigger must drop
a malformed event with a clear log line, and the parent orchestration's plan step must refuse input started
directly through the Durable API. All of them call `plan_request` (the HTTP trigger first `read_body`), so the
rules exist once. Requests name aliases only; endpoints and credentials come from settings, never from a
request. A rejected request is a `RequestError`, a `FerryError` whose `to_dict()` is the `error` of the answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ferry.errors import FerryError
from ferry.generations import is_v2, validate_model_id
from ferry.kinds import CLASSIFIER_KIND, MODEL_KIND, kind_named
from ferry.kinds.classifier import CLASSIFIER

_ALLOWED_KEYS = frozenset({"modelId", "classifierId", "source", "targets", "targetModelId"})
# A copy request is a flat object of a few hundred bytes; anything far larger or deeper is not one, and refusing
# it before parsing keeps a hostile body from costing memory or recursion.
MAX_REQUEST_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
REQUEST_SHAPE = ('{"modelId": "..." | "classifierId": "...", "source": "<alias>"?, "targets": ["<alias>", ...]?, '
                 '"targetModelId": "..."?}')
_HINTS = {
    "InvalidJson": f"Send a JSON object such as {REQUEST_SHAPE} with Content-Type: application/json.",
    "RequestTooLarge": f"A copy request is a small JSON object; send {REQUEST_SHAPE}.",
    "InvalidRequest": f"Send a JSON object {REQUEST_SHAPE}: ids and aliases are strings, targets a list.",
    "MissingModelId": "Add 'modelId' (the id of the model to copy from the source resource) or 'classifierId' "
                      "(the id of the classifier to copy).",
    "AmbiguousArtifact": "Send either 'modelId' or 'classifierId': one copy request copies one model or one "
                         "classifier.",
    "ClassifierCopyNotSupported": f"Copy classifiers between resources at apiVersion "
                                  f"{' or '.join(CLASSIFIER.api_versions or ())} in the regions "
                                  f"{', '.join(CLASSIFIER.regions or ())} (set FERRY_RESOURCES, or name such "
                                  "resources in 'source' and 'targets').",
    "MissingSource": "Name the source resource in 'source' or set the app setting FERRY_SOURCE.",
    "NoTargets": "Name target resources in 'targets' or set the app setting FERRY_TARGETS.",
    "UnknownAlias": "Use aliases that are keys of the app setting FERRY_RESOURCES (or add the resource there).",
    "SourceAmongTargets": "Remove the source from 'targets': a model is not copied onto its own resource.",
    "DuplicateTargets": "Name each target once.",
    "InvalidModelId": "Send the id the model has on the source resource (v2: a GUID; v3+: 2-64 characters, "
                      "letters, digits and . _ ~ -, starting with a letter or digit).",
    "InvalidTargetModelId": "Leave 'targetModelId' out (the target gets the source's id) or send an id every "
                            "target's API version accepts.",
    "IncompatibleApiVersions": "Copy between resources of the same API family (v2 with v2, v3+ with v3+).",
}
# Nesting is counted on the brackets outside strings. A string runs to its closing quote or, unterminated, to the
# end of the body, so every match consumes what it scans and the pass stays linear on hostile input.
_STRING = re.compile(rb'"(?:[^"\\]|\\.|\\\Z)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class RequestError(FerryError):
    """A copy request that cannot be run: `code` is stable, `message` says what was wrong, `hint` what to do.

    `status` is the HTTP status a trigger answers with (400, or 413 for an oversized body)."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(kind="invalid_request", code=code, message=message,
                         hint=_HINTS.get(code, f"Correct the request: {REQUEST_SHAPE}."), status=status,
                         retryable=False, operation="validate_request")


def printable(value: Any, limit: int = 64) -> str:
    """A short, one-line ASCII rendering of a caller's value for a message or a log line (control characters
    escaped, so a value cannot forge log lines)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "…"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def read_body(raw: bytes | None) -> Any:
    """The JSON value of a request body, or `RequestError` (InvalidJson, or RequestTooLarge with status 413).

    Never raises anything else: size is checked first, nesting depth before parsing (a body of 100,000 nested
    arrays must be a 400, not a RecursionError)."""
    raw = raw or b""
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestError("RequestTooLarge", f"the body has {len(raw)} bytes; the limit is {MAX_REQUEST_BYTES} "
                           "bytes", status=413)
    if not raw.strip():
        raise RequestError("InvalidJson", "the body is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError("InvalidJson", f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_JSON_DEPTH:
        raise RequestError("InvalidJson", f"the body nests arrays/objects more than {MAX_JSON_DEPTH} levels "
                           "deep; a copy request is a flat object")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RequestError("InvalidJson", f"the body is not valid JSON ({printable(str(exc), 200)})") from exc


@dataclass(frozen=True)
class ResourceView:
    """The non-secret facts about one configured resource that validating a request needs (the degrade header
    is resolved from the settings by the plan step: `Settings.copy_degrade`). `region`: classifier copy is
    limited to a few regions."""

    api_version: str
    region: str = ""


@dataclass(frozen=True)
class CopyPlan:
    """A validated request: one source model (or classifier: `kind`), one or more distinct targets, aliases known
    to settings. `model_id` is the artifact's id whatever its kind."""

    model_id: str
    source: str
    targets: tuple[str, ...]
    target_model_id: str | None = None
    kind: str = MODEL_KIND

    def to_input(self) -> dict[str, Any]:
        """The parent orchestration's input (aliases and ids only): `modelId` or `classifierId`."""
        data: dict[str, Any] = {kind_named(self.kind).request_field: self.model_id, "source": self.source,
                                "targets": list(self.targets)}
        if self.target_model_id is not None:
            data["targetModelId"] = self.target_model_id
        return data




def _alias_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise RequestError("InvalidRequest", f"'{field}' must be a list of resource aliases, not "
                           f"{_type_name(value)}")
    bad = [item for item in items if not isinstance(item, str) or not item.strip()]
    if bad:
        raise RequestError("InvalidRequest", f"'{field}' must contain non-empty alias strings only (found "
                           f"{_type_name(bad[0]) if not isinstance(bad[0], str) else 'an empty string'})")
    return [item.strip() for item in items]


def _id_field(body: Mapping[str, Any], field: str, what: str) -> str | None:
    """The stripped string value of an id field, None when absent; a wrong type is InvalidRequest."""
    value = body.get(field)
    if field not in body:
        return None
    if not isinstance(value, str):
        raise RequestError("InvalidRequest", f"'{field}' must be a string ({what}), not {_type_name(value)}")
    return value.strip()


def _names(values: list[str]) -> str:
    return ", ".join(printable(v) for v in values)


def resolve_aliases(body: Mapping[str, Any], resources: Mapping[str, ResourceView], *, default_source: str | None,
                    default_targets: tuple[str, ...] | list[str] = ()) -> tuple[str, list[str]]:
    """The source and targets a request names, or the defaults (FERRY_SOURCE, FERRY_TARGETS without the source),
    checked against the configured `resources`: the alias rules every request (copy or sync) shares."""
    known = ", ".join(sorted(resources)) or "(none configured)"

    if body.get("source") is None:
        source = default_source
        if not source:
            raise RequestError("MissingSource", "no 'source' in the request and FERRY_SOURCE is not set; "
                               f"name one of: {known}")
    else:
        source = _id_field(body, "source", "a resource alias")
        if not source:
            raise RequestError("InvalidRequest", "'source' must be a non-empty resource alias")
    if source not in resources:
        raise RequestError("UnknownAlias", f"source {printable(source)} is not a configured resource; "
                           f"known: {known}")

    if body.get("targets") is None:
        targets = list(default_targets)
        origin = "FERRY_TARGETS"
    else:
        targets = _alias_list(body["targets"], "targets")
        origin = "'targets'"
    if not targets:
        raise RequestError("NoTargets", "no targets: give 'targets' in the request or set FERRY_TARGETS")
    dups = sorted({t for t in targets if targets.count(t) > 1})
    if dups:
        raise RequestError("DuplicateTargets", f"{origin} names {_names(dups)} more than once")
    unknown_targets = [t for t in targets if t not in resources]
    if unknown_targets:
        raise RequestError("UnknownAlias", f"target(s) {_names(unknown_targets[:5])} are not configured "
                           f"resources; known: {known}")
    if source in targets:
        if body.get("targets") is None:
            # Defaults may include every region; the source is simply not a target of its own request.
            targets = [t for t in targets if t != source]
            if not targets:
                raise RequestError("NoTargets", f"FERRY_TARGETS only names the source '{source}'")
        else:
            raise RequestError("SourceAmongTargets", f"'{source}' is the source and cannot also be a target")
    return source, targets


def plan_request(
    body: Any,
    resources: Mapping[str, ResourceView],
    *,
    default_source: str | None,
    default_targets: tuple[str, ...] | list[str] = (),
) -> CopyPlan:
    """Validate `body` against the configured `resources`; raise `RequestError` saying what is wrong."""
    if not isinstance(body, dict):
        raise RequestError("InvalidRequest", f"the request body must be a JSON object, not {_type_name(body)}")
    unknown = sorted(str(key) for key in set(body) - _ALLOWED_KEYS)
    if unknown:
        raise RequestError("InvalidRequest", f"unknown field(s) {_names(unknown[:5])}; allowed: "
                           "modelId or classifierId, source, targets, targetModelId (aliases only, never URLs or "
                           "keys)")
    kind = CLASSIFIER_KIND if body.get("classifierId") is not None else MODEL_KIND
    if kind == CLASSIFIER_KIND and body.get("modelId") is not None:
        raise RequestError("AmbiguousArtifact", "the request names both 'modelId' and 'classifierId'")
    field = kind_named(kind).request_field
    model_id = _id_field(body, field, f"the id of the {kind} to copy")
    if not model_id:
        raise RequestError("MissingModelId", f"'{field}' is required: the id of the {kind} to copy from the "
                           "source (or 'classifierId' for a classifier)" if kind == MODEL_KIND else
                           f"'{field}' must be a non-empty id")
    source, targets = resolve_aliases(body, resources, default_source=default_source,
                                      default_targets=default_targets)

    src_version = resources[source].api_version
    problem = validate_model_id(src_version, model_id, kind)
    if problem:
        raise RequestError("InvalidModelId", f"source '{source}': {problem}")
    if kind == CLASSIFIER_KIND:
        _check_classifier_copy(source, targets, resources, body)
    family_v2 = is_v2(src_version)
    mixed = [t for t in targets if is_v2(resources[t].api_version) != family_v2]
    if mixed:
        raise RequestError("IncompatibleApiVersions",
                           f"'{source}' uses {src_version} but {', '.join(mixed)} use "
                           f"{', '.join(sorted({resources[t].api_version for t in mixed}))}: the copy API cannot "
                           "move models between v2 and v3+ resources")

    target_model_id = _id_field(body, "targetModelId", "the id the copy gets on the targets") \
        if body.get("targetModelId") is not None else None
    if target_model_id is not None:
        if not target_model_id:
            raise RequestError("InvalidRequest", "'targetModelId' must be a non-empty string when given")
        v2_targets = [t for t in targets if is_v2(resources[t].api_version)]
        if v2_targets:
            raise RequestError("InvalidTargetModelId", f"{', '.join(v2_targets)} use a v2 API where the service "
                               "assigns the target model id; leave 'targetModelId' out")
        for t in targets:
            problem = validate_model_id(resources[t].api_version, target_model_id)
            if problem:
                raise RequestError("InvalidTargetModelId", f"targetModelId on '{t}': {problem}")
    return CopyPlan(model_id=model_id, source=source, targets=tuple(targets), target_model_id=target_model_id,
                    kind=kind)


def _check_classifier_copy(source: str, targets: list[str], resources: Mapping[str, ResourceView],
                           body: Mapping[str, Any]) -> None:
    """A classifier copy needs every resource at an API version with classifier copy, in a region with it; and
    a classifier keeps its id (no `targetModelId`)."""
    if body.get("targetModelId") is not None:
        raise RequestError("InvalidTargetModelId", "'targetModelId' does not apply to a classifier: a classifier "
                           "is copied under its own id; leave 'targetModelId' out")
    refused = [(role, alias, CLASSIFIER.copy_refusal(resources[alias].api_version, resources[alias].region))
               for role, alias in [("source", source)] + [("target", t) for t in targets]]
    refused = [(role, alias, why) for role, alias, why in refused if why]
    if refused:
        raise RequestError("ClassifierCopyNotSupported", "; ".join(
            f"{role} '{alias}': {why}" for role, alias, why in refused[:5]) +
            f". Classifier copy needs apiVersion {' or '.join(CLASSIFIER.api_versions or ())} and the regions "
            f"{', '.join(CLASSIFIER.regions or ())}")


def resources_view(settings: Any) -> dict[str, ResourceView]:
    """alias → ResourceView from a validated `ferry.settings.Settings` (duck-typed)."""
    return {r.alias: ResourceView(api_version=r.api_version, region=r.region) for r in settings.resources}
