"""`copy_model_to_target`: copy one source model to one target, recovering from what the Copy API throws.

`_TargetCopy` holds one run: its input, the bookkeeping shown in the custom status, and each step as a generator
method (composed with `yield from`). The phases: check the source (exists, ready) → authorize on the target +
start the copy on the source (one activity, so the authorization's access token never enters history) → poll on
durable timers (schedule, Retry-After and deadline from `ferry.orchestration.polling`) → verify the model on the
target. Failures are decided by `ferry.orchestration.recovery`: throttled/transient → wait and retry; rejected
authorization → fresh one and re-issue (bounded); target id taken → idempotent success if it already is this
model's copy; failed (3013) or overdue copy → delete the invalid target model and report. A failed target ends
*Failed* (TargetCopyFailed) carrying its result for the parent.

Lost answers: when the copy POST fails without an answer (kind "transient": the connection dropped, a 5xx) the
service may have started the copy anyway. The activity's error carries the target model id it authorized (never
the token); the child remembers every such id (`_TargetCopy.unconfirmed`). Before re-issuing it looks for them on
the target and adopts a landed copy instead of making a second one; after the copy it keeps, it watches the
others on durable timers (bounded, see `ferry.orchestration.polling.lost_copy_watch_seconds`) and deletes those
that land, so the target ends with exactly one model. If the kept copy fails, a landed lost copy is adopted
instead. This matters most in v2, where a re-issue gets a NEW service-assigned id.

Deterministic: time comes from `context.current_utc_datetime`, settings from the input (frozen by `plan_copy`).
Replays of in-flight instances rely on the exact order of activities, timers and custom statuses below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any

from ferry import steps
from ferry.orchestration import outcome, progress, recovery
from ferry.orchestration.policy import CopyPolicy
from ferry.orchestration.polling import (
    deadline_at,
    lost_copy_watch_seconds,
    next_fire_at,
    poll_delay,
    transient_delay,
)

log = logging.getLogger("modelferry.orchestration")

NAME = "copy_model_to_target"
# At most this many rounds of looks for the copies of lost answers (each round also bounded by the watch time).
MAX_LOST_CHECKS = 12

# What a phase of the copy loop leads to (or the finished result, a dict, when the target already holds the copy).
STARTED = "started"  # a copy operation is running: poll it
AGAIN = "again"  # authorize and start the copy again
LANDED = "landed"  # a copy is on the target: verify it

Steps = Generator[Any, Any, Any]


def copy_model_to_target(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: {modelId, source, target, targetModelId|None, apiVersion, degrade, policy}."""
    copy = _TargetCopy(context)
    try:
        return (yield from copy.run())
    except outcome.TargetCopyFailed as failure:
        if not copy.pending(copy.target_model_id):
            raise
        return (yield from copy.adopt_after_failure(failure))
    except Exception as exc:  # a bug (an activity raised, bad input): still end Failed with a readable result
        raise copy.fail(recovery.internal_error(exc)) from exc


