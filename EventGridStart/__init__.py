"""Event Grid trigger `on_model_trained`: replicate a freshly trained model (or classifier) to the default targets.

Accepts `ModelTrained` events in the Event Grid schema (`func.EventGridEvent`) or CloudEvents 1.0
(`func.CloudEvent`) with `data: {"modelId" | "classifierId": "...", "source": "<alias>"?}` (a trained classifier
is announced by the same event type, carrying `classifierId`). Event Grid delivers at least once, so
the instance id is derived from the event id + event source + source alias (`evt-<model>-<hash>`, no run suffix)
and a redelivered event starts nothing. Every event that starts nothing says why in one `modelferry.triggers`
log line: "ignoring event <id>" (another event type), "dropping malformed event <id>" (no id, data not an
object, or a request `plan_request` refuses: the line names the error code) or "event <id> already handled"
(a redelivery). Dropping returns normally, so Event Grid does not retry it for a day; invalid app settings raise,
so the delivery is retried once they are fixed.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from CopyOrchestrator.starting import start_once
from ferry import settings as ferry_settings
from ferry.orchestration.events import read_event
from ferry.orchestration.ids import event_instance_id
from ferry.orchestration.plan import RequestError, plan_request, printable, resources_view

log = logging.getLogger("modelferry.triggers")

bp = df.Blueprint()


def event_fields(event: Any) -> dict[str, Any]:
    """id, type, source and data of an EventGridEvent or a CloudEvent (duck-typed: both schemas)."""
    event_type = getattr(event, "event_type", None) or getattr(event, "type", None)
    event_source = getattr(event, "topic", None) or getattr(event, "source", None)
    try:
        data = event.get_json()
    except (ValueError, RecursionError):
        data = None
    return {"id": getattr(event, "id", None), "type": event_type, "source": event_source, "data": data}


@bp.function_name("on_model_trained")
@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def on_model_trained(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    fields = event_fields(event)
    event_id = printable(str(fields["id"]), 200)
    verdict = read_event(event_id=fields["id"], event_type=fields["type"], data=fields["data"])
    if verdict.action == "ignore":
        log.info("on_model_trained: ignoring event %s: %s", event_id, verdict.reason)
        return
    if verdict.action == "drop":
        log.warning("on_model_trained: dropping malformed event %s: %s", event_id, verdict.reason)
        return
    settings = ferry_settings.load()  # SettingsError propagates: Event Grid retries after the fix
    try:
        plan = plan_request(verdict.request, resources_view(settings), default_source=settings.source,
                            default_targets=settings.targets)
    except RequestError as exc:
        log.warning("on_model_trained: dropping malformed event %s: %s: %s", event_id, exc.code, exc.message)
        return
    instance_id = event_instance_id(str(fields["id"]), fields["source"], plan.source, plan.model_id)
    if await start_once(client, instance_id, plan.to_input()):
        log.info("on_model_trained: event %s started replication %s of %s to %s", event_id, instance_id,
                 plan.model_id, ",".join(plan.targets))
    else:
        log.info("on_model_trained: event %s already handled by %s (duplicate delivery); starting nothing",
                 event_id, instance_id)
