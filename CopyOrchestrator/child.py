"""`copy_model_to_target`: copy one source model to one target, recovering from what the Copy API throws.

The workflow, top to bottom (`copy_workflow`):
1. `check_source`        the source model exists and is ready (a model still training is waited for);
   `copies_before`       v2: which copies of it the target already holds.
2. `authorize_and_start` authorize on the target and start the copy on the source, in ONE activity, so the
                         authorization's access token never enters history.
3. `poll`                poll the copy on durable timers (schedule, Retry-After and deadline from
                         `ferry.orchestration.polling`).
4. `verify`              the model on the target is this source model's copy; `remove_duplicates` (v2) deletes
                         copies that an interrupted execution of step 2 made under ids nobody recorded.
Each phase returns a typed result (`Running`, `Landed`, `Reauthorize`, `Finished`) or raises `TargetCopyFailed`,
which ends the child *Failed* carrying its result for the parent. Failures are decided by
`ferry.orchestration.recovery`: throttled/transient → wait and retry; rejected authorization → fresh one and
re-issue (bounded); target id taken → done if it already holds this model's copy; failed (3013) or overdue copy →
delete the invalid target model and report. Copies whose start answer was lost are handled by
`ferry.orchestration.lost_answers`, which the workflow calls at three points.

Deterministic: time comes from `context.current_utc_datetime`, settings from the input (frozen by `plan_copy`).
Replays of in-flight instances rely on the order of activities and timers below.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from ferry.contracts import (
    Answer,
    ChildInput,
    Contract,
    CopyPoll,
    CopyStarted,
    Deleted,
    ListCopies,
    PollCopy,
    SourceModel,
    SourceRef,
    StartCopy,
    TargetCopies,
    TargetModel,
    TargetRef,
)
from ferry.errors import FerryError, internal_error
from ferry.generations import is_v2
from ferry.kinds import Dependency, composed, kind_named
from ferry.orchestration import ids, outcome, progress, recovery
from ferry.orchestration.lost_answers import MAX_LOST_CHECKS, Found, LostAnswers
from ferry.orchestration.polling import (
    deadline_at,
    lost_copy_watch_seconds,
    next_fire_at,
    poll_delay,
)
from ResourceBudget.pace import wait_for_slots

log = logging.getLogger("modelferry.orchestration")

NAME = "copy_model_to_target"
__all__ = ["MAX_LOST_CHECKS", "NAME", "copy_model_to_target"]

T = TypeVar("T", bound=Contract)
Steps = Generator[Any, Any, Any]
Paced = tuple[tuple[str, str], ...]  # (resource alias, rate group) budgets a call waits for


# ------------------------------------------------------------------------------------------ phase results

@dataclass(frozen=True)
class Running:
    """A copy operation is running: poll it (on the source; `poll_on`: another resource, e.g. a compose on the
    target)."""

    operation_url: str
    target_model_id: str | None
    poll_on: str | None = None


@dataclass(frozen=True)
class Landed:
    """A copy is on the target under `target_model_id`: verify it."""

    target_model_id: str | None


@dataclass(frozen=True)
class Reauthorize:
    """Authorize and start again; `new_attempt` False when only waiting for a copy still running into the id."""

    new_attempt: bool = True


@dataclass(frozen=True)
class Finished:
    """The target already holds this model's copy: the run's result."""

    result: dict[str, Any] = field(default_factory=dict)


class Settled(Enum):
    """What a failed or abandoned copy left under its target id, once looked at (and cleaned up)."""

    COPY = "copy"  # a ready copy of this model (e.g. an earlier attempt whose answer was lost): done
    REMOVED = "removed"  # an unfinished/invalid model, now deleted
    ABSENT = "absent"  # nothing
    OTHER = "other"  # a ready model that is not this model's copy, or a leftover that could not be deleted


class StepFailed(Exception):
    """An activity failed with an error that waiting did not fix (or out of retries / time)."""

    def __init__(self, error: FerryError) -> None:
        super().__init__(str(error))
        self.error = error


# ------------------------------------------------------------------------------------------------ workflow

def copy_model_to_target(context: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Orchestrator body. Input: `ferry.contracts.ChildInput`. Output: `ferry.orchestration.outcome.target_result`."""
    run = TargetRun(context, ChildInput.from_dict(context.get_input()))
    try:
        return (yield from copy_workflow(run))
    except StepFailed as failed:  # a step failed in a way nothing in the workflow recovers from
        failure = run.fail(failed.error)
    except outcome.TargetCopyFailed as failed:
        failure = failed
    except Exception as exc:  # a bug (an activity raised, bad input): still end Failed with a readable result
        raise run.fail(internal_error(exc)) from exc
    if not run.lost.pending(run.target_model_id) and not run.may_have_duplicates:
        raise failure
    return (yield from adopt_after_failure(run, failure))