class _TargetCopy:
    """One run of the child orchestrator: input, per-run bookkeeping (it feeds the custom status) and the steps."""

    def __init__(self, context: Any) -> None:
        data = context.get_input() or {}
        self.context = context
        self.policy = CopyPolicy.from_dict(data.get("policy"))
        self.source, self.target, self.model_id = data["source"], data["target"], data["modelId"]
        self.requested_target_id: str | None = data.get("targetModelId")
        self.api_version = data.get("apiVersion", "")
        self.degrade = bool(data.get("degrade"))
        self.started = context.current_utc_datetime
        self.deadline = deadline_at(self.started, self.policy)
        self.source_model: dict[str, Any] = {}
        self.fingerprint: dict[str, Any] = {}  # the source model's, set by `check_source`; identifies copies of it
        self.operation_url: str | None = None
        # shown in the custom status / reported in the result
        self.target_model_id = self.requested_target_id
        self.stage = "checking"
        self.attempts = 0
        self.inflight_checks = 0  # waits for a copy still running into the target id (they are no new attempt)
        self.retries = 0
        self.polls = 0
        self.copy_status: str | None = None
        self.last_error: dict[str, Any] | None = None
        self.unconfirmed: list[str] = []  # authorized target ids whose copy POST answer was lost
        self.cleaned: list[str] = []  # of those, deleted from the target (abandoned copies that landed)
        self.unresolved: list[str] = []  # of those, never seen on the target while watched
        self.adopted = False
        self.copy_started_at: datetime | None = None  # when the copy we keep was issued (bounds the lost watch)

    # -- phases -------------------------------------------------------------------------------------------------

    def run(self) -> Steps:
        """Check the source, copy (re-authorizing as needed), verify: the result, or raises TargetCopyFailed."""
        yield from self.check_source()
        while True:
            step = yield from self.start_copy()
            if step == STARTED:
                step = yield from self.poll_copy()
            if step == LANDED:
                return (yield from self.verify())
            if step != AGAIN:
                return step

    def check_source(self) -> Steps:
        """1. The source model exists and is ready (a model still training gets a few waits)."""
        self.show("checking")
        not_ready_waits = 0
        while True:
            source_model, error, _ = yield from self.call(
                "check_source_model", {"source": self.source, "modelId": self.model_id}, self.deadline)
            if error:
                raise self.fail(error)
            if source_model.get("ready", False):
                break
            fire_at = next_fire_at(self.now, transient_delay(not_ready_waits + 1), self.deadline)
            if not_ready_waits >= self.policy.max_transient_retries or fire_at is None:
                raise self.fail(recovery.source_not_ready_error(self.model_id, self.source,
                                                                source_model.get("status", "unknown")))
            not_ready_waits += 1
            self.log("source model not ready yet (%s); checking again", source_model.get("status"))
            yield self.context.create_timer(fire_at)
        self.source_model = source_model
        self.fingerprint = source_model.get("fingerprint") or {}

    def start_copy(self) -> Steps:
        """2. Authorize on the target and start the copy on the source, in one activity.

        STARTED (poll `operation_url`), LANDED (adopted the copy of a lost answer), AGAIN, or the result."""
        if self.inflight_checks == 0:
            self.attempts += 1
        self.copy_status = None
        self.show("authorizing")
        started, error, decision = yield from self.call(
            "authorize_and_start_copy",
            {"source": self.source, "target": self.target, "sourceModelId": self.model_id,
             "targetModelId": self.requested_target_id, "degrade": self.degrade,
             "description": self.source_model.get("description"), "tags": self.source_model.get("tags")},
            self.deadline, authorization_attempts=self.attempts, before_retry=self.adopt_lost)
        if error:
            if decision.action == recovery.REAUTHORIZE:
                self.last_error = recovery.public_error(error)
                self.log("authorization rejected (%s); re-authorizing", error.get("code"))
                self.inflight_checks = 0
                return AGAIN
            if decision.action == recovery.CHECK_EXISTING:
                return (yield from self.check_existing())
            raise self.fail(error)
        self.inflight_checks = 0
        if started.get("adopted"):
            # an earlier POST whose answer was lost did copy the model: keep it, make no second copy
            self.adopted = True
            self.target_model_id = started["targetModelId"]
            return LANDED
        self.copy_started_at = self.now
        self.target_model_id = started.get("targetModelId") or self.target_model_id
        self.operation_url = started["operationUrl"]
        self.log("copy started (attempt %d) into %s", self.attempts, self.target_model_id)
        return STARTED

    def check_existing(self) -> Steps:
        """2b. The target id is taken: a copy still running into it, a leftover, this model's copy, or another's."""
        self.target_model_id = self.requested_target_id or self.model_id
        self.show("verifying")
        existing, error, _ = yield from self.call("get_target_model", self.on_target(self.target_model_id),
                                                  self.deadline)
        if error:
            raise self.fail(error)
        if not existing.get("exists"):
            # The id is taken by a copy still running into it: typically our own copy POST whose answer was lost
            # (a transient error after the service had started it). Wait for it on durable timers; it lands
            # (→ recognised as this model's copy) or fails (→ id freed).
            self.inflight_checks += 1
            fire_at = next_fire_at(self.now, poll_delay(self.policy, self.inflight_checks), self.deadline)
            if fire_at is None:
                raise self.fail(recovery.inflight_copy_error(self.target, self.target_model_id,
                                                             self.policy.deadline_seconds))
            self.log("a copy into %s is still running; checking again", self.target_model_id)
            self.show("polling")
            yield self.context.create_timer(fire_at)
            return AGAIN
        self.inflight_checks = 0
        if existing.get("status") == "invalid":
            # the leftover of an earlier failed copy: remove it and authorize again
            removed = yield from self.delete()
            if removed and self.attempts < self.policy.max_authorization_attempts:
                self.log("removed an invalid leftover %s; re-authorizing", self.target_model_id)
                return AGAIN
        elif self.is_copy(existing):
            self.log("target already holds this model's copy; nothing to do")
            return (yield from self.succeed(already_present=True))
        raise self.fail(recovery.existing_model_error(self.target, self.target_model_id))

    def poll_copy(self) -> Steps:
        """3. Poll on durable timers until the copy is done (LANDED), fails, or reaches the deadline."""
        self.show("copying")
        retry_after = None
        poll_number = 0
        while True:
            poll_number += 1
            fire_at = next_fire_at(self.now, poll_delay(self.policy, poll_number, retry_after), self.deadline)
            if fire_at is None:
                return (yield from self.abandon_at_deadline())
            yield self.context.create_timer(fire_at)
            polled, error, _ = yield from self.call(
                "poll_copy", {"source": self.source, "operationUrl": self.operation_url,
                              "targetModelId": self.target_model_id}, self.deadline)
            self.polls += 1
            if error:
                return (yield from self.after_failed_copy(error))
            self.copy_status = polled.get("status")
            retry_after = polled.get("retryAfter")
            if self.copy_status == "succeeded":
                self.target_model_id = polled.get("targetModelId") or self.target_model_id
                return LANDED
            if self.copy_status in ("failed", "canceled"):
                return (yield from self.after_failed_copy(
                    polled.get("error") or {"code": "CopyFailed", "message": f"the copy ended '{self.copy_status}'"}))
            self.show("polling")

    def abandon_at_deadline(self) -> Steps:
        """3a. Out of time: done if the target holds the copy after all, else clean up and report."""
        state = yield from self.settle()
        if state == "copy":
            return (yield from self.succeed(already_present=True))
        removed = state == "removed"
        raise self.fail(recovery.deadline_error(self.policy.deadline_seconds, self.copy_status, removed=removed,
                                                target_model_id=None if state == "absent" else self.target_model_id),
                        cleaned_up=removed)

    def after_failed_copy(self, copy_error: dict[str, Any]) -> Steps:
        """3b. The copy failed (or polling it did): clean up, then re-authorize (AGAIN) or report."""
        decision = recovery.decide_failed_copy(copy_error, authorization_attempts=self.attempts, policy=self.policy)
        state = yield from self.settle()
        if state == "copy":
            self.log("this copy failed (%s) but the target already holds the model's copy", copy_error.get("code"))
            return (yield from self.succeed(already_present=True))
        if decision.action == recovery.REAUTHORIZE:
            self.last_error = recovery.public_error(copy_error)
            self.log("copy rejected the authorization (%s); re-authorizing", copy_error.get("code"))
            if self.requested_target_id is None and self.api_version.startswith("v2"):
                self.target_model_id = None  # v2: the next authorization gets a new service-assigned id
            return AGAIN
        raise self.fail(copy_error, cleaned_up=state == "removed")

    def verify(self) -> Steps:
        """4. The model is on the target, valid, and this source model's copy."""
        self.show("verifying")
        found, error, _ = yield from self.call("get_target_model", self.on_target(self.target_model_id),
                                               self.fresh_deadline())
        if error:
            raise self.fail(error)
        if not found.get("exists"):
            raise self.fail(recovery.target_missing_error(self.target, self.target_model_id))
        if found.get("status") == "invalid":
            removed = yield from self.delete()
            raise self.fail(recovery.target_invalid_error(self.target, self.target_model_id, removed=removed),
                            cleaned_up=removed)
        if not self.is_copy(found):
            raise self.fail(recovery.target_mismatch_error(self.target, self.target_model_id))
        self.last_error = None
        self.log("succeeded in %d attempt(s), %d poll(s)", self.attempts, self.polls)
        # an adopted copy was already on the target when we looked: report it like any copy found in place
        return (yield from self.succeed(already_present=self.adopted))

    def adopt_after_failure(self, failure: outcome.TargetCopyFailed) -> Steps:
        """The copy we kept failed, but a copy whose answer was lost may have landed: adopt it, delete the rest."""
        adopted = yield from self.sweep(self.target_model_id, 0.0, adopt=True)
        if adopted is not None:
            self.adopted = True
            self.target_model_id = adopted
            self.last_error = None
            self.log("adopted %s, the copy of a POST whose answer was lost", adopted)
            return self.finish("succeeded", already_present=True)
        extra = {"cleaned_up": failure.result["cleanedUp"]} if "cleanedUp" in failure.result else {}
        raise self.fail(failure.result.get("error") or {}, **extra) from None

    # -- steps on the target ------------------------------------------------------------------------------------

    def call(self, name: str, payload: dict[str, Any], deadline: datetime, authorization_attempts: int = 0,
             before_retry: Callable[[], Steps] | None = None) -> Generator[Any, Any, tuple[Any, Any, Any]]:
        """One activity, retried on durable timers while throttled/transient. Returns (value, error, decision).

        `before_retry` runs after each retry timer; a non-None value it returns is returned instead of retrying
        (used to adopt a copy whose POST answer was lost rather than start a second one)."""
        retries = 0
        while True:
            envelope = yield self.context.call_activity(name, payload)
            if envelope.get("ok"):
                return envelope.get("value"), None, None
            error = envelope.get("error") or {}
            self.remember_lost(error)
            decision = recovery.decide_step_error(error, retries_so_far=retries,
                                                  authorization_attempts=authorization_attempts, policy=self.policy)
            if decision.action != recovery.RETRY:
                return None, error, decision
            fire_at = next_fire_at(self.now, decision.delay_seconds, deadline)
            if fire_at is None:
                return None, error, recovery.Decision(recovery.FAIL, reason="deadline reached while retrying")
            retries += 1
            self.retries += 1
            self.last_error = recovery.public_error(error)
            self.log("%s: %s; retry %d in %.1fs", name, decision.reason, retries, decision.delay_seconds)
            self.show()
            yield self.context.create_timer(fire_at)
            if before_retry is not None:
                instead = yield from before_retry()
                if instead is not None:
                    return instead, None, None

    def delete(self, model_id: str | None = None) -> Generator[Any, Any, bool]:
        """Delete the target model `model_id` (default `self.target_model_id`); True if one was removed."""
        model_id = model_id or self.target_model_id
        self.show("cleaning-up")
        value, error, _ = yield from self.call("delete_target_model", self.on_target(model_id),
                                               self.fresh_deadline())
        if error:
            self.log("cleanup of %s failed: %s", model_id, error.get("code"))
            return False
        return bool(value and value.get("deleted"))

    def look(self, model_id: str) -> Generator[Any, Any, str]:
        """'absent' | 'copy' (a ready copy of this model) | 'other' (ready, not this model's) | 'leftover'."""
        found, error, _ = yield from self.call("get_target_model", self.on_target(model_id), self.fresh_deadline())
        if error or not found.get("exists"):
            return "absent"
        if found.get("status") == "ready":
            return "copy" if self.is_copy(found) else "other"
        return "leftover"

    def settle(self) -> Generator[Any, Any, str]:
        """After a failed or abandoned copy, look at the target id before touching it.

        'copy': it holds a ready copy of this model (e.g. an earlier attempt whose answer was lost): done.
        'removed': an unfinished/invalid model was there and is deleted. 'absent': nothing there.
        'other': a ready model that is not this model's copy (someone else's), or a leftover that could not be
        deleted: left alone.
        """
        if not self.target_model_id:
            return "absent"
        state = yield from self.look(self.target_model_id)
        if state != "leftover":
            return state
        removed = yield from self.delete()
        return "removed" if removed else "other"

    def adopt_lost(self) -> Generator[Any, Any, dict[str, Any] | None]:
        """Before re-issuing a copy whose answer was lost: did an earlier lost copy land? Then keep it."""
        for lost in self.pending(None):
            state = yield from self.look(lost)
            if state == "copy":
                self.log("the copy whose answer was lost landed in %s; adopting it", lost)
                return {"adopted": True, "targetModelId": lost}
            if state == "leftover" and (yield from self.delete(lost)):
                self.cleaned.append(lost)
        return None

    def sweep(self, keep: str | None, watch_seconds: float, adopt: bool = False) -> Generator[Any, Any, str | None]:
        """Resolve the ids of lost copies other than `keep`: delete those that landed (abandoned copies), watching
        the rest on durable timers for `watch_seconds`. With `adopt`, the first ready copy found is kept instead
        and its id returned. Ids still unseen at the end are reported as unresolved."""
        pending = self.pending(keep)
        if not pending:
            return None
        adopted: str | None = None
        until = self.now + timedelta(seconds=max(watch_seconds, 0.0))
        for check in range(1, MAX_LOST_CHECKS + 1):
            self.show("cleaning-up")
            unseen = []
            for lost in pending:
                state = yield from self.look(lost)
                if state == "absent":
                    unseen.append(lost)
                elif state == "copy" and adopt and adopted is None:
                    adopted = lost
                elif state == "other":
                    self.log("%s holds a model that is not this model's copy; left alone", lost)
                elif (yield from self.delete(lost)):
                    self.log("deleted %s, the copy of a POST whose answer was lost", lost)
                    self.cleaned.append(lost)
                else:
                    unseen.append(lost)
            pending = unseen
            if not pending:
                break
            fire_at = next_fire_at(self.now, poll_delay(self.policy, check), until)
            if fire_at is None:
                break
            yield self.context.create_timer(fire_at)
        self.unresolved = [i for i in pending if i != adopted]
        if self.unresolved:
            self.log("no copy appeared in %s; reported as unresolved", ", ".join(self.unresolved))
        return adopted

    def succeed(self, **extra: Any) -> Generator[Any, Any, dict[str, Any]]:
        """Success, after removing the copies of lost answers other than the one kept."""
        yield from self.sweep(self.target_model_id,
                              lost_copy_watch_seconds(self.copy_started_at, self.now, self.policy))
        self.last_error = None
        return self.finish("succeeded", **extra)

    # -- bookkeeping --------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.context.current_utc_datetime

    def fresh_deadline(self) -> datetime:
        """Cleanup and verification get their own deadline: they must run even after the copy's has passed."""
        return deadline_at(self.now, self.policy)

    def on_target(self, model_id: str | None) -> dict[str, Any]:
        return {"target": self.target, "targetModelId": model_id}

    def is_copy(self, found: dict[str, Any]) -> bool:
        """Whether a `get_target_model` answer is this source model's copy."""
        return bool(steps.is_copy_of(self.fingerprint, found.get("fingerprint") or {}))

    def remember_lost(self, error: dict[str, Any]) -> None:
        """A copy POST without an answer: its authorized id may yet receive a copy."""
        lost = error.get("targetModelId")
        if lost and error.get("kind") == "transient" and lost not in self.unconfirmed:
            self.unconfirmed.append(str(lost))
            if self.copy_started_at is None:
                self.copy_started_at = self.now

    def pending(self, keep: str | None) -> list[str]:
        """The lost copies still to resolve, other than `keep`."""
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

    def finish(self, status: str, error: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """The result (also shown as the final custom status)."""
        self.last_error = recovery.public_error(error) if error else None
        self.show(status)
        return outcome.target_result(
            target=self.target, status=status, target_model_id=self.target_model_id, error=error,
            attempts=self.attempts, duration_seconds=(self.now - self.started).total_seconds(),
            adopted=self.adopted, cleaned_up_ids=self.cleaned, unresolved_ids=self.unresolved, **extra)

    def fail(self, error: dict[str, Any], **extra: Any) -> outcome.TargetCopyFailed:
        """The exception that ends the child Failed with its result (raise it)."""
        result = self.finish("failed", error, **extra)
        self.log("failed: %s", result["error"]["code"])
        return outcome.TargetCopyFailed(result)
