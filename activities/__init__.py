"""Activities of the copy orchestration: one per copy step, each a thin call into `ferry.steps`.

Error contract (why an envelope instead of raising): every activity returns `{"ok": true, "value": ...}` or,
when the service call failed in a classified way (`ferry.errors.FerryError`), `{"ok": false, "error":
FerryError.to_dict()}`. The orchestrator needs the error's kind, Retry-After and code to choose between waiting on a
durable timer, re-authorizing, checking an existing model, cleaning up or reporting; Python's
`call_activity_with_retry` can do none of that (fixed interval, no predicate) and a raised exception reaches the
orchestrator only as text. Anything else (a bug) still raises, so it is visible as a failed activity.

Nothing secret crosses this boundary: inputs are aliases and ids, outputs are ids, statuses, fingerprints and
the operation URL (not secret). The copy authorization, with its access token, lives only inside
`authorize_and_start_copy`'s single activity execution and never enters durable history.
"""



import azure.durable_functions as df

from activities import steps_calls as calls

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
def plan_copy(request: dict) -> dict:
    """Validate the parent's request against settings; freeze the tuning (`CopyPolicy`) into history."""
    return calls.plan_copy(request)


@bp.activity_trigger(input_name="step")
def check_source_model(step: dict) -> dict:
    """Source model exists and is ready; returns its fingerprint (to recognise copies of it)."""
    return calls.check_source_model(step)


@bp.activity_trigger(input_name="step")
def authorize_and_start_copy(step: dict) -> dict:
    """Authorize on the target and start the copy on the source, in one execution (token stays here)."""
    return calls.authorize_and_start_copy(step)


@bp.activity_trigger(input_name="step")
def poll_copy(step: dict) -> dict:
    """One status read of the copy operation."""
    return calls.poll_copy(step)


@bp.activity_trigger(input_name="step")
def get_target_model(step: dict) -> dict:
    """The model on the target, if any, with its fingerprint."""
    return calls.get_target_model(step)


@bp.activity_trigger(input_name="step")
def delete_target_model(step: dict) -> dict:
    """Remove an empty/invalid target model left by a failed or abandoned copy."""
    return calls.delete_target_model(step)



