"""The two starters of the estate sync: `start_sync` (`POST /api/sync`) and `sync_on_schedule` (timer).

Body: `{"source"?, "targets"?, "include"?, "exclude"?, "dryRun"?, "prune"?, "onStale"?}` (see
`ferry.orchestration.sync_request`; an empty body syncs the defaults). 202 + the check-status payload (started,
or joined when the identical sync runs); 409 `{"error", "statusQueryGetUri"}` when another sync of that source
runs; 400 (413 above the body limit) `{"error": FerryError.to_dict()}` for bad input and 500 for invalid
settings, nothing started — the same shapes as `/api/copies`. The timer runs the default request
(FERRY_SOURCE → FERRY_TARGETS) on FERRY_SYNC_SCHEDULE; an empty setting turns it off.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from ferry import settings as ferry_settings
from ferry.errors import FerryError
from ferry.orchestration.plan import RequestError, read_body, resources_view
from ferry.orchestration.sync_request import parse_sync_request
from HttpStart import error_response, settings_error

from .starting import active_sync, start_or_join

log = logging.getLogger("modelferry.triggers")

bp = df.Blueprint()


def _body(raw: bytes | None) -> Any:
    """The request body; an empty one means "the defaults" (every field of a sync request is optional)."""
    return {} if not (raw or b"").strip() else read_body(raw)


@bp.function_name("start_sync")
@bp.route(route="sync", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_sync(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Validate, then start the sync of the source, join the identical running one, or answer 409."""
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        log.error("start_sync: invalid app settings: %s", exc)
        return error_response(settings_error(exc), 500)
    try:
        request = parse_sync_request(_body(req.get_body()), resources_view(settings),
                                     default_source=settings.source, default_targets=settings.targets).to_input()
    except RequestError as exc:
        log.info("start_sync: rejected request: %s: %s", exc.code, exc.message)
        return error_response(exc, exc.status or 400)
    outcome = await start_or_join(client, request)
    if outcome.conflict:
        log.info("start_sync: a different sync of %s runs (%s); refused", request["source"], outcome.instance_id)
        error = FerryError(kind="terminal", code="SyncRunning", status=409, retryable=False, operation="start_sync",
                           message=f"another sync of source {request['source']!r} is running "
                                   f"({outcome.instance_id}) with a different request",
                           hint="Wait for it to finish (follow statusQueryGetUri), then send this request again; "
                                "the same request as the running one joins it.")
        status_uri = client.create_http_management_payload(outcome.instance_id)["statusQueryGetUri"]
        return func.HttpResponse(json.dumps({"error": error.to_dict(), "statusQueryGetUri": status_uri}),
                                 status_code=409, mimetype="application/json")
    log.info("start_sync: %s sync %s of %s to %s%s", "started" if outcome.started else "joined running",
             outcome.instance_id, request["source"], ",".join(request["targets"]),
             " (dry run)" if request["dryRun"] else "")
    return client.create_check_status_response(req, outcome.instance_id)


async def sync_on_schedule(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """The scheduled sync of the default source; starts nothing while a sync of that source runs."""
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        log.error("sync_on_schedule: invalid app settings, no sync started: %s", exc)
        return
    if settings.sync_schedule is None:
        log.info("sync_on_schedule: FERRY_SYNC_SCHEDULE is empty: the scheduled sync is off")
        return
    try:
        request = parse_sync_request({}, resources_view(settings), default_source=settings.source,
                                     default_targets=settings.targets).to_input()
    except RequestError as exc:
        log.error("sync_on_schedule: no sync started: %s: %s", exc.code, exc.message)
        return
    running = await active_sync(client, request["source"])
    if running is not None:
        log.info("sync_on_schedule: a sync of %s is running (%s); this scheduled run starts nothing",
                 request["source"], running)
        return
    outcome = await start_or_join(client, request)
    log.info("sync_on_schedule: %s sync %s of %s%s", "started" if outcome.started else "found running",
             outcome.instance_id, request["source"], " (past due)" if timer.past_due else "")


# Registered only when the schedule is on: an app with FERRY_SYNC_SCHEDULE set empty has no timer at all.
SCHEDULE = ferry_settings.sync_timer_schedule()
if SCHEDULE is not None:
    bp.function_name("sync_on_schedule")(
        bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)(
            bp.durable_client_input(client_name="client")(sync_on_schedule)))
