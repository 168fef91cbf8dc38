"""Activities of the copy orchestration: one per copy step, each calling one `ferry.steps` function.

Each takes a contract of `ferry.contracts` (as JSON), loads the validated settings (cached per process), calls
the step and answers with the `Answer` envelope: the step's typed value, or the classified `FerryError` (see
`ferry.contracts` for why an envelope rather than a raised exception). A bug still raises.

Nothing secret crosses this boundary: inputs are aliases and ids, outputs are ids, statuses, fingerprints and
the operation URL. The copy authorization, with its access token, lives only inside
`authorize_and_start_copy`'s single activity execution and never enters durable history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df

from ferry import settings as ferry_settings
from ferry import steps
from ferry.contracts import (
    Answer,
    Contract,
    CopyPlanned,
    ListCopies,
    PollCopy,
    SourceRef,
    StartCopy,
    TargetPlan,
    TargetRef,
)
from ferry.errors import FerryError, settings_error
from ferry.orchestration.plan import plan_request, resources_view
from ferry.orchestration.policy import CopyPolicy

log = logging.getLogger("modelferry.activities")

bp = df.Blueprint()


def _answer(name: str, step: Callable[[ferry_settings.Settings], Contract]) -> dict[str, Any]:
    """Run `step` with the settings; the envelope of its value or of its classified failure."""
    try:
        settings = ferry_settings.load()
    except ferry_settings.SettingsError as exc:
        log.error("%s: invalid settings: %s", name, exc)
        return Answer.failed(settings_error(exc.setting, str(exc))).to_dict()
    try:
        return Answer.of(step(settings)).to_dict()
    except FerryError as exc:
        log.warning("%s failed: %s %s (%s)", name, exc.kind, exc.code, exc.message)
        return Answer.failed(exc).to_dict()


def _plan(settings: ferry_settings.Settings, request: Any) -> CopyPlanned:
    # a RequestError is a FerryError: the envelope carries it like any other failure
    plan = plan_request(request, resources_view(settings), default_source=settings.source,
                        default_targets=settings.targets)
    targets = []
    for alias in plan.targets:
        target = settings.resource(alias)
        targets.append(TargetPlan(
            alias=alias, api_version=target.api_version,
            # v3+: the target model id is the source's unless the request names one (a classifier keeps its id);
            # v2: the service assigns it.
            target_model_id=None if target.is_v2 else (plan.target_model_id or plan.model_id),
            degrade=settings.copy_degrade(plan.source, alias)))
    # a relay copies the replica under its own id: only where every target keeps the source's model id
    peers = settings.copy_relay_peers(plan.source, [t.alias for t in targets if t.target_model_id == plan.model_id])
    return CopyPlanned(request=plan.to_input(), source_api_version=settings.resource(plan.source).api_version,
                       targets=targets, policy=CopyPolicy.from_settings(settings), kind=plan.kind,
                       relay_peers=peers if plan.kind == "model" else [],
                       relay_backlog_seconds=settings.copy_relay_backlog_seconds, relay_recheck=True)


@bp.activity_trigger(input_name="request")
def plan_copy(request: dict) -> dict:
    """Validate the parent's request against settings; freeze the tuning (`CopyPolicy`) into history."""
    return _answer("plan_copy", lambda s: _plan(s, request))


@bp.activity_trigger(input_name="step")
def check_source_model(step: dict) -> dict:
    """The source model exists and is ready; its fingerprint (to recognise copies of it)."""
    ref = SourceRef.from_dict(step)
    return _answer("check_source_model", lambda s: steps.check_source_model(s, ref.source, ref.model_id, ref.kind))


@bp.activity_trigger(input_name="step")
def authorize_and_start_copy(step: dict) -> dict:
    """Authorize on the target and start the copy on the source, in one execution (the token stays here)."""
    start = StartCopy.from_dict(step)
    return _answer("authorize_and_start_copy", lambda s: steps.authorize_and_start_copy(
        s, start.source, start.target, start.source_model_id, start.target_model_id, start.degrade,
        description=start.description, tags=start.tags, not_before=start.not_before, kind_name=start.kind,
        source_created=start.source_created, origin=start.origin))


@bp.activity_trigger(input_name="step")
def compose_on_target(step: dict) -> dict:
    """Compose a 2024-11-30 composed model again on the target from the source's definition (copy refused)."""
    start = StartCopy.from_dict(step)
    return _answer("compose_on_target", lambda s: steps.compose_on_target(
        s, start.source, start.target, start.source_model_id, start.target_model_id, not_before=start.not_before))


@bp.activity_trigger(input_name="step")
def poll_copy(step: dict) -> dict:
    """One status read of the copy operation."""
    poll = PollCopy.from_dict(step)
    return _answer("poll_copy", lambda s: steps.poll_copy(s, poll.source, poll.operation_url,
                                                          target_model_id=poll.target_model_id))


@bp.activity_trigger(input_name="step")
def get_target_model(step: dict) -> dict:
    """The model on the target, if any, with its fingerprint."""
    ref = TargetRef.from_dict(step)
    return _answer("get_target_model", lambda s: steps.get_target_model(s, ref.target, ref.target_model_id,
                                                                                  ref.kind))


@bp.activity_trigger(input_name="step")
def delete_target_model(step: dict) -> dict:
    """Remove an empty/invalid target model left by a failed or abandoned copy."""
    ref = TargetRef.from_dict(step)
    return _answer("delete_target_model", lambda s: steps.delete_target_model(s, ref.target,
                                                                                        ref.target_model_id, ref.kind))


@bp.activity_trigger(input_name="step")
def list_target_copies(step: dict) -> dict:
    """The copies of the source model on a v2 target (to find those an interrupted execution made)."""
    ref = ListCopies.from_dict(step)
    return _answer("list_target_copies", lambda s: steps.list_target_copies(s, ref.target, ref.fingerprint))


from activities import sync as _sync  # noqa: E402, F401  (registers the sync activities on `bp`)
