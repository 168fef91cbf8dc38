"""What the copy orchestrator does about a failed step, decided from the error's `kind` (ferry.errors taxonomy).

Why in the orchestrator and not in `call_activity_with_retry`: Python's RetryOptions has a fixed interval, no
backoff, no Retry-After and no predicate, and re-authorizing means running a *different* step. So activities
answer with the classified `FerryError` and these pure functions pick the next move; the orchestrator then waits
on a durable timer, re-authorizes, checks the existing model, or cleans up and reports. The errors the copy
workflow itself reports (deadline, target id busy, mismatch, ...) are built here too, as `FerryError`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ferry.errors import FerryError

from .policy import CopyPolicy
from .polling import throttle_delay, transient_delay

# "not_ready": the source model is still being built/trained; worth a few waits like a transient error.
TRANSIENT_KINDS = frozenset({"throttled", "transient", "not_ready"})


class Next(Enum):
    """The move after a failed authorize+start or a failed copy operation."""

    REAUTHORIZE = "reauthorize"  # a fresh authorization on the target, then the copy again
    CHECK_EXISTING = "check_existing"  # the target id is taken: look at what holds it
    CLEANUP_AND_FAIL = "cleanup_and_fail"  # remove what the failed copy left, then report
    FAIL = "fail"  # report


def public_error(error: FerryError | None) -> dict[str, str]:
    """The `{code, message, hint}` a caller sees: nothing else (no URLs, no request internals)."""
    return (error or FerryError(kind="terminal", code="Unknown", message="", hint="")).public()


def is_transient(error: FerryError) -> bool:
    return error.kind in TRANSIENT_KINDS


MAX_MISSED_SLOTS = 10
"""How many rate-budget slots one step may miss (its activity started too late) before the copy fails: a host
that late that often needs a longer FERRY_PACING_LEAD_MS."""


@dataclass
class Retries:
    """How often one step has been repeated: after transient failures (budgeted) and after 429s (not)."""

    transient: int = 0
    throttled: int = 0
    missed: int = 0  # missed rate-budget slots: nothing was sent, so not in `total`

    @property
    def total(self) -> int:
        """Repeats after a request that may have reached the service."""
        return self.transient + self.throttled


def retry_delay(error: FerryError, retries: Retries, policy: CopyPolicy, seed: str) -> float | None:
    """Seconds to wait before repeating a step that failed with `error` (and count it in `retries`); None when
    it must not be repeated. A 429 waits the service's Retry-After plus jitter and never uses up the transient
    budget (only the copy deadline bounds it); other transient failures back off, at most
    `policy.max_transient_retries` times. A missed rate-budget slot is taken again at once (no wait: the slot
    reservation is the wait), at most MAX_MISSED_SLOTS times."""
    if error.kind == "missed_slot":
        retries.missed += 1
        return 0.0 if retries.missed <= MAX_MISSED_SLOTS else None
    if error.kind == "throttled":
        retries.throttled += 1
        return throttle_delay(retries.throttled, error.retry_after, seed)
    if not is_transient(error) or retries.transient >= policy.max_transient_retries:
        return None
    retries.transient += 1
    return transient_delay(retries.transient, error.retry_after)


def after_failed_start(error: FerryError, *, authorization_attempts: int, policy: CopyPolicy) -> Next:
    """authorize+start failed with an error that waiting does not fix."""
    if error.kind == "authorization" and authorization_attempts < policy.max_authorization_attempts:
        return Next.REAUTHORIZE
    if error.kind == "model_exists":
        return Next.CHECK_EXISTING
    return Next.FAIL


def after_failed_copy(error: FerryError, *, authorization_attempts: int, policy: CopyPolicy) -> Next:
    """The copy operation itself ended `failed` (seen while polling)."""
    if error.kind == "authorization" and authorization_attempts < policy.max_authorization_attempts:
        # Reused/expired authorization: the target may hold a blank model for it; clean up, then re-issue.
        return Next.REAUTHORIZE
    return Next.CLEANUP_AND_FAIL


def _copy_error(code: str, message: str, hint: str, kind: str = "terminal") -> FerryError:
    return FerryError(kind=kind, code=code, message=message, hint=hint, operation="copy_model_to_target")


def after_cleanup(error: FerryError, *, removed: bool, target_model_id: str | None) -> FerryError:
    """A failed copy's error, its hint saying what actually happened to the target model (timeout / 3013:
    the service's generic hint says the target *may* hold an invalid model)."""
    if error.kind != "timeout":
        return error
    hint = (f"The service stopped the copy after its maximum processing time. "
            f"{_leftover(removed, target_model_id)}; start the copy again (a less busy time, or a target in "
            "the same region, finishes sooner).")
    return FerryError.from_dict({**error.to_dict(), "hint": hint})