def copy_workflow(run: TargetRun) -> Steps:
    """Check the source, copy (re-authorizing as needed), verify: the result, or raises TargetCopyFailed."""
    source = yield from check_source(run)
    yield from copies_before(run)
    if source.dependencies and run.job.origin:
        raise run.fail(recovery.relay_refused_error(run.job.source, run.job.model_id))
    if source.dependencies:
        yield from copy_dependencies(run, [Dependency.from_dict(d) for d in source.dependencies])
    new_attempt = True
    while True:
        step = yield from authorize_and_start(run, source, new_attempt=new_attempt)
        if isinstance(step, Running):
            step = yield from poll(run, step)
        if isinstance(step, Finished):
            return step.result
        if isinstance(step, Landed):
            return (yield from verify(run))
        new_attempt = step.new_attempt


def check_source(run: TargetRun) -> Generator[Any, Any, SourceModel]:
    """1. The source model exists and is ready. One still being trained (v2 "creating") or built (v3+: a running
    build/compose operation) is waited for on durable timers, at the polling pace, within the copy deadline."""
    run.show("checking")
    not_ready_waits = 0
    while True:
        source = yield from run.call("check_source_model", SourceRef(source=run.job.source,
                                                                      model_id=run.job.model_id, kind=run.job.kind),
                                     SourceModel, run.deadline, paced=((run.job.source, "get"),))
        if source.ready:
            run.fingerprint = source.fingerprint or {}
            return source
        not_ready_waits += 1
        fire_at = next_fire_at(run.now, poll_delay(run.policy, not_ready_waits), run.deadline)
        if fire_at is None:
            raise run.fail(recovery.source_not_ready_error(run.job.model_id, run.job.source, source.status))
        run.log("source model not ready yet (%s); checking again", source.status)
        yield run.context.create_timer(fire_at)


def copies_before(run: TargetRun) -> Steps:
    """1b. v2: the copies of this model the target holds before this run copies anything (they are not ours)."""
    if not is_v2(run.job.api_version):
        return
    before = yield from run.call("list_target_copies", ListCopies(target=run.job.target,
                                                                  fingerprint=run.fingerprint),
                                 TargetCopies, run.deadline, paced=((run.job.target, "list"),))
    run.copies_before = set(before.ready) | set(before.creating)


def copy_dependencies(run: TargetRun, dependencies: list[Dependency]) -> Steps:
    """1c. A composed model's classifier and components, on the target under the same ids, before the composed model
    itself: each one run of this workflow (a sub-orchestration `<this id>:<kind>-<id>`; one already there counts).
    They run one after another, classifier first; any failure fails the composed copy, naming it."""
    for dep in dependencies:
        run.dependencies[f"{dep.kind}:{dep.id}"] = {"kind": dep.kind, "id": dep.id, "status": "queued"}
    run.show("dependencies")
    for dep in dependencies:
        entry = run.dependencies[f"{dep.kind}:{dep.id}"]
        entry["status"] = "copying"
        run.show()
        job = replace(run.job, kind=dep.kind, model_id=dep.id, target_model_id=dep.id)
        instance_id = ids.child_instance_id(run.context.instance_id, f"{dep.kind}-{dep.id}")
        try:
            result = yield run.context.call_sub_orchestrator(NAME, job.to_dict(), instance_id)
        except Exception as exc:  # the dependency's run ended Failed, carrying its result
            result = outcome.result_from_child_failure(exc, run.job.target)
        result = result if isinstance(result, dict) else {}
        entry.update(status=result.get("status") or "failed", instanceId=instance_id)
        if result.get("alreadyPresent"):
            entry["alreadyPresent"] = True
        if result.get("error"):
            entry["error"] = result["error"]
        run.log("dependency %s %s: %s", dep.kind, dep.id, entry["status"])
    failed = [e for e in run.dependencies.values() if e["status"] != "succeeded"]
    if failed:
        raise run.fail(recovery.dependency_error(run.job.target, run.job.model_id, failed))
    run.deadline = deadline_at(run.now, run.policy)  # the composed model's own copy gets a full deadline


