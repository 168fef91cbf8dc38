"""Validate and normalize a copy request: `{modelId, source?, targets?, targetModelId?}` → a `CopyPlan`.

Why here and pure: the HTTP trigger must answer 400 before anything starts, the Event Grid trigger must drop a
malformed event with a clear log line, and the parent orchestrator re-validates input started directly through
the Durable API. All three use this one function, so the rules cannot drift. Requests name aliases only; endpoints
and credentials come from settings, never from a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.steps import validate_model_id

V2_VERSIONS = frozenset({"v2.0", "v2.1"})
V3_PLUS_VERSIONS = frozenset({"2022-08-31", "2023-07-31", "2024-11-30"})
_ALLOWED_KEYS = frozenset({"modelId", "source", "targets", "targetModelId"})


class RequestError(ValueError):
    """A copy request that cannot be run; `code` is stable, `message` says what to change."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class ResourceView:
    """The non-secret facts about one configured resource that planning needs."""

    api_version: str
    cmk: bool = False


@dataclass(frozen=True)
class CopyPlan:
    """A validated request: one source model, one or more distinct targets, aliases known to settings."""

    model_id: str
    source: str
    targets: tuple[str, ...]
    target_model_id: str | None = None

    def to_input(self) -> dict[str, Any]:
        """The parent orchestration's input (aliases and ids only)."""
        data: dict[str, Any] = {"modelId": self.model_id, "source": self.source, "targets": list(self.targets)}
        if self.target_model_id is not None:
            data["targetModelId"] = self.target_model_id
        return data


def is_v2(api_version: str) -> bool:
    """v2.0 / v2.1: service-assigned GUID model ids, no caller-chosen target id."""
    return api_version in V2_VERSIONS


def model_id_problem(api_version: str, model_id: str) -> str | None:
    """Why `model_id` cannot exist on a resource of `api_version`, or None if it can (ferry.steps' rule)."""
    return validate_model_id(api_version, model_id)


def _alias_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise RequestError("InvalidRequest", f"'{field}' must be a list of resource aliases")
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise RequestError("InvalidRequest", f"'{field}' must contain non-empty alias strings only")
    return [item.strip() for item in items]


def plan_request(
    body: Any,
    resources: Mapping[str, ResourceView],
    *,
    default_source: str | None,
    default_targets: tuple[str, ...] | list[str] = (),
) -> CopyPlan:
    """Validate `body` against the configured `resources`; raise `RequestError` with a precise message."""
    if not isinstance(body, dict):
        raise RequestError("InvalidRequest", "the request body must be a JSON object like "
                           '{"modelId": "...", "source": "<alias>", "targets": ["<alias>"]}')
    unknown = sorted(set(body) - _ALLOWED_KEYS)
    if unknown:
        raise RequestError("InvalidRequest", f"unknown field(s) {', '.join(unknown)}; allowed: "
                           "modelId, source, targets, targetModelId (aliases only, never URLs or keys)")
    model_id = body.get("modelId")
    if not isinstance(model_id, str) or not model_id.strip():
        raise RequestError("MissingModelId", "'modelId' is required: the id of the model to copy from the source")
    model_id = model_id.strip()
    known = ", ".join(sorted(resources)) or "(none configured)"

    source = body.get("source", None)
    if source is None:
        source = default_source
        if not source:
            raise RequestError("MissingSource", "no 'source' in the request and FERRY_SOURCE is not set; "
                               f"name one of: {known}")
    if not isinstance(source, str) or not source.strip():
        raise RequestError("InvalidRequest", "'source' must be a resource alias string")
    source = source.strip()
    if source not in resources:
        raise RequestError("UnknownAlias", f"source '{source}' is not a configured resource; known: {known}")

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
        raise RequestError("DuplicateTargets", f"{origin} names {', '.join(dups)} more than once")
    unknown_targets = [t for t in targets if t not in resources]
    if unknown_targets:
        raise RequestError("UnknownAlias", f"target(s) {', '.join(unknown_targets)} are not configured "
                           f"resources; known: {known}")
    if source in targets:
        if body.get("targets") is None:
            # Defaults may include every region; the source is simply not a target of its own copy.
            targets = [t for t in targets if t != source]
            if not targets:
                raise RequestError("NoTargets", f"FERRY_TARGETS only names the source '{source}'")
        else:
            raise RequestError("SourceAmongTargets", f"'{source}' is the source and cannot also be a target")

    src_version = resources[source].api_version
    problem = model_id_problem(src_version, model_id)
    if problem:
        raise RequestError("InvalidModelId", f"source '{source}': {problem}")
    family_v2 = is_v2(src_version)
    mixed = [t for t in targets if is_v2(resources[t].api_version) != family_v2]
    if mixed:
        raise RequestError("IncompatibleApiVersions",
                           f"'{source}' uses {src_version} but {', '.join(mixed)} use "
                           f"{', '.join(sorted({resources[t].api_version for t in mixed}))}: the copy API cannot "
                           "move models between v2 and v3+ resources")

    target_model_id = body.get("targetModelId")
    if target_model_id is not None:
        if not isinstance(target_model_id, str) or not target_model_id.strip():
            raise RequestError("InvalidRequest", "'targetModelId' must be a non-empty string when given")
        target_model_id = target_model_id.strip()
        v2_targets = [t for t in targets if is_v2(resources[t].api_version)]
        if v2_targets:
            raise RequestError("InvalidTargetModelId", f"{', '.join(v2_targets)} use a v2 API where the service "
                               "assigns the target model id; leave 'targetModelId' out")
        for t in targets:
            problem = model_id_problem(resources[t].api_version, target_model_id)
            if problem:
                raise RequestError("InvalidTargetModelId", f"targetModelId on '{t}': {problem}")
    return CopyPlan(model_id=model_id, source=source, targets=tuple(targets), target_model_id=target_model_id)


def degrade_needed(source: ResourceView, target: ResourceView) -> bool:
    """A copy from a CMK-encrypted resource to one without CMK downgrades protection and needs the header."""
    return bool(source.cmk) and not bool(target.cmk)


def resources_view(settings: Any) -> dict[str, ResourceView]:
    """alias → ResourceView from a validated `ferry.settings.Settings` (duck-typed)."""
    return {r.alias: ResourceView(api_version=r.api_version, cmk=bool(r.cmk)) for r in settings.resources}
