"""``/_emulator/`` over HTTP: the same control operations as ``ResourceHandle``, for non-Python callers.

``GET /_emulator/`` describes the resource and lists every control route (method, path, URL, what it does).
Bodies are JSON; bad input → 400 ``{"error": "<what was wrong>"}``; unknown control path → 404 with the known ones.
No subscription key is needed (loopback only); nothing here is part of the Azure surface.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .state import iso_z

if TYPE_CHECKING:
    from .api import Request
    from .handle import ResourceHandle


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    value = json.loads(request.body)
    if not isinstance(value, dict):
        raise ValueError("the control request body must be a JSON object")
    return value


def _only(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ValueError(f"unknown field(s) {extra}; allowed: {sorted(allowed)}")
    return body


def _clock(h: ResourceHandle) -> dict[str, Any]:
    now = h.world.now()
    return {"now": now, "iso": iso_z(now)}


def _advance(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    seconds = _only(body, {"seconds"}).get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ValueError("'seconds' must be a non-negative number")
    h.world.clock.advance(float(seconds))
    with h.world.lock:
        h.world.tick()
    return _clock(h)


def _faults(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"errorRate", "dropRate", "slowRate", "status", "slowSeconds", "seed", "operations"})
    h.set_faults(error_rate=b.get("errorRate", 0.0), drop_rate=b.get("dropRate", 0.0),
                 slow_rate=b.get("slowRate", 0.0), status=b.get("status", 503),
                 slow_seconds=b.get("slowSeconds", 0.5), seed=b.get("seed"), operations=b.get("operations"))
    return h.faults.describe()


def _fault_next(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"operation", "count", "kind", "status", "seconds", "retryAfter"})
    if "operation" not in b:
        raise ValueError("'operation' is required (an operation name or '*')")
    h.fail_next(b["operation"], int(b.get("count", 1)), b.get("kind", "5xx"), status=int(b.get("status", 503)),
                seconds=float(b.get("seconds", 0.5)), retry_after=int(b.get("retryAfter", 1)))
    return h.faults.describe()


def _behaviour(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"behaviour", "count", "code", "message"})
    if "behaviour" not in b:
        raise ValueError("'behaviour' is required: normal, fail_3013, never_finish, fail or "
                         "expire_authorization")
    h.set_copy_behaviour(b["behaviour"], int(b.get("count", 1)), code=b.get("code"), message=b.get("message"))
    return {"queued": h.copy_behaviours()}


def _seed(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"family", "modelId", "modelName", "description", "tags", "labeled", "apiVersion"})
    fields = {k: v for k, v in {"model_name": b.get("modelName"), "description": b.get("description"),
                                "tags": b.get("tags"), "labeled": b.get("labeled"),
                                "api_version": b.get("apiVersion")}.items() if v is not None}
    model_id = h.seed_model(b.get("family", "v3"), b.get("modelId"), **fields)
    return h.model(model_id) or {}


def _seed_classifier(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"classifierId", "description", "docTypes", "apiVersion"})
    fields = {k: v for k, v in {"description": b.get("description"), "doc_types": b.get("docTypes"),
                                "api_version": b.get("apiVersion")}.items() if v is not None}
    classifier_id = h.seed_classifier(b.get("classifierId"), **fields)
    return h.classifier(classifier_id) or {}


def _seed_composed(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"modelId", "components", "apiVersion", "classifierId", "split", "description", "tags",
                     "modelName"})
    if "components" not in b:
        raise ValueError("'components' is required: a list of model ids, or {docType: modelId} for 2024-11-30")
    names = {"apiVersion": "api_version", "classifierId": "classifier_id", "split": "split",
             "description": "description", "tags": "tags", "modelName": "model_name"}
    fields = {names[k]: v for k, v in b.items() if k in names and v is not None}
    model_id = h.seed_composed(b.get("modelId"), components=b["components"], **fields)
    return h.model(model_id) or {}


def _composed_copy(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"mode"})
    if "mode" not in b:
        raise ValueError("'mode' is required: accept or refuse")
    h.set_composed_copy(b["mode"])
    return {"mode": h.composed_copy}


def _rotate(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    b = _only(body, {"key", "value"})
    which = b.get("key", "key1")
    return {"key": which, "value": h.rotate_key(which, b.get("value"))}


def _rate_limits(h: ResourceHandle, body: dict[str, Any]) -> dict[str, Any]:
    h.set_rate_limits(**_only(body, {"manage", "get", "list"}))
    return h.rate_limits()


def _reset(h: ResourceHandle) -> dict[str, Any]:
    h.reset()
    return {"reset": h.name}


# (method, path under /_emulator/) → (action, what it does). The one list: dispatch and the index both use it.
ROUTES: dict[tuple[str, str], tuple[Callable[..., Any], str]] = {
    ("GET", ""): (lambda h, b: _index(h), "this resource (endpoint, region, resource id) and these control routes"),
    ("GET", "models"): (lambda h, b: {"models": h.models()}, "every model, invalid ones included"),
    ("POST", "models"): (_seed, "seed a ready model {family, modelId, modelName, description, tags, labeled, "
                                "apiVersion}"),
    ("POST", "models/composed"): (_seed_composed, "seed a ready composed model {modelId, components, apiVersion, "
                                                  "classifierId, split, description, tags, modelName}"),
    ("GET", "classifiers"): (lambda h, b: {"classifiers": h.classifiers()}, "every classifier"),
    ("POST", "classifiers"): (_seed_classifier, "seed a ready classifier {classifierId, description, docTypes, "
                                                "apiVersion}"),
    ("GET", "composed-copy"): (lambda h, b: {"mode": h.composed_copy}, "whether a 2024-11-30 composed model copy "
                                                                        "is accepted"),
    ("PUT", "composed-copy"): (_composed_copy, "accept or refuse copying 2024-11-30 composed models {mode}"),
    ("GET", "operations"): (lambda h, b: {"operations": h.operations()}, "every operation (train, build, copy)"),
    ("GET", "requests"): (lambda h, b: {"requests": h.request_log(), "counts": h.request_counts()},
                          "the request log and counts per operation name"),
    ("DELETE", "requests"): (lambda h, b: (h.clear_request_log(), {"requests": []})[1], "clear the request log"),
    ("POST", "reset"): (lambda h, b: _reset(h), "forget models, operations, faults and the request log"),
    ("GET", "clock"): (lambda h, b: _clock(h), "the shared clock"),
    ("POST", "clock/advance"): (_advance, "move the shared clock {seconds}"),
    ("POST", "keys/rotate"): (_rotate, "regenerate a key {key: key1|key2, value?}"),
    ("GET", "faults"): (lambda h, b: h.faults.describe(), "the injected faults"),
    ("PUT", "faults"): (_faults, "inject random faults {errorRate, dropRate, slowRate, status, slowSeconds, seed, "
                                 "operations}"),
    ("POST", "faults/next"): (_fault_next, "fail the next request(s) {operation, count, kind, status, seconds, "
                                           "retryAfter}"),
    ("DELETE", "faults"): (lambda h, b: (h.clear_faults(), h.faults.describe())[1], "clear injected faults"),
    ("GET", "copy-behaviours"): (lambda h, b: {"queued": h.copy_behaviours()}, "queued copy behaviours"),
    ("POST", "copy-behaviours"): (_behaviour, "queue a copy behaviour {behaviour, count, code, message}"),
    ("GET", "rate-limits"): (lambda h, b: h.rate_limits(), "per-second limits per operation group"),
    ("PUT", "rate-limits"): (_rate_limits, "set per-second limits {manage, get, list} (null = unlimited)"),
}


def control_routes(handle: ResourceHandle) -> list[dict[str, str]]:
    """What ``GET /_emulator/`` lists: every control route with its absolute URL and what it does."""
    base = f"{handle.endpoint}/_emulator/"
    return [{"method": method, "path": f"/_emulator/{path}", "url": base + path, "does": does}
            for (method, path), (_, does) in ROUTES.items()]


def _index(h: ResourceHandle) -> dict[str, Any]:
    return {**h.describe(), "controlRoutes": control_routes(h)}


def dispatch(handle: ResourceHandle, request: Request) -> tuple[int, Any]:
    route = request.path[len("/_emulator"):].strip("/")
    entry = ROUTES.get((request.method, route))
    if entry is None:
        known = sorted(f"{m} /_emulator/{p}" for m, p in ROUTES)
        return 404, {"error": f"no control operation {request.method} /_emulator/{route}", "known": known}
    try:
        return 200, entry[0](handle, _body(request))
    except (ValueError, TypeError) as problem:
        return 400, {"error": str(problem)}