def recompose(run: TargetRun) -> Steps:
    """2c. The service refused to copy the composed model: compose it on the target from the source's definition
    (its dependencies are there already), then poll that compose on the target like a copy."""
    run.recomposed = True
    run.show("composing")
    run.log("the service refused to copy the composed model; composing it on the target from its definition")
    request = StartCopy(source=run.job.source, target=run.job.target, source_model_id=run.job.model_id,
                        target_model_id=run.job.target_model_id or run.job.model_id)
    retries = recovery.Retries()
    while True:
        answer = yield from run.ask("compose_on_target", request, paced=((run.job.target, "manage"),))
        if answer.ok:
            started = CopyStarted.from_dict(answer.value)
            run.copy_started_at = run.now
            run.target_model_id = started.target_model_id or run.target_model_id
            return Running(started.operation_url, run.target_model_id, poll_on=run.job.target)
        if (yield from run.wait_to_retry("compose_on_target", answer.error, retries, run.deadline)):
            continue
        if answer.error.kind == "model_exists":
            return (yield from check_existing(run))
        raise run.fail(answer.error)


def authorize_and_start(run: TargetRun, source: SourceModel, *, new_attempt: bool) -> Steps:
    """2. Authorize on the target and start the copy on the source: Running, Landed (a lost copy adopted),
    Reauthorize or Finished."""
    if new_attempt:
        run.attempts += 1
    run.copy_status = None
    run.show("authorizing")
    request = StartCopy(source=run.job.source, target=run.job.target, source_model_id=run.job.model_id,
                        target_model_id=run.job.target_model_id, degrade=run.job.degrade,
                        description=source.description, tags=source.tags, kind=run.job.kind,
                        source_created=source.created, origin=run.job.origin)
    retries = recovery.Retries()
    while True:
        if retries.total:
            # Before re-issuing: an earlier POST whose answer was lost may have copied the model; keep that one.
            adopted = yield from run.lost.landed()
            if adopted is not None:
                run.adopted = True
                run.target_model_id = adopted
                return Landed(adopted)
        # authorizeCopy on the target and copyTo on the source: one slot of each resource's management budget,
        # for the same instant; the activity is woken a little early and sends both calls at that instant
        slot = yield from wait_for_slots(run.context, ((run.job.source, "manage"), (run.job.target, "manage")),
                                         lead=run.send_lead)
        not_before = slot.isoformat() if slot > run.now else None  # a slot already reached needs no hold
        answer = yield from run.ask("authorize_and_start_copy", replace(request, not_before=not_before))
        if answer.ok:
            started = CopyStarted.from_dict(answer.value)
            run.copy_started_at = run.now
            run.target_model_id = started.target_model_id or run.target_model_id
            run.log("copy started (attempt %d) into %s", run.attempts, run.target_model_id)
            return Running(started.operation_url, run.target_model_id)
        error = answer.error
        if run.lost.remember(error) and run.copy_started_at is None:
            run.copy_started_at = run.now
        if (yield from run.wait_to_retry("authorize_and_start_copy", error, retries, run.deadline)):
            continue
        if source.dependencies and composed.copy_refused(error.code, error.inner_code):
            return (yield from recompose(run))
        match recovery.after_failed_start(error, authorization_attempts=run.attempts, policy=run.policy):
            case recovery.Next.REAUTHORIZE:
                run.inflight_checks = 0
                run.last_error = error
                run.log("authorization rejected (%s); re-authorizing", error.code)
                return Reauthorize()
            case recovery.Next.CHECK_EXISTING:
                return (yield from check_existing(run))
        raise run.fail(error)


