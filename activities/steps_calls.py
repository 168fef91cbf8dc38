"""The bodies of the activities, without the Functions decorators, so tests can call them directly.

Each function loads the validated settings (cached per process), calls one `ferry.steps` function with the
aliases/ids from its input and wraps the outcome in the `{"ok", "value" | "error"}` envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ferry import settings as ferry_settings
from ferry import steps
from ferry.errors import FerryError
from ferry.orchestration.plan import RequestError, plan_request, resources_view
from ferry.orchestration.policy import CopyPolicy

log = logging.getLogger("modelferry.activities")


def ok(value: Any) -> dict[str, Any]:
    return {"ok": True, "value": value}


def failed(error: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "error": error}


def settings_error(exc: ferry_settings.SettingsError) -> dict[str, Any]:
    return {"kind": "terminal", "code": "InvalidSettings", "message": str(exc),
            "hint": f"Fix the app setting {exc.setting} and restart the Function App.", "retryable": False}


def _run(step_name: str, call: Callable[[ferry_settings.Settings], Any]) -> dict[str, Any]:
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        log.error("%s: invalid settings: %s", step_name, exc)
        return failed(settings_error(exc))
    try:
        return ok(call(settings))
    except FerryError as exc:
        log.warning("%s failed: %s %s (%s)", step_name, exc.kind, exc.code, exc.message)
        return failed(exc.to_dict())


def plan_copy(request: dict[str, Any]) -> dict[str, Any]:
    """Normalized plan + frozen policy + per-target facts (API generation, degrade header)."""
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        return failed(settings_error(exc))
    try:
        plan = plan_request(request, resources_view(settings), default_source=settings.source,
                            default_targets=settings.targets)
    except RequestError as exc:
        return failed(exc.to_dict())
    source_version = settings.resource(plan.source).api_version
    targets = []
    for alias in plan.targets:
        target = settings.resource(alias)
        v2 = target.generation == "v2"
        targets.append({
            "alias": alias,
            "apiVersion": target.api_version,
            # v3+: the target model id is the source's unless the request names one; v2: the service assigns it.
            "targetModelId": None if v2 else (plan.target_model_id or plan.model_id),
            "degrade": settings.copy_degrade(plan.source, alias),
        })
    return ok({"request": plan.to_input(), "sourceApiVersion": source_version, "targets": targets,
               "policy": CopyPolicy.from_settings(settings).to_dict()})


def check_source_model(step: dict[str, Any]) -> dict[str, Any]:
    return _run("check_source_model",
                lambda s: steps.check_source_model(s, step["source"], step["modelId"]))


def authorize_and_start_copy(step: dict[str, Any]) -> dict[str, Any]:
    def call(s: ferry_settings.Settings) -> dict[str, Any]:
        started = steps.authorize_and_start_copy(s, step["source"], step["target"], step["sourceModelId"],
                                                 step.get("targetModelId"), bool(step.get("degrade")),
                                                 description=step.get("description"), tags=step.get("tags"))
        # Only what the orchestration needs; nothing from the authorization beyond its id and expiry. A failed
        # copy POST's error envelope carries the authorized id too ("targetModelId"): after a lost answer the
        # orchestration must know which target id may still receive a copy.
        return {"operationUrl": started["operationUrl"], "targetModelId": started["targetModelId"],
                "authorizationExpiresAt": started.get("authorizationExpiresAt")}

    return _run("authorize_and_start_copy", call)


def poll_copy(step: dict[str, Any]) -> dict[str, Any]:
    def call(s: ferry_settings.Settings) -> dict[str, Any]:
        polled = steps.poll_copy(s, step["source"], step["operationUrl"], target_model_id=step.get("targetModelId"))
        polled.pop("fingerprint", None)  # verified by get_target_model on the target; keep history small
        return polled

    return _run("poll_copy", call)


def get_target_model(step: dict[str, Any]) -> dict[str, Any]:
    return _run("get_target_model",
                lambda s: steps.get_target_model(s, step["target"], step["targetModelId"]))


def delete_target_model(step: dict[str, Any]) -> dict[str, Any]:
    return _run("delete_target_model",
                lambda s: steps.delete_target_model(s, step["target"], step["targetModelId"]))
