"""`copy_model_to_target`: copy one source model to one target, recovering from what the Copy API throws.

check the source (exists, ready) → authorize on the target + start the copy on the source (one activity, so the
authorization's access token never enters history) → poll on durable timers (schedule, Retry-After and deadline
from `ferry.orchestration.polling`) → verify the model on the target. Failures are decided by
`ferry.orchestration.recovery`: throttled/transient → wait and retry; rejected authorization → fresh one and
re-issue (bounded); target id taken → idempotent success if it already is this model's copy; failed (3013) or
overdue copy → delete the invalid target model and report. A failed target ends *Failed* (TargetCopyFailed)
carrying its result for the parent.

Lost answers: when the copy POST fails without an answer (kind "transient": the connection dropped, a 5xx) the
service may have started the copy anyway. The activity's error carries the target model id it authorized (never
the token); the child remembers every such id (`_Run.unconfirmed`). Before re-issuing it looks for them on the
target and adopts a landed copy instead of making a second one; after the copy it keeps, it watches the others
on durable timers (bounded, see `_watch_seconds`) and deletes those that land, so the target ends with exactly
one model. This matters most in v2, where a re-issue gets a NEW service-assigned id.

Deterministic: time comes from `context.current_utc_datetime`, settings from the input (frozen by `plan_copy`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

from ferry import steps
from ferry.orchestration import outcome, progress, recovery
from ferry.orchestration.policy import CopyPolicy
from ferry.orchestration.polling import deadline_at, next_fire_at, poll_delay, transient_delay

log = logging.getLogger("modelferry.orchestration")

NAME = "copy_model_to_target"
# At most this many rounds of looks for the copies of lost answers (each round also bounded by the watch time).
MAX_LOST_CHECKS = 12


class _Run:
    """Mutable per-run bookkeeping that feeds the custom status."""

    def __init__(self, context: Any, target: str, target_model_id: str | None) -> None:
        self.context = context
        self.target = target
        self.target_model_id = target_model_id
        self.stage = "checking"
        self.attempts = 0
        self.retries = 0
        self.polls = 0
        self.copy_status: str | None = None
        self.last_error: dict[str, Any] | None = None
        self.unconfirmed: list[str] = []  # authorized target ids whose copy POST answer was lost
        self.cleaned: list[str] = []  # of those, deleted from the target (abandoned copies that landed)
        self.unresolved: list[str] = []  # of those, never seen on the target while watched
        self.adopted = False
        self.copy_started_at: Any = None  # when the copy we keep was issued (bounds the watch for lost ones)

    def remember_lost(self, error: dict[str, Any]) -> None:
        """A copy POST without an answer: its authorized id may yet receive a copy."""
        lost = error.get("targetModelId")
        if lost and error.get("kind") == "transient" and lost not in self.unconfirmed:
            self.unconfirmed.append(str(lost))
            if self.copy_started_at is None:
                self.copy_started_at = self.context.current_utc_datetime

    def pending(self, keep: str | None) -> list[str]:
        return [i for i in self.unconfirmed if i != keep and i not in self.cleaned]

    def show(self, stage: str | None = None) -> None:
        if stage is not None:
            self.stage = stage
        self.context.set_custom_status(progress.child_status(
            target=self.target, stage=self.stage, attempts=self.attempts, target_model_id=self.target_model_id,
            error=self.last_error, retries=self.retries, polls=self.polls, last_copy_status=self.copy_status,
            unconfirmed=len(self.pending(self.target_model_id))))

    def log(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("%s [%s → %s] " + message, self.context.instance_id, NAME, self.target, *args)


def _call(context: Any, run: _Run, name: str, payload: dict[str, Any], policy: CopyPolicy, deadline: Any,
          authorization_attempts: int = 0,
          before_retry: Callable[[], Generator[Any, Any, Any]] | None = None
          ) -> Generator[Any, Any, tuple[Any, Any, Any]]:
    """One step, retried on durable timers while throttled/transient. Returns (value, error, decision).

    `before_retry` runs after each retry timer; a non-None value it returns is returned instead of retrying
    (used to adopt a copy whose POST answer was lost rather than start a second one)."""
    retries = 0
    while True:
        envelope = yield context.call_activity(name, payload)
        if envelope.get("ok"):
            return envelope.get("value"), None, None
        error = envelope.get("error") or {}
        run.remember_lost(error)
        decision = recovery.decide_step_error(error, retries_so_far=retries,
                                              authorization_attempts=authorization_attempts, policy=policy)
        if decision.action != recovery.RETRY:
            return None, error, decision
        fire_at = next_fire_at(context.current_utc_datetime, decision.delay_seconds, deadline)
        if fire_at is None:
            return None, error, recovery.Decision(recovery.FAIL, reason="deadline reached while retrying")
        retries += 1
        run.retries += 1
        run.last_error = recovery.public_error(error)
        run.log("%s: %s; retry %d in %.1fs", name, decision.reason, retries, decision.delay_seconds)
        run.show()
        yield context.create_timer(fire_at)
        if before_retry is not None:
            instead = yield from before_retry()
            if instead is not None:
                return instead, None, None


def _watch_seconds(run: _Run, now: Any, policy: CopyPolicy) -> float:
    """How long to keep looking for the copies of lost answers after the kept copy has landed.

    Why this bound: an abandoned copy was accepted no later than the last re-issue, and copies of the same model
    take about as long, so it lands within about the time the kept copy took; one polling cap more covers the
    poll interval. A lost POST the service never accepted simply never appears and costs only this wait."""
    took = (now - run.copy_started_at).total_seconds() if run.copy_started_at is not None else 0.0
    return max(took, 0.0) + policy.poll_max_seconds


def copy_model_to_target(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: {modelId, source, target, targetModelId|None, degrade, policy}."""
    data = context.get_input() or {}
    policy = CopyPolicy.from_dict(data.get("policy"))
    source, target, model_id = data["source"], data["target"], data["modelId"]
    requested_target_id = data.get("targetModelId")
    started = context.current_utc_datetime
    deadline = deadline_at(started, policy)
    run = _Run(context, target, requested_target_id)

    def finish(status: str, error: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        run.last_error = recovery.public_error(error) if error else None
        run.show(status)
        return outcome.target_result(
            target=target, status=status, target_model_id=run.target_model_id, error=error,
            attempts=run.attempts,
            duration_seconds=(context.current_utc_datetime - started).total_seconds(), adopted=run.adopted,
            cleaned_up_ids=run.cleaned, unresolved_ids=run.unresolved, **extra)

    def fail(error: dict[str, Any], **extra: Any) -> outcome.TargetCopyFailed:
        result = finish("failed", error, **extra)
        run.log("failed: %s", result["error"]["code"])
        return outcome.TargetCopyFailed(result)

    def delete(model_id: str | None = None) -> Generator[Any, Any, bool]:
        """Delete the target model `model_id` (default `run.target_model_id`); True if one was removed."""
        model_id = model_id or run.target_model_id
        run.show("cleaning-up")
        value, error, _ = yield from _call(context, run, "delete_target_model",
                                           {"target": target, "targetModelId": model_id},
                                           policy, deadline_at(context.current_utc_datetime, policy))
        if error:
            run.log("cleanup of %s failed: %s", model_id, error.get("code"))
            return False
        return bool(value and value.get("deleted"))

    def look(model_id: str) -> Generator[Any, Any, str]:
        """'absent' | 'copy' (a ready copy of this model) | 'other' (ready, not this model's) | 'leftover'."""
        found, error, _ = yield from _call(context, run, "get_target_model",
                                           {"target": target, "targetModelId": model_id},
                                           policy, deadline_at(context.current_utc_datetime, policy))
        if error or not found.get("exists"):
            return "absent"
        if found.get("status") == "ready":
            return "copy" if _is_copy_of(fingerprint, found.get("fingerprint") or {}) else "other"
        return "leftover"

    def adopt_lost() -> Generator[Any, Any, dict[str, Any] | None]:
        """Before re-issuing a copy whose answer was lost: did an earlier lost copy land? Then keep it."""
        for lost in run.pending(None):
            state = yield from look(lost)
            if state == "copy":
                run.log("the copy whose answer was lost landed in %s; adopting it", lost)
                return {"adopted": True, "targetModelId": lost}
            if state == "leftover" and (yield from delete(lost)):
                run.cleaned.append(lost)
        return None

    def sweep(keep: str | None, watch_seconds: float, adopt: bool = False) -> Generator[Any, Any, str | None]:
        """Resolve the ids of lost copies other than `keep`: delete those that landed (abandoned copies), watching
        the rest on durable timers for `watch_seconds`. With `adopt`, the first ready copy found is kept instead
        and its id returned. Ids still unseen at the end are reported as unresolved."""
        pending = run.pending(keep)
        if not pending:
            return None
        adopted: str | None = None
        until = context.current_utc_datetime + timedelta(seconds=max(watch_seconds, 0.0))
        for check in range(1, MAX_LOST_CHECKS + 1):
            run.show("cleaning-up")
            unseen = []
            for lost in pending:
                state = yield from look(lost)
                if state == "absent":
                    unseen.append(lost)
                elif state == "copy" and adopt and adopted is None:
                    adopted = lost
                elif state == "other":
                    run.log("%s holds a model that is not this model's copy; left alone", lost)
                elif (yield from delete(lost)):
                    run.log("deleted %s, the copy of a POST whose answer was lost", lost)
                    run.cleaned.append(lost)
                else:
                    unseen.append(lost)
            pending = unseen
            if not pending:
                break
            fire_at = next_fire_at(context.current_utc_datetime, poll_delay(policy, check), until)
            if fire_at is None:
                break
            yield context.create_timer(fire_at)
        run.unresolved = [i for i in pending if i != adopted]
        if run.unresolved:
            run.log("no copy appeared in %s; reported as unresolved", ", ".join(run.unresolved))
        return adopted

    def succeed(**extra: Any) -> Generator[Any, Any, dict[str, Any]]:
        """Success, after removing the copies of lost answers other than the one kept."""
        yield from sweep(run.target_model_id, _watch_seconds(run, context.current_utc_datetime, policy))
        run.last_error = None
        return finish("succeeded", **extra)

    def settle() -> Generator[Any, Any, str]:
        """After a failed or abandoned copy, look at the target id before touching it.

        'present': it holds a ready copy of this model (e.g. an earlier attempt whose answer was lost): done.
        'removed': an unfinished/invalid model was there and is deleted. 'absent': nothing there.
        'kept': a ready model that is not this model's copy (someone else's): left alone.
        """
        if not run.target_model_id:
            return "absent"
        found, error, _ = yield from _call(context, run, "get_target_model",
                                           {"target": target, "targetModelId": run.target_model_id},
                                           policy, deadline_at(context.current_utc_datetime, policy))
        if error or not found.get("exists"):
            return "absent"
        if found.get("status") == "ready":
            if _is_copy_of(fingerprint, found.get("fingerprint") or {}):
                return "present"
            return "kept"
        removed = yield from delete()
        return "removed" if removed else "kept"

    try:
        # 1. the source model exists and is ready (a model still training gets a few waits); its fingerprint
        #    identifies copies of it.
        run.show("checking")
        not_ready_waits = 0
        while True:
            source_model, error, _ = yield from _call(
                context, run, "check_source_model", {"source": source, "modelId": model_id}, policy, deadline)
            if error:
                raise fail(error)
            if source_model.get("ready", False):
                break
            fire_at = next_fire_at(context.current_utc_datetime, transient_delay(not_ready_waits + 1), deadline)
            if not_ready_waits >= policy.max_transient_retries or fire_at is None:
                raise fail({"code": "SourceModelNotReady",
                            "message": f"model '{model_id}' on '{source}' is not ready "
                                       f"(status: {source_model.get('status', 'unknown')})",
                            "hint": "Wait until training/building has finished, then start the copy again."})
            not_ready_waits += 1
            run.log("source model not ready yet (%s); checking again", source_model.get("status"))
            yield context.create_timer(fire_at)
        fingerprint = source_model.get("fingerprint") or {}

        inflight_checks = 0
        while True:
            # 2. authorize on the target and start the copy on the source, in one activity.
            if inflight_checks == 0:
                run.attempts += 1
            run.copy_status = None
            run.show("authorizing")
            started_copy, error, decision = yield from _call(
                context, run, "authorize_and_start_copy",
                {"source": source, "target": target, "sourceModelId": model_id,
                 "targetModelId": requested_target_id, "degrade": bool(data.get("degrade")),
                 "description": source_model.get("description"), "tags": source_model.get("tags")},
                policy, deadline, authorization_attempts=run.attempts, before_retry=adopt_lost)
            if error:
                if decision.action == recovery.REAUTHORIZE:
                    run.last_error = recovery.public_error(error)
                    run.log("authorization rejected (%s); re-authorizing", error.get("code"))
                    inflight_checks = 0
                    continue
                if decision.action == recovery.CHECK_EXISTING:
                    run.target_model_id = requested_target_id or model_id
                    run.show("verifying")
                    existing, get_error, _ = yield from _call(
                        context, run, "get_target_model",
                        {"target": target, "targetModelId": run.target_model_id}, policy, deadline)
                    if get_error:
                        raise fail(get_error)
                    if not existing.get("exists"):
                        # The id is taken by a copy still running into it: typically our own copy POST whose
                        # answer was lost (a transient error after the service had started it). Wait for it on
                        # durable timers; it lands (→ recognised as this model's copy) or fails (→ id freed).
                        inflight_checks += 1
                        fire_at = next_fire_at(context.current_utc_datetime, poll_delay(policy, inflight_checks),
                                               deadline)
                        if fire_at is None:
                            raise fail(recovery.inflight_copy_error(target, run.target_model_id,
                                                                    policy.deadline_seconds))
                        run.log("a copy into %s is still running; checking again", run.target_model_id)
                        run.show("polling")
                        yield context.create_timer(fire_at)
                        continue
                    inflight_checks = 0
                    if existing.get("status") == "invalid":
                        # the leftover of an earlier failed copy: remove it and authorize again
                        removed = yield from delete()
                        if removed and run.attempts < policy.max_authorization_attempts:
                            run.log("removed an invalid leftover %s; re-authorizing", run.target_model_id)
                            continue
                    elif _is_copy_of(fingerprint, existing.get("fingerprint") or {}):
                        run.log("target already holds this model's copy; nothing to do")
                        return (yield from succeed(already_present=True))
                    raise fail(recovery.existing_model_error(target, run.target_model_id))
                raise fail(error)
            inflight_checks = 0
            if started_copy.get("adopted"):
                # an earlier POST whose answer was lost did copy the model: keep it, make no second copy
                run.adopted = True
                run.target_model_id = started_copy["targetModelId"]
                break
            run.copy_started_at = context.current_utc_datetime
            run.target_model_id = started_copy.get("targetModelId") or run.target_model_id
            operation_url = started_copy["operationUrl"]
            run.log("copy started (attempt %d) into %s", run.attempts, run.target_model_id)

            # 3. poll on durable timers until done, the deadline, or a failure.
            run.show("copying")
            retry_after = None
            verdict: str | None = None
            copy_error: dict[str, Any] | None = None
            poll_number = 0
            while True:
                poll_number += 1
                fire_at = next_fire_at(context.current_utc_datetime,
                                       poll_delay(policy, poll_number, retry_after), deadline)
                if fire_at is None:
                    verdict = "deadline"
                    break
                yield context.create_timer(fire_at)
                polled, error, _ = yield from _call(context, run, "poll_copy",
                                                    {"source": source, "operationUrl": operation_url,
                                                     "targetModelId": run.target_model_id},
                                                    policy, deadline)
                run.polls += 1
                if error:
                    verdict, copy_error = "error", error
                    break
                run.copy_status = polled.get("status")
                retry_after = polled.get("retryAfter")
                if run.copy_status == "succeeded":
                    run.target_model_id = polled.get("targetModelId") or run.target_model_id
                    verdict = "succeeded"
                    break
                if run.copy_status in ("failed", "canceled"):
                    verdict = "failed"
                    copy_error = polled.get("error") or {"code": "CopyFailed",
                                                         "message": f"the copy ended '{run.copy_status}'"}
                    break
                run.show("polling")

            if verdict == "deadline":
                state = yield from settle()
                if state == "present":
                    return (yield from succeed(already_present=True))
                raise fail(recovery.deadline_error(policy.deadline_seconds, run.copy_status),
                           cleaned_up=state == "removed")
            if verdict in ("failed", "error"):
                decision = recovery.decide_failed_copy(copy_error, authorization_attempts=run.attempts,
                                                       policy=policy)
                state = yield from settle()
                if state == "present":
                    run.log("this copy failed (%s) but the target already holds the model's copy",
                            copy_error.get("code"))
                    return (yield from succeed(already_present=True))
                removed = state == "removed"
                if decision.action == recovery.REAUTHORIZE:
                    run.last_error = recovery.public_error(copy_error)
                    run.log("copy rejected the authorization (%s); re-authorizing", copy_error.get("code"))
                    if requested_target_id is None and data.get("apiVersion", "").startswith("v2"):
                        run.target_model_id = None  # v2: the next authorization gets a new service-assigned id
                    continue
                raise fail(copy_error, cleaned_up=removed)
            break

        # 4. verify the model on the target.
        run.show("verifying")
        found, error, _ = yield from _call(context, run, "get_target_model",
                                           {"target": target, "targetModelId": run.target_model_id},
                                           policy, deadline_at(context.current_utc_datetime, policy))
        if error:
            raise fail(error)
        if not found.get("exists"):
            raise fail({"code": "TargetModelMissing",
                        "message": f"the copy reported success but '{run.target_model_id}' is not on '{target}'",
                        "hint": "Start the copy again; if it persists, check the target resource in the portal."})
        if found.get("status") == "invalid":
            removed = yield from delete()
            raise fail({"code": "TargetModelInvalid",
                        "message": f"the copy reported success but '{run.target_model_id}' on '{target}' is invalid",
                        "hint": "The invalid model was removed; start the copy again."}, cleaned_up=removed)
        if not _is_copy_of(fingerprint, found.get("fingerprint") or {}):
            raise fail({"code": "TargetModelMismatch",
                        "message": f"'{run.target_model_id}' on '{target}' does not match the source model",
                        "hint": "Another process may have written this id; delete it on the target and retry."})
        run.last_error = None
        run.log("succeeded in %d attempt(s), %d poll(s)", run.attempts, run.polls)
        # an adopted copy was already on the target when we looked: report it like any copy found in place
        return (yield from succeed(already_present=run.adopted))
    except outcome.TargetCopyFailed as failure:
        if not run.pending(run.target_model_id):
            raise
        # The copy we kept failed, but a copy whose answer was lost may have landed: adopt it, delete the rest.
        adopted = yield from sweep(run.target_model_id, 0.0, adopt=True)
        if adopted is not None:
            run.adopted = True
            run.target_model_id = adopted
            run.last_error = None
            run.log("adopted %s, the copy of a POST whose answer was lost", adopted)
            return finish("succeeded", already_present=True)
        extra = {"cleaned_up": failure.result["cleanedUp"]} if "cleanedUp" in failure.result else {}
        raise fail(failure.result.get("error") or {}, **extra) from None
    except Exception as exc:  # a bug (an activity raised, bad input): still end Failed with a readable result
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise fail({"code": "InternalError", "message": first,
                    "hint": "Unexpected failure inside ModelFerry; see the host log for this instance."}) from exc


def _is_copy_of(source_fp: dict[str, Any], target_fp: dict[str, Any]) -> bool:
    return bool(steps.is_copy_of(source_fp, target_fp))
