"""Document Intelligence v3.0 / v3.1 / v4.0 copy client (2022-08-31, 2023-07-31 under `/formrecognizer`,
2024-11-30 under `/documentintelligence`, all with `?api-version=`).

Wire facts (docs/service-facts.md): authorize = POST documentModels:authorizeCopy {modelId, description?, tags?} → 200
with the 6-field authorization; copy = POST documentModels/{id}:copyTo with the authorization verbatim → 202 +
Operation-Location …/operations/{opId}?api-version=…; poll = GET that URL → {status, result | error}; statuses
notStarted, running, succeeded, failed, canceled (+ skipped in 2024-11-30); failures carry a top-level error
with innererror.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from ferry import generations
from ferry.docintel.base import CopyAuthorization, CopyStatus, DocIntelClient
from ferry.errors import canceled_error, classify, parse_retry_after
from ferry.kinds import Kind
from ferry.kinds.model import MODEL
from ferry.settings import Resource

MODEL_ID = generations.V3_MODEL_ID
_OPERATION_PATH = re.compile(r"^/(formrecognizer|documentintelligence)/operations/[^/]+$", re.IGNORECASE)
MAX_OPERATION_PAGES = 20  # the operations list holds 24 h of operations; stop looking after this many pages
PREBUILT_PREFIX = "prebuilt-"  # the service's own models, listed with the custom ones; never copied
_STATUS = {"notstarted": "notStarted", "running": "running", "succeeded": "succeeded", "failed": "failed",
           "canceled": "failed", "cancelled": "failed", "skipped": "failed"}


class V3Client(DocIntelClient):
    generation = "v3"
    id_pattern = MODEL_ID

    @property
    def base(self) -> str:
        return f"{self.resource.endpoint}{generations.path_prefix(self.api_version)}"

    @property
    def query(self) -> str:
        return f"api-version={self.api_version}"

    def _model_url(self, model_id: str, kind: Kind | None = None, suffix: str = "") -> str:
        return f"{self.base}/{(kind or MODEL).collection}/{quote(model_id, safe='')}{suffix}?{self.query}"

    def list_models(self, kind: Kind | None = None) -> Iterator[dict[str, Any]]:
        """GET documentModels (or the collection of `kind`, e.g. documentClassifiers), page by page (`value`,
        `nextLink`); prebuilt models are left out."""
        kind = kind or MODEL
        for item in self._list_items(f"{self.base}/{kind.collection}?{self.query}", "list_models", "value"):
            if not str(item.get(kind.request_field, "")).startswith(PREBUILT_PREFIX):
                yield item

    def get_info(self) -> dict[str, int | None]:
        """GET info → customDocumentModels {count, limit}."""
        return self._count_and_limit(f"{self.base}/info?{self.query}", "customDocumentModels")

    def model_status(self, model: dict[str, Any]) -> str:
        """A v3+ model is visible only once ready, except what an interrupted copy (3013) leaves behind: a
        model without doc types (and, in the emulator's v4 rendering, a *Incomplete warning) → "invalid"."""
        warnings = model.get("warnings") or []
        if any("incomplete" in str((w or {}).get("code", "")).lower() for w in warnings if isinstance(w, dict)):
            return "invalid"
        return "ready" if model.get("docTypes") else "invalid"

    def fingerprint(self, model: dict[str, Any], kind: Kind | None = None) -> dict[str, Any]:
        return (kind or MODEL).fingerprint(model)

    def find_build(self, model_id: str, kind: Kind | None = None) -> dict[str, Any] | None:
        """The latest build/compose operation (summary) of `model_id` (an artifact of `kind`) on this resource.

        Why: in v3+ a model being built does not exist yet (GET answers 404); the source's operations list
        (kept 24 h) tells "still being built" and "its build failed" apart from "no such model"."""
        op = "list_operations"
        url: str | None = f"{self.base}/operations?{self.query}"
        latest: dict[str, Any] | None = None
        kind = kind or MODEL
        for _ in range(MAX_OPERATION_PAGES):
            if url is None:
                break
            body = self._json(self._call("GET", url, operation=op), op)
            body = body if isinstance(body, dict) else {}
            for summary in body.get("value") or []:
                if (isinstance(summary, dict) and summary.get("kind") in kind.build_operations
                        and _artifact_id_from(summary.get("resourceLocation"), kind) == model_id
                        and (latest is None or str(summary.get("createdDateTime") or "")
                             >= str(latest.get("createdDateTime") or ""))):
                    latest = summary
            url = body.get("nextLink") if isinstance(body.get("nextLink"), str) else None
        return latest

    def build_error(self, operation_id: str) -> dict[str, Any]:
        """The error object of a failed build/compose operation (`{code, message, innererror?}`)."""
        op = "get_operation"
        body = self._json(self._call("GET", f"{self.base}/operations/{quote(operation_id, safe='')}?{self.query}",
                                     operation=op), op)
        error = body.get("error") if isinstance(body, dict) else None
        return error if isinstance(error, dict) else {}

    def authorize_copy(self, *, model_id: str | None, description: str | None = None,
                       tags: dict[str, str] | None = None, kind: Kind | None = None) -> CopyAuthorization:
        op = "authorize_copy"
        kind = kind or MODEL
        if not model_id:
            raise self._error("TargetModelIdRequired", "a target model id is required for v3+ authorizeCopy",
                              "Pass the target model ID (by default the source model ID).", op)
        body: dict[str, Any] = {kind.request_field: model_id}
        if description:
            body["description"] = description
        if tags:
            body["tags"] = tags
        response = self._call("POST", f"{self.base}/{kind.collection}:authorizeCopy?{self.query}", operation=op,
                              json_body=body)
        payload = self._json(response, op)
        if not isinstance(payload, dict) or "accessToken" not in payload or kind.target_id_field not in payload:
            raise self._error("InvalidAuthorization", "the authorizeCopy response is not a copy authorization",
                              "Check the target's endpoint and apiVersion in FERRY_RESOURCES.", op,
                              status=response.status_code)
        return CopyAuthorization(raw=response.content, payload=payload,
                                 target_model_id=str(payload[kind.target_id_field]),
                                 expires_at=payload.get("expirationDateTime"))

    def compose(self, body: dict[str, Any]) -> str:
        """POST documentModels:compose (a 2024-11-30 composed model: `ferry.kinds.composed.compose_request`);
        returns the Operation-Location URL of the compose operation on this resource."""
        op = "compose"
        response = self._call("POST", f"{self.base}/documentModels:compose?{self.query}", operation=op,
                              expected=(202,), json_body=body)
        return self._operation_location(response, op)

    def start_copy(self, model_id: str, authorization: CopyAuthorization, *, target: Resource,
                   degrade: bool = False, kind: Kind | None = None) -> str:
        op = "copy"
        headers = {"x-ms-forms-copy-degrade": "true"} if degrade else None
        response = self._call("POST", self._model_url(model_id, kind, ":copyTo"), operation=op, expected=(202,),
                              data=authorization.raw, headers=headers)
        return self._operation_location(response, op)

    def get_copy_status(self, operation_url: str, *, target_model_id: str | None = None) -> CopyStatus:
        op = "poll_copy"
        response, body, word = self._read_copy_operation(operation_url, _OPERATION_PATH)
        status = _STATUS.get(word.lower(), "running")
        result = body.get("result") if isinstance(body.get("result"), dict) else None
        target_id = ((result or {}).get("modelId") or (result or {}).get("classifierId")
                     or _artifact_id_from(body.get("resourceLocation")) or target_model_id)
        error = None
        if status == "failed":
            if isinstance(body.get("error"), dict):
                error = classify(status=response.status_code, headers=response.headers, body=body,
                                 api_version=self.api_version, operation=op, resource=self.resource.alias)
            else:
                error = canceled_error(api_version=self.api_version, operation=op, resource=self.resource.alias,
                                       status_text=word.lower() or "failed")
        return CopyStatus(status=status, target_model_id=target_id, error=error,
                          retry_after=parse_retry_after(response.headers), service_status=word or None,
                          result=result)


def _artifact_id_from(location: Any, kind: Kind | None = None) -> str | None:
    """The id at the end of a resourceLocation URL (…/documentModels/{id}?api-version=…, or
    …/documentClassifiers/{id}…); with `kind`, only a location in that kind's collection."""
    if not isinstance(location, str):
        return None
    path = urlsplit(location).path
    collections = [kind.collection] if kind else ["documentModels", "documentClassifiers"]
    for collection in collections:
        marker = f"/{collection}/"
        if marker in path:
            return path.rsplit(marker, 1)[1] or None
    return None