def check_existing(run: TargetRun) -> Steps:
    """2b. The target id is taken: a copy still running into it, a leftover, this model's copy, or another's."""
    run.target_model_id = run.job.target_model_id or run.job.model_id
    run.show("verifying")
    existing = yield from run.call("get_target_model", run.on_target(run.target_model_id), TargetModel,
                                   run.deadline)
    if not existing.exists:
        # The id is taken by a copy still running into it: typically our own copy POST whose answer was lost
        # (a transient error after the service had started it). Wait for it on durable timers; it lands
        # (→ recognised as this model's copy) or fails (→ id freed).
        run.inflight_checks += 1
        fire_at = next_fire_at(run.now, poll_delay(run.policy, run.inflight_checks), run.deadline)
        if fire_at is None:
            raise run.fail(recovery.inflight_copy_error(run.job.target, run.target_model_id,
                                                        run.policy.deadline_seconds))
        run.log("a copy into %s is still running; checking again", run.target_model_id)
        run.show("polling")
        yield run.context.create_timer(fire_at)
        return Reauthorize(new_attempt=False)
    run.inflight_checks = 0
    if existing.status == "invalid":
        # the leftover of an earlier failed copy: remove it and authorize again
        removed = yield from run.delete(run.target_model_id)
        if removed and run.attempts < run.policy.max_authorization_attempts:
            run.log("removed an invalid leftover %s; re-authorizing", run.target_model_id)
            return Reauthorize()
    elif run.is_copy(existing):
        run.log("target already holds this model's copy; nothing to do")
        return Finished((yield from succeed(run, already_present=True)))
    raise run.fail(recovery.existing_model_error(run.job.target, run.target_model_id))


def poll(run: TargetRun, started: Running) -> Steps:
    """3. Poll on durable timers until the copy is done (Landed), fails, or reaches the deadline."""
    run.inflight_checks = 0
    run.show("copying")
    retry_after = None
    poll_number = 0
    while True:
        poll_number += 1
        fire_at = next_fire_at(run.now, poll_delay(run.policy, poll_number, retry_after), run.deadline)
        if fire_at is None:
            return (yield from abandon_at_deadline(run))
        yield run.context.create_timer(fire_at)
        request = PollCopy(source=started.poll_on or run.job.source, operation_url=started.operation_url,
                           target_model_id=run.target_model_id)
        try:
            polled = yield from run.call("poll_copy", request, CopyPoll, run.deadline)
        except StepFailed as failed:
            run.polls += 1
            return (yield from after_failed_copy(run, failed.error))
        run.polls += 1
        run.copy_status = polled.status
        retry_after = polled.retry_after
        if polled.status == "succeeded":
            run.target_model_id = polled.target_model_id or run.target_model_id
            return Landed(run.target_model_id)
        if polled.status in ("failed", "canceled"):
            return (yield from after_failed_copy(run, polled.error or FerryError(
                kind="terminal", code="CopyFailed", message=f"the copy ended '{polled.status}'",
                hint="Start the copy again; if it fails again, check the source model and the target resource.")))
        run.show("polling")


def abandon_at_deadline(run: TargetRun) -> Steps:
    """3a. Out of time: done if the target holds the copy after all, else clean up and report."""
    settled = yield from settle(run)
    if settled is Settled.COPY:
        return Finished((yield from succeed(run, already_present=True)))
    removed = settled is Settled.REMOVED
    raise run.fail(recovery.deadline_error(run.policy.deadline_seconds, run.copy_status, removed=removed,
                                           target_model_id=None if settled is Settled.ABSENT
                                           else run.target_model_id),
                   cleaned_up=removed)


def after_failed_copy(run: TargetRun, copy_error: FerryError) -> Steps:
    """3b. The copy failed (or polling it did): clean up, then re-authorize or report."""
    decision = recovery.after_failed_copy(copy_error, authorization_attempts=run.attempts, policy=run.policy)
    settled = yield from settle(run)
    if settled is Settled.COPY:
        run.log("this copy failed (%s) but the target already holds the model's copy", copy_error.code)
        return Finished((yield from succeed(run, already_present=True)))
    if decision is recovery.Next.REAUTHORIZE:
        run.last_error = copy_error
        run.log("copy rejected the authorization (%s); re-authorizing", copy_error.code)
        if run.job.target_model_id is None and is_v2(run.job.api_version):
            run.target_model_id = None  # v2: the next authorization gets a new service-assigned id
        return Reauthorize()
    removed = settled is Settled.REMOVED
    raise run.fail(recovery.after_cleanup(copy_error, removed=removed,
                                          target_model_id=None if settled is Settled.ABSENT else run.target_model_id),
                   cleaned_up=removed)


