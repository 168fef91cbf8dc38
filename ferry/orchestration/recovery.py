"""What the copy orchestrator does about a failed step, decided from the error's `kind` (ferry.errors taxonomy).

Why in the orchestrator and not in `call_activity_with_retry`: Python's RetryOptions has a fixed interval, no
backoff, no Retry-After and no predicate, and re-authorizing means running a *different* step. So activities
return `{"ok": false, "error": FerryError.to_dict()}` and these pure functions pick the next move; the
orchestrator then waits on a durable timer, re-authorizes, checks the existing model, or cleans up and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .policy import CopyPolicy
from .polling import transient_delay

RETRY = "retry"
REAUTHORIZE = "reauthorize"
CHECK_EXISTING = "check_existing"
CLEANUP_AND_FAIL = "cleanup_and_fail"
FAIL = "fail"

# "not_ready": the source model is still being built/trained; worth a few waits like a transient error.
TRANSIENT_KINDS = frozenset({"throttled", "transient", "not_ready"})
# Service codes meaning "the copy ran out of time on the service side and left an invalid model".
SERVICE_TIMEOUT_CODES = frozenset({"3013"})


@dataclass(frozen=True)
class Decision:
    action: str
    delay_seconds: float = 0.0
    reason: str = ""


def public_error(error: dict[str, Any] | None) -> dict[str, Any]:
    """The `{code, message, hint}` a caller sees: nothing else (no URLs, no request internals)."""
    error = error or {}
    return {
        "code": str(error.get("code") or "Unknown"),
        "message": str(error.get("message") or "the service reported a failure without a message"),
        "hint": str(error.get("hint") or ""),
    }


def is_transient(error: dict[str, Any]) -> bool:
    return error.get("kind") in TRANSIENT_KINDS or (bool(error.get("retryable")) and error.get("kind") is None)


def decide_step_error(error: dict[str, Any], *, retries_so_far: int, authorization_attempts: int,
                      policy: CopyPolicy) -> Decision:
    """A step (check, authorize+start, poll, verify, delete) returned an error envelope."""
    kind = error.get("kind")
    if is_transient(error):
        if retries_so_far < policy.max_transient_retries:
            retry_after = error.get("retryAfter", error.get("retry_after"))
            delay = transient_delay(retries_so_far + 1, float(retry_after) if retry_after is not None else None)
            return Decision(RETRY, delay, f"{kind or 'retryable'} error {error.get('code')}")
        return Decision(FAIL, reason=f"still failing after {retries_so_far} retries")
    if kind == "authorization":
        if authorization_attempts < policy.max_authorization_attempts:
            return Decision(REAUTHORIZE, reason=f"authorization rejected ({error.get('code')})")
        return Decision(FAIL, reason=f"authorization rejected {authorization_attempts} times")
    if kind == "model_exists":
        return Decision(CHECK_EXISTING, reason="target model id already taken")
    return Decision(FAIL, reason=f"{kind or 'terminal'} error {error.get('code')}")


def decide_failed_copy(error: dict[str, Any] | None, *, authorization_attempts: int,
                       policy: CopyPolicy) -> Decision:
    """The copy operation itself ended `failed` (seen while polling)."""
    error = error or {}
    if error.get("kind") == "authorization" and authorization_attempts < policy.max_authorization_attempts:
        # Reused/expired authorization: the target may hold a blank model for it; clean up, then re-issue.
        return Decision(REAUTHORIZE, reason=f"copy rejected the authorization ({error.get('code')})")
    return Decision(CLEANUP_AND_FAIL, reason=f"copy failed ({error.get('code')})")


def _leftover(removed: bool, target_model_id: str | None) -> str:
    """What the hint says about the target model: only claim a cleanup that happened."""
    if removed:
        return "The unfinished target model was removed"
    return (f"Check the target model '{target_model_id}': if it is an unfinished copy, delete it"
            if target_model_id else "Nothing was left on the target")


def deadline_error(deadline_seconds: float, last_status: str | None, *, removed: bool = False,
                   target_model_id: str | None = None) -> dict[str, str]:
    """The error reported when the copy is abandoned at the deadline."""
    return {
        "code": "CopyDeadlineExceeded",
        "message": f"the copy did not finish within {deadline_seconds:g} s (last status: {last_status or 'unknown'})",
        "hint": "The service may still be busy or stuck (copies of composed models have been seen hanging). "
                f"{_leftover(removed, target_model_id)}; retry later, or raise FERRY_COPY_DEADLINE_SECONDS.",
    }


def existing_model_error(target: str, target_model_id: str) -> dict[str, str]:
    """The target already holds a *different* model under the id we want."""
    return {
        "code": "TargetModelExists",
        "message": f"'{target}' already has a model '{target_model_id}' that is not a copy of this source model",
        "hint": "Delete that model on the target, or give another 'targetModelId' in the request.",
    }


def inflight_copy_error(target: str, target_model_id: str | None, deadline_seconds: float) -> dict[str, str]:
    """The target id stayed reserved by a running copy until the deadline."""
    return {
        "code": "TargetModelIdBusy",
        "message": f"a copy into '{target_model_id}' on '{target}' was still running after {deadline_seconds:g} s",
        "hint": "Another copy into this id is in progress (or stuck on the service). Wait for it, or copy under "
                "another 'targetModelId'.",
    }


def source_not_ready_error(model_id: str, source: str, status: Any) -> dict[str, str]:
    """The source model was still training/building after the waits the policy allows."""
    return {
        "code": "SourceModelNotReady",
        "message": f"model '{model_id}' on '{source}' is not ready (status: {status})",
        "hint": "Wait until training/building has finished, then start the copy again.",
    }


def target_missing_error(target: str, target_model_id: str | None) -> dict[str, str]:
    """The copy reported success, but the target has no model under its id."""
    return {
        "code": "TargetModelMissing",
        "message": f"the copy reported success but '{target_model_id}' is not on '{target}'",
        "hint": "Start the copy again; if it persists, check the target resource in the portal.",
    }


def target_invalid_error(target: str, target_model_id: str | None, *, removed: bool = False) -> dict[str, str]:
    """The copy reported success, but left an invalid model (which the orchestrator tries to remove)."""
    cleanup = ("The invalid model was removed" if removed
               else f"Delete the invalid model '{target_model_id}' on the target")
    return {
        "code": "TargetModelInvalid",
        "message": f"the copy reported success but '{target_model_id}' on '{target}' is invalid",
        "hint": f"{cleanup}; start the copy again.",
    }


def target_mismatch_error(target: str, target_model_id: str | None) -> dict[str, str]:
    """The model under the target id is not a copy of the source model (someone else wrote the id)."""
    return {
        "code": "TargetModelMismatch",
        "message": f"'{target_model_id}' on '{target}' does not match the source model",
        "hint": "Another process may have written this id; delete it on the target and retry.",
    }


def internal_error(exc: BaseException) -> dict[str, str]:
    """A bug inside ModelFerry (an activity raised, bad input): the exception's first line, never a traceback."""
    text = str(exc).strip()
    return {
        "code": "InternalError",
        "message": text.splitlines()[0][:300] if text else type(exc).__name__,
        "hint": "Unexpected failure inside ModelFerry; see the host log for this instance.",
    }
