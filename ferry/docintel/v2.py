"""Form Recognizer v2.0 / v2.1 copy client (`{endpoint}/formrecognizer/v2.x/custom/models...`).

Wire facts (docs/service-facts.md): authorize = POST copyAuthorization with no body → 201 + Location + {modelId,
accessToken, expirationDateTimeTicks}; copy = POST custom/models/{id}/copy with {targetResourceId,
targetResourceRegion, copyAuthorization} → 202 + Operation-Location …/copyresults/{resultId}; a failed copy is
an HTTP 200 poll with status "failed", copyResult.errors[] and header ms-azure-ai-errorcode; v2.0-preview
reported `copyResult: {}` on success, so the authorization's modelId is the fallback target id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from ferry.docintel.base import CopyAuthorization, CopyStatus, DocIntelClient, decode_v2_expiry
from ferry.docintel.fingerprint import fingerprint_v2
from ferry.errors import classify, parse_retry_after
from ferry.generations import V2_MODEL_ID
from ferry.kinds import Kind
from ferry.settings import Resource

MODEL_ID = V2_MODEL_ID
_OPERATION_PATH = re.compile(r"^/formrecognizer/v2\.[01][^/]*/custom/models/[^/]+/copyresults/[^/]+$", re.IGNORECASE)
_STATUS = {"notstarted": "notStarted", "running": "running", "succeeded": "succeeded", "failed": "failed"}


class V2Client(DocIntelClient):
    generation = "v2"
    id_pattern = MODEL_ID

    @property
    def base(self) -> str:
        return f"{self.resource.endpoint}/formrecognizer/{self.api_version}"

    def _model_url(self, model_id: str, kind: Kind | None = None) -> str:
        self.only_models(kind, "get_model")
        return f"{self.base}/custom/models/{quote(model_id, safe='')}"

    def _model_read_url(self, model_id: str, kind: Kind | None = None) -> str:
        return f"{self._model_url(model_id, kind)}?includeKeys=true"

    def list_models(self, kind: Kind | None = None) -> Iterator[dict[str, Any]]:
        """GET custom/models?op=full, page by page: each `modelList` entry is a ModelInfo."""
        self.only_models(kind, "list_models")
        yield from self._list_items(f"{self.base}/custom/models?op=full", "list_models", "modelList")

    def get_info(self) -> dict[str, int | None]:
        """GET custom/models?op=summary → summary {count, limit}."""
        return self._count_and_limit(f"{self.base}/custom/models?op=summary", "summary")

    def model_status(self, model: dict[str, Any]) -> str:
        return str((model.get("modelInfo") or {}).get("status") or "creating")

    def fingerprint(self, model: dict[str, Any], kind: Kind | None = None) -> dict[str, Any]:
        return fingerprint_v2(model)

    def authorize_copy(self, *, model_id: str | None, description: str | None = None,
                       tags: dict[str, str] | None = None, kind: Kind | None = None) -> CopyAuthorization:
        op = "authorize_copy"
        self.only_models(kind, op)
        if model_id is not None:
            raise self._error("TargetModelIdNotSupported",
                              f"API version {self.api_version} assigns target model ids itself; "
                              f"{model_id!r} cannot be chosen",
                              "Leave the target model ID out for v2 resources; the result reports the id the "
                              "service assigned.", op)
        response = self._call("POST", f"{self.base}/custom/models/copyAuthorization", operation=op,
                              expected=(200, 201))
        payload = self._json(response, op)
        target_id = payload.get("modelId") if isinstance(payload, dict) else None
        if not target_id or "accessToken" not in payload:
            raise self._error("InvalidAuthorization", "the copy authorization response lacks modelId/accessToken",
                              "Check the target's endpoint and apiVersion in FERRY_RESOURCES.", op,
                              status=response.status_code)
        return CopyAuthorization(raw=response.content, payload=payload, target_model_id=str(target_id),
                                 expires_at=decode_v2_expiry(payload.get("expirationDateTimeTicks")))

    def start_copy(self, model_id: str, authorization: CopyAuthorization, *, target: Resource,
                   degrade: bool = False, kind: Kind | None = None) -> str:
        op = "copy"
        self.only_models(kind, op)
        # The authorization goes in as the service wrote it (spliced, not re-serialised).
        head = json.dumps({"targetResourceId": target.resource_id, "targetResourceRegion": target.region})
        body = head[:-1].encode() + b', "copyAuthorization": ' + authorization.raw.strip() + b"}"
        headers = {"x-ms-forms-copy-degrade": "true"} if degrade else None
        response = self._call("POST", f"{self._model_url(model_id)}/copy", operation=op, expected=(202,),
                              data=body, headers=headers)
        return self._operation_location(response, op)

    def get_copy_status(self, operation_url: str, *, target_model_id: str | None = None) -> CopyStatus:
        op = "poll_copy"
        response, body, word = self._read_copy_operation(operation_url, _OPERATION_PATH)
        status = _STATUS.get(word.lower(), "running")
        copy_result = body.get("copyResult") if isinstance(body.get("copyResult"), dict) else {}
        target_id = copy_result.get("modelId") or target_model_id
        error = None
        if status == "failed":
            error = classify(status=response.status_code, headers=response.headers, body=body,
                             api_version=self.api_version, operation=op, resource=self.resource.alias)
        return CopyStatus(status=status, target_model_id=target_id, error=error,
                          retry_after=parse_retry_after(response.headers), service_status=word or None)