def verify(run: TargetRun) -> Steps:
    """4. The model is on the target, valid, and this source model's copy."""
    run.show("verifying")
    found = yield from run.call("get_target_model", run.on_target(run.target_model_id), TargetModel,
                                run.fresh_deadline())
    if not found.exists:
        raise run.fail(recovery.target_missing_error(run.job.target, run.target_model_id))
    if found.status == "invalid":
        removed = yield from run.delete(run.target_model_id)
        raise run.fail(recovery.target_invalid_error(run.job.target, run.target_model_id, removed=removed),
                       cleaned_up=removed)
    if not run.is_copy(found):
        raise run.fail(recovery.target_mismatch_error(run.job.target, run.target_model_id))
    run.last_error = None
    run.log("succeeded in %d attempt(s), %d poll(s)", run.attempts, run.polls)
    # an adopted copy was already on the target when we looked: report it like any copy found in place
    return (yield from succeed(run, already_present=run.adopted))


def verify_dependencies(run: TargetRun) -> Steps:
    """4b. A composed model's classifier and components exist on the target (a composed model is useless
    without them)."""
    missing = []
    for entry in run.dependencies.values():
        found = yield from run.call("get_target_model", TargetRef(target=run.job.target, target_model_id=entry["id"],
                                                                  kind=entry["kind"]), TargetModel,
                                    run.fresh_deadline())
        if not found.exists or found.status != "ready":
            missing.append(f"{entry['kind']} '{entry['id']}'")
    if missing:
        raise run.fail(recovery.dependency_missing_error(run.job.target, run.target_model_id, missing))


def settle(run: TargetRun) -> Generator[Any, Any, Settled]:
    """After a failed or abandoned copy, look at the target id before touching it (see `Settled`)."""
    if not run.target_model_id:
        return Settled.ABSENT
    found = yield from run.look(run.target_model_id)
    if found is Found.LEFTOVER:
        return Settled.REMOVED if (yield from run.delete(run.target_model_id)) else Settled.OTHER
    return {Found.COPY: Settled.COPY, Found.OTHER: Settled.OTHER, Found.ABSENT: Settled.ABSENT}[found]


def succeed(run: TargetRun, **extra: Any) -> Generator[Any, Any, dict[str, Any]]:
    """Success, after removing the copies of lost answers and (v2) of interrupted executions, but one."""
    watch = lost_copy_watch_seconds(run.copy_started_at, run.now, run.policy)
    yield from run.lost.sweep(run.target_model_id, watch)
    if run.target_model_id:
        run.target_model_id = yield from remove_duplicates(run, watch, keep=run.target_model_id)
    run.last_error = None
    return run.finish("succeeded", **extra)


def remove_duplicates(run: TargetRun, watch_seconds: float, keep: str | None = None) -> Generator[Any, Any, str | None]:
    """v2: delete the copies of this model that appeared on the target during this run, but one; its id.

    An execution of `authorize_and_start_copy` killed after its copy POST is run again (at least once), and in
    v2 each run copies into a NEW service-assigned id that only the killed execution knew. Such copies started
    before the kept one (`keep`, None when the run's own copy failed), so they land within about the time it
    took: models still being created on the target are watched that long. Of the copies found, the smallest id
    is kept (so two runs that race converge on the same model instead of deleting each other's)."""
    if run.copies_before is None:
        return keep
    until = run.now + timedelta(seconds=max(watch_seconds, 0.0))
    for check in range(1, MAX_LOST_CHECKS + 1):
        found = yield from run.call("list_target_copies", ListCopies(target=run.job.target,
                                                                     fingerprint=run.fingerprint),
                                    TargetCopies, run.fresh_deadline(), paced=((run.job.target, "list"),))
        ours = sorted({i for i in found.ready if i not in run.copies_before} | ({keep} if keep else set()))
        if ours:
            for extra in ours[1:]:
                run.show("cleaning-up")
                if (yield from run.delete(extra)):
                    run.log("deleted %s, a copy made by an interrupted execution of this run", extra)
                    run.removed_duplicates.append(extra)
            if keep != ours[0]:
                run.log("keeping %s (a copy made by this run)", ours[0])
                keep = ours[0]
        landing = [i for i in found.creating if i not in run.copies_before and i not in ours]
        if not landing:
            break
        fire_at = next_fire_at(run.now, poll_delay(run.policy, check), until)
        if fire_at is None:
            break
        yield run.context.create_timer(fire_at)
    return keep


