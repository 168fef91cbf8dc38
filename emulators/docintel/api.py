"""Handlers: a matched request → backend call → status, body and headers (wire format)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import copying, errors, wire
from .backend import ResourceBackend
from .routes import CLASSIFIER_OPERATIONS, Match


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    request_id: str

    def json(self, family: str) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise (errors.v2_bad_request("The request body is not valid JSON.") if family == "v2" else
                   errors.v3_invalid("The request body is not valid JSON.", "InvalidContent")) from None

    def first(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _page(request: Request, items: list[Any], page_size: int) -> tuple[list[Any], int | None]:
    token = request.first("nextLink") or request.first("$skipToken")
    try:
        start = int(token.split("!")[1]) if token else 0
    except (IndexError, ValueError):
        raise errors.route_not_found(f"nextLink token {token!r} was not issued by this emulator") from None
    end = start + page_size
    return items[start:end], (end if end < len(items) else None)


def handle(backend: ResourceBackend, match: Match, request: Request) -> Response:
    api, op, params = match.api, match.operation, match.params
    now = backend.world.now()
    degrade = request.headers.get("x-ms-forms-copy-degrade", "").strip().lower() == "true"
    if api.is_v2:
        if op == "train":
            model = backend.v2_train(api, request.json("v2"))
            return Response(201, None, {"Location": backend.model_url(api, model.model_id)})
        if op == "compose":
            model = backend.v2_compose(api, request.json("v2"))
            return Response(201, None, {"Location": backend.model_url(api, model.model_id)})
        if op == "getInfo":
            models = backend.family_models("v2")
            last = max((m.last_updated for m in models), default=now)
            return Response(200, {"summary": wire.v2_summary(len(models), backend.settings.model_limit, last)})
        if op == "listModels":
            mode = (request.first("op", "full") or "full").lower()
            if mode != "full":
                raise errors.v2_bad_request(f"Query parameter 'op' must be 'full' or 'summary', got '{mode}'.")
            models = backend.family_models("v2")
            page, nxt = _page(request, models, backend.settings.page_size)
            last = max((m.last_updated for m in models), default=now)
            link = f"{backend.endpoint}{api.prefix}/custom/models?op=full&nextLink={quote(f'2!{nxt}!')}" if nxt else ""
            return Response(200, {"summary": wire.v2_summary(len(models), backend.settings.model_limit, last),
                                  "modelList": [wire.v2_model_info(m, api) for m in page], "nextLink": link})
        if op == "authorizeCopy":
            if request.body.strip():
                raise errors.v2_bad_request("copyAuthorization takes no request body.")
            auth = backend.v2_authorize(api)
            return Response(201, wire.v2_copy_authorization(auth.payload),
                            {"Location": backend.model_url(api, auth.model_id)})
        if op == "getModel":
            return Response(200, wire.v2_model(backend.get_model(api, params["model_id"]), api))
        if op == "deleteModel":
            backend.delete_model(api, params["model_id"])
            return Response(204)
        if op == "copy":
            job = copying.start_v2_copy(backend, api, params["model_id"], request.json("v2"), degrade)
            location = f"{backend.model_url(api, params['model_id'])}/copyresults/{job.op_id}"
            return Response(202, None, {"Operation-Location": location})
        if op == "getCopyResult":
            job = backend.get_copy_result(params["model_id"], params["result_id"])
            body = wire.v2_copy_result(job, now, request.request_id)
            headers = {}
            if body["status"] == "failed" and job.failure is not None:
                headers["ms-azure-ai-errorcode"] = job.failure.v2_code
            return Response(200, body, headers)
    else:
        if op == "build":
            job = backend.v3_build(api, request.json("v3"), request.request_id)
            return Response(202, None, {"Operation-Location": backend.operation_url(api, job.op_id)})
        if op == "compose":
            job = backend.v3_compose(api, request.json("v3"), request.request_id)
            return Response(202, None, {"Operation-Location": backend.operation_url(api, job.op_id)})
        if op == "authorizeCopy":
            auth = backend.v3_authorize(api, request.json("v3"))
            return Response(200, dict(auth.payload))
        if op == "copy":
            job = copying.start_v3_copy(backend, api, params["model_id"], request.json("v3"), degrade)
            return Response(202, None, {"Operation-Location": backend.operation_url(api, job.op_id)})
        if op == "getModel":
            return Response(200, wire.v3_model(backend.get_model(api, params["model_id"]), api))
        if op == "deleteModel":
            backend.delete_model(api, params["model_id"])
            return Response(204)
        if op == "listModels":
            page, nxt = _page(request, backend.family_models("v3"), backend.settings.page_size)
            body: dict[str, Any] = {"value": [wire.v3_model(m, api, summary=True) for m in page]}
            if nxt:
                body["nextLink"] = (f"{backend.endpoint}{api.prefix}/documentModels?api-version={api.version}"
                                    f"&nextLink={quote(f'2!{nxt}!')}")
            return Response(200, body)
        if op == "getOperation":
            return Response(200, wire.v3_operation(backend.get_operation(params["op_id"]), now))
        if op == "listOperations":
            jobs = sorted(backend.jobs.values(), key=lambda j: j.created)
            page, nxt = _page(request, jobs, backend.settings.page_size)
            body = {"value": [wire.v3_operation(j, now, summary=True) for j in page]}
            if nxt:
                body["nextLink"] = (f"{backend.endpoint}{api.prefix}/operations?api-version={api.version}"
                                    f"&nextLink={quote(f'2!{nxt}!')}")
            return Response(200, body)
        if op == "getInfo":
            return Response(200, wire.v3_info(api, len(backend.family_models("v3")),
                                              backend.settings.model_limit, now))
        if op in CLASSIFIER_OPERATIONS:
            return _classifier(backend, match, request, degrade)
    raise errors.route_not_found(f"{op} is not served for api-version {api.version}")


def _classifier(backend: ResourceBackend, match: Match, request: Request, degrade: bool) -> Response:
    """documentClassifiers: build/get/list/delete (2023-07-31+), authorizeCopy/copyTo (2024-11-30)."""
    api, op, params = match.api, match.operation, match.params
    if op == "buildClassifier":
        job = backend.classifier_build(api, request.json("v3"), request.request_id)
        return Response(202, None, {"Operation-Location": backend.operation_url(api, job.op_id)})
    if op == "authorizeClassifierCopy":
        return Response(200, dict(backend.classifier_authorize(api, request.json("v3")).payload))
    if op == "copyClassifier":
        job = copying.start_classifier_copy(backend, api, params["classifier_id"], request.json("v3"), degrade)
        return Response(202, None, {"Operation-Location": backend.operation_url(api, job.op_id)})
    if op == "getClassifier":
        return Response(200, wire.v3_classifier(backend.get_classifier(params["classifier_id"]), api))
    if op == "deleteClassifier":
        backend.delete_classifier(params["classifier_id"])
        return Response(204)
    page, nxt = _page(request, backend.sorted_classifiers(), backend.settings.page_size)
    body: dict[str, Any] = {"value": [wire.v3_classifier(c, api) for c in page]}
    if nxt:
        body["nextLink"] = (f"{backend.endpoint}{api.prefix}/documentClassifiers?api-version={api.version}"
                            f"&nextLink={quote(f'2!{nxt}!')}")
    return Response(200, body)
