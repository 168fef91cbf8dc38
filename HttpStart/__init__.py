"""HTTP trigger `start_copy`: `POST /api/copies` starts a new run of a copy (or joins its active run) and answers
202 + check-status links.

Body: `{"modelId" | "classifierId": "...", "source": "<alias>"?, "targets": ["<alias>", ...]?,
"targetModelId": "..."?}`;
aliases only (endpoints and keys come from settings). Every run gets its own instance id
`copy-<model>-<hash>~<run>` (see `ferry.orchestration.ids`), so past runs stay listed until purged. A body that is
not a valid request → 400 `{"error": FerryError.to_dict()}` and nothing started (413 above
`plan.MAX_REQUEST_BYTES`); invalid settings → 500 naming the setting. Function-level auth (a function key in
Azure).
"""

from __future__ import annotations

import json
import logging

import azure.durable_functions as df
import azure.functions as func

from CopyOrchestrator.starting import start_or_join_request
from ferry import errors
from ferry import settings as ferry_settings
from ferry.errors import FerryError
from ferry.orchestration.ids import request_prefix
from ferry.orchestration.plan import RequestError, plan_request, read_body, resources_view

log = logging.getLogger("modelferry.triggers")

bp = df.Blueprint()


def error_response(error: FerryError, status: int) -> func.HttpResponse:
    """`{"error": FerryError.to_dict()}` with `status`."""
    return func.HttpResponse(json.dumps({"error": error.to_dict()}), status_code=status,
                             mimetype="application/json")


def settings_error(exc: ferry_settings.SettingsError) -> FerryError:
    """The invalid-settings error of an HTTP starter (`ferry.errors.settings_error`, naming the first setting)."""
    return errors.settings_error(exc.setting, str(exc))


@bp.function_name("start_copy")
@bp.route(route="copies", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_copy(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Validate once, then join the request's active run or start its next run; answer 202."""
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        log.error("start_copy: invalid app settings: %s", exc)
        return error_response(settings_error(exc), 500)
    try:
        plan = plan_request(read_body(req.get_body()), resources_view(settings), default_source=settings.source,
                            default_targets=settings.targets)
    except RequestError as exc:
        log.info("start_copy: rejected request: %s: %s", exc.code, exc.message)
        return error_response(exc, exc.status or 400)
    request = plan.to_input()
    instance_id, started = await start_or_join_request(client, request_prefix(request), request)
    log.info("start_copy: %s copy %s of model %s from %s to %s", "started" if started else "joined running",
             instance_id, plan.model_id, plan.source, ",".join(plan.targets))
    return client.create_check_status_response(req, instance_id)