def adopt_after_failure(run: TargetRun, failure: outcome.TargetCopyFailed) -> Steps:
    """The copy we kept failed, but another copy of this run may have landed: one whose answer was lost, or (v2)
    one an interrupted execution made. Adopt it, delete the rest."""
    adopted = yield from run.lost.sweep(run.target_model_id, 0.0, adopt=True)
    if adopted is None and run.may_have_duplicates:
        try:
            adopted = yield from remove_duplicates(
                run, lost_copy_watch_seconds(run.copy_started_at, run.now, run.policy))
        except StepFailed as failed:  # cannot list the target: report the copy's own failure
            run.log("could not look for other copies on the target: %s", failed.error.code)
    if adopted is not None:
        run.adopted = True
        run.target_model_id = adopted
        run.last_error = None
        run.log("adopted %s, a copy this run made whose answer it never got", adopted)
        return run.finish("succeeded", already_present=True)
    extra = {"cleaned_up": failure.result["cleanedUp"]} if "cleanedUp" in failure.result else {}
    raise run.fail(failure.error or FerryError.from_dict(failure.result.get("error")), **extra) from None


# ------------------------------------------------------------------------------------------- the run's state

class TargetRun:
    """One run of the child: its input, the durable calls it makes, and what its custom status shows."""

    def __init__(self, context: Any, job: ChildInput) -> None:
        self.context = context
        self.job = job
        self.kind = kind_named(job.kind)  # what differs between models and classifiers (ferry.kinds)
        self.policy = job.policy
        self.started = context.current_utc_datetime
        self.deadline = deadline_at(self.started, self.policy)
        self.fingerprint: dict[str, Any] = {}  # the source model's: identifies copies of it
        self.lost = LostAnswers(self, self.policy)
        # shown in the custom status / reported in the result
        self.target_model_id = job.target_model_id
        self.stage = "checking"
        self.attempts = 0
        self.inflight_checks = 0  # waits for a copy still running into the target id (they are no new attempt)
        self.retries = 0
        self.throttled = 0  # 429 answers waited out (the finished-run record's `throttled`)
        self.polls = 0
        self.copy_status: str | None = None
        self.last_error: FerryError | None = None
        self.adopted = False
        self.copies_before: set[str] | None = None  # v2: copies of the model on the target before this run
        self.removed_duplicates: list[str] = []  # v2: copies made by interrupted executions, deleted
        self.copy_started_at: datetime | None = None  # when the copy we keep was issued (bounds the lost watch)
        # a composed model's: "<kind>:<id>" → {kind, id, status, instanceId, alreadyPresent?, error?}
        self.dependencies: dict[str, dict[str, Any]] = {}
        self.recomposed = False  # composed again on the target (the service refused the copy)

    @property
    def now(self) -> datetime:
        return self.context.current_utc_datetime

    @property
    def may_have_duplicates(self) -> bool:
        """v2, and a copy was authorized: an interrupted execution may have copied under an id nobody knows."""
        return self.copies_before is not None and self.attempts > 0

    @property
    def send_lead(self) -> timedelta:
        """How long before its rate-budget slot the authorize+copy activity is woken (it holds the calls until
        the slot): FERRY_PACING_LEAD_MS, frozen in the policy."""
        return timedelta(milliseconds=self.policy.pacing_lead_ms)

    def fresh_deadline(self) -> datetime:
        """Cleanup and verification get their own deadline: they must run even after the copy's has passed."""
        return deadline_at(self.now, self.policy)

    def on_target(self, model_id: str | None) -> TargetRef:
        return TargetRef(target=self.job.target, target_model_id=model_id, kind=self.job.kind)

    def is_copy(self, found: TargetModel) -> bool:
        """Whether a model (or classifier) on the target is this source artifact's copy."""
        return bool(self.kind.is_copy_of(self.fingerprint, found.fingerprint or {}))

    # -- durable calls ------------------------------------------------------------------------------------------

    def ask(self, name: str, payload: Contract, paced: Paced = ()) -> Generator[Any, Any, Answer]:
        """One activity, once; first waiting for a slot of each `(resource alias, rate group)` budget in `paced`
        (`ResourceBudget.pace`: every copy, whatever started it, shares one budget per resource)."""
        if paced:
            yield from wait_for_slots(self.context, paced)
        envelope = yield self.context.call_activity(name, payload.to_dict())
        return Answer.from_dict(envelope)

    def call(self, name: str, payload: Contract, result: type[T], deadline: datetime, paced: Paced = (),
             ) -> Generator[Any, Any, T]:
        """One activity, retried on durable timers while throttled/transient; raises StepFailed otherwise."""
        retries = recovery.Retries()
        while True:
            answer = yield from self.ask(name, payload, paced)
            if answer.ok:
                return result.from_dict(answer.value)
            if not (yield from self.wait_to_retry(name, answer.error, retries, deadline)):
                raise StepFailed(answer.error)

    def wait_to_retry(self, name: str, error: FerryError, retries: recovery.Retries, deadline: datetime
                      ) -> Generator[Any, Any, bool]:
        """Wait on a durable timer if `error` is worth another try (kind, budget, deadline); False if not."""
        delay = recovery.retry_delay(error, retries, self.policy, seed=self.context.instance_id)
        if delay is None:
            return False
        fire_at = next_fire_at(self.now, delay, deadline)
        if fire_at is None:
            return False
        if error.kind == "missed_slot":  # nothing was sent: the next slot's reservation is the wait
            self.log("%s: missed its rate-budget slot (%d); taking another", name, retries.missed)
            return True
        self.retries += 1
        self.throttled += error.kind == "throttled"
        self.last_error = error
        self.log("%s: %s error %s; retry %d in %.1fs", name, error.kind, error.code, retries.total, delay)
        self.show()
        yield self.context.create_timer(fire_at)
        return True

    def wait_until(self, fire_at: datetime) -> Generator[Any, Any, None]:
        yield self.context.create_timer(fire_at)

    def delete(self, model_id: str | None) -> Generator[Any, Any, bool]:
        """Delete the target model `model_id`; True if one was removed."""
        self.show("cleaning-up")
        try:
            done = yield from self.call("delete_target_model", self.on_target(model_id), Deleted,
                                        self.fresh_deadline(), paced=((self.job.target, "manage"),))
        except StepFailed as failed:
            self.log("cleanup of %s failed: %s", model_id, failed.error.code)
            return False
        return done.deleted

    def look(self, model_id: str) -> Generator[Any, Any, Found]:
        """What `model_id` on the target holds, for this copy."""
        try:
            found = yield from self.call("get_target_model", self.on_target(model_id), TargetModel,
                                         self.fresh_deadline())
        except StepFailed:
            return Found.ABSENT
        if not found.exists:
            return Found.ABSENT
        if found.status == "ready":
            return Found.COPY if self.is_copy(found) else Found.OTHER
        return Found.LEFTOVER

    # -- status and result --------------------------------------------------------------------------------------

    def show(self, stage: str | None = None) -> None:
        if stage is not None:
            self.stage = stage
        self.context.set_custom_status(progress.child_status(
            target=self.job.target, stage=self.stage, attempts=self.attempts, target_model_id=self.target_model_id,
            error=self.last_error.public() if self.last_error else None, retries=self.retries, polls=self.polls,
            last_copy_status=self.copy_status, unconfirmed=len(self.lost.pending(self.target_model_id)),
            dependencies={key: entry["status"] for key, entry in self.dependencies.items()}))

    def log(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("%s [%s → %s] " + message, self.context.instance_id, NAME, self.job.target, *args)

    def finish(self, status: str, error: FerryError | None = None, **extra: Any) -> dict[str, Any]:
        """The result (also shown as the final custom status)."""
        self.last_error = error
        self.show(status)
        return outcome.target_result(
            target=self.job.target, status=status, target_model_id=self.target_model_id, error=error,
            attempts=self.attempts, duration_seconds=(self.now - self.started).total_seconds(),
            adopted=self.adopted, cleaned_up_ids=self.lost.cleaned + self.removed_duplicates,
            unresolved_ids=self.lost.unresolved, throttled=self.throttled,
            dependencies=list(self.dependencies.values()), recomposed=self.recomposed, **extra)

    def fail(self, error: FerryError, **extra: Any) -> outcome.TargetCopyFailed:
        """The exception that ends the child Failed with its result (raise it)."""
        result = self.finish("failed", error, **extra)
        self.log("failed: %s", error.code)
        return outcome.TargetCopyFailed(result, error)