def _leftover(removed: bool, target_model_id: str | None) -> str:
    """What the hint says about the target model: only claim a cleanup that happened."""
    if removed:
        return "The unfinished target model was removed"
    return (f"Check the target model '{target_model_id}': if it is an unfinished copy, delete it"
            if target_model_id else "Nothing was left on the target")


def deadline_error(deadline_seconds: float, last_status: str | None, *, removed: bool = False,
                   target_model_id: str | None = None) -> FerryError:
    """The error reported when the copy is abandoned at the deadline."""
    return _copy_error(
        "CopyDeadlineExceeded",
        f"the copy did not finish within {deadline_seconds:g} s (last status: {last_status or 'unknown'})",
        "The service may still be busy or stuck (copies of composed models have been seen hanging). "
        f"{_leftover(removed, target_model_id)}; retry later, or raise FERRY_COPY_DEADLINE_SECONDS.",
        kind="timeout")


def existing_model_error(target: str, target_model_id: str) -> FerryError:
    """The target already holds a *different* model under the id we want."""
    return _copy_error(
        "TargetModelExists",
        f"'{target}' already has a model '{target_model_id}' that is not a copy of this source model",
        "Delete that model on the target, or give another 'targetModelId' in the request.")


def inflight_copy_error(target: str, target_model_id: str | None, deadline_seconds: float) -> FerryError:
    """The target id stayed reserved by a running copy until the deadline."""
    return _copy_error(
        "TargetModelIdBusy",
        f"a copy into '{target_model_id}' on '{target}' was still running after {deadline_seconds:g} s",
        "Another copy into this id is in progress (or stuck on the service). Wait for it, or copy under "
        "another 'targetModelId'.")


def source_not_ready_error(model_id: str, source: str, status: object) -> FerryError:
    """The source model was still training/building after the waits the policy allows."""
    return _copy_error(
        "SourceModelNotReady",
        f"model '{model_id}' on '{source}' is not ready (status: {status})",
        "Wait until training/building has finished, then start the copy again.")


def relay_refused_error(relay: str, model_id: str) -> FerryError:
    """A relayed copy met a model with dependencies (a composed model): those are copied from the source only."""
    return _copy_error(
        "RelayNotPossible",
        f"model '{model_id}' on '{relay}' is a composed model; it is copied from the source, not relayed",
        "Nothing to do: the sync copies it from the source.")


def target_missing_error(target: str, target_model_id: str | None) -> FerryError:
    """The copy reported success, but the target has no model under its id."""
    return _copy_error(
        "TargetModelMissing",
        f"the copy reported success but '{target_model_id}' is not on '{target}'",
        "Start the copy again; if it persists, check the target resource in the portal.")


def target_invalid_error(target: str, target_model_id: str | None, *, removed: bool = False) -> FerryError:
    """The copy reported success, but left an invalid model (which the orchestrator tries to remove)."""
    cleanup = ("The invalid model was removed" if removed
               else f"Delete the invalid model '{target_model_id}' on the target")
    return _copy_error(
        "TargetModelInvalid",
        f"the copy reported success but '{target_model_id}' on '{target}' is invalid",
        f"{cleanup}; start the copy again.")


def target_mismatch_error(target: str, target_model_id: str | None) -> FerryError:
    """The model under the target id is not a copy of the source model (someone else wrote the id)."""
    return _copy_error(
        "TargetModelMismatch",
        f"'{target_model_id}' on '{target}' does not match the source model",
        "Another process may have written this id; delete it on the target and retry.")


def dependency_error(target: str, model_id: str, failed: list[dict[str, Any]]) -> FerryError:
    """A composed model's classifier or a component could not be copied to the target: the composed model is
    not copied (it would be useless there)."""
    names = ", ".join(f"{e['kind']} '{e['id']}' ({(e.get('error') or {}).get('code') or e.get('status')})"
                      for e in failed[:10])
    return _copy_error(
        "DependencyCopyFailed",
        f"the composed model '{model_id}' was not copied to '{target}': copying {names} failed",
        "Fix what each dependency's error says (see 'dependencies' in the result), then start the copy again: "
        "what is already on the target is kept.")


def dependency_missing_error(target: str, model_id: str | None, missing: list[str]) -> FerryError:
    """The composed model is on the target, but its classifier or a component is not (deleted meanwhile?)."""
    return _copy_error(
        "DependencyMissing",
        f"the composed model '{model_id}' is on '{target}' but {', '.join(missing[:10])} is not",
        "Start the copy again: it copies the missing classifier and components under the same ids.")
