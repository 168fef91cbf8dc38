"""HTTP trigger `start_copy`: `POST /api/copies` starts (or joins) a copy and answers 202 + check-status links.

Body: `{"modelId": "...", "source": "<alias>"?, "targets": ["<alias>", ...]?, "targetModelId": "..."?}`;
aliases only (endpoints and keys come from settings). Invalid input → 400 `{"error": {"code", "message"}}` and
nothing started; invalid settings → 500 naming the setting. Function-level auth (a function key in Azure).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from CopyOrchestrator.starting import start_or_join
from ferry import settings as ferry_settings
from ferry.orchestration.ids import request_instance_id
from ferry.orchestration.plan import RequestError, plan_request, resources_view

log = logging.getLogger("modelferry.triggers")

bp = df.Blueprint()


def _error(status: int, code: str, message: str) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"error": {"code": code, "message": message}}), status_code=status,
                             mimetype="application/json")


def _parse_body(req: func.HttpRequest) -> Any:
    raw = req.get_body() or b""
    if not raw.strip():
        raise RequestError("InvalidJson", 'the body is empty; send {"modelId": "...", "targets": ["<alias>"]}')
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError("InvalidJson", f"the body is not valid JSON ({exc})") from None


@bp.function_name("start_copy")
@bp.route(route="copies", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_copy(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Validate, derive the instance id from the normalized request, start or join, return 202."""
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        log.error("start_copy: invalid app settings: %s", exc)
        return _error(500, "InvalidSettings", str(exc))
    try:
        plan = plan_request(_parse_body(req), resources_view(settings), default_source=settings.source,
                            default_targets=settings.targets)
    except RequestError as exc:
        log.info("start_copy: rejected request: %s", exc)
        return _error(400, exc.code, exc.message)
    request = plan.to_input()
    instance_id, started = await start_or_join(client, request_instance_id(request), request,
                                               rerun_finished=True)
    log.info("start_copy: %s copy %s of model %s from %s to %s", "started" if started else "joined running",
             instance_id, plan.model_id, plan.source, ",".join(plan.targets))
    return client.create_check_status_response(req, instance_id)
