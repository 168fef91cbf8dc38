"""Orchestration episodes: build the context, run the SDK, replay its actions, record everything atomically.

Why a mixin: the episode procedure is the engine's core and long; keeping it apart from the scheduler and the
management surface keeps each readable. It relies on ``Engine`` for ``index``, ``clock``, ``stats`` and ``_db()``.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from typing import Any

from devhost import functions as fx

from . import history as h
from .clock import iso_z, parse_iso
from .errors import NonDeterminismError
from .payloads import entity_parts, json_token, stored_input
from .replay import ENTITY_CALL, HTTP, SIGNAL, SUB, TIMER, Replayer, ScheduledWork
from .store import Store

log = logging.getLogger("devhost")
RUNNING_STATES = frozenset({"Pending", "Running", "Suspended", "ContinuedAsNew"})


class EpisodeMixin:
    """One episode of one instance (the scheduler guarantees one at a time per instance)."""

    index: fx.FunctionIndex
    clock: Any
    stats: dict
    _stopping: bool
    _waiting_for: dict[str, str]

    def _db(self) -> Store:  # provided by Engine
        raise NotImplementedError

    def _changed(self) -> None:  # provided by Engine
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ episodes
    def _episode_guarded(self, instance_id: str) -> None:
        try:
            if not self._stopping:  # queued but not started when the host stopped: leave it for the next start
                self._run_episode(instance_id)
        except Exception:
            log.exception("devhost: episode of %s failed inside the host", instance_id)
        finally:
            with self._cond:
                self._episodes.discard(instance_id)
            self._changed()

    def _run_episode(self, instance_id: str) -> None:
        store = self._db()
        inst = store.instance(instance_id)
        msgs = store.messages(instance_id)
        if not msgs:
            return
        if inst is None:
            with store.tx():
                store.x("DELETE FROM messages WHERE instance_id=? AND id<=?", (instance_id, msgs[-1]["id"]))
            return
        status = inst["status"]
        now = max(self.clock.time(), self._last_episode_time(store, instance_id))
        consumed: list[int] = []
        control_events: list[dict] = []
        new_events: list[dict] = []
        terminated: str | None = None
        data: list[Any] = []
        # Control messages act first and in order (suspend takes effect at once; terminate wins), then the
        # instance's other messages are delivered unless it is (still) suspended.
        for m in msgs:
            et = m["event_type"]
            if et not in (h.EXECUTION_TERMINATED, h.EXECUTION_SUSPENDED, h.EXECUTION_RESUMED):
                data.append(m)
                continue
            consumed.append(m["id"])
            if status in h.TERMINAL:
                continue
            ev = json.loads(m["event"])
            if et == h.EXECUTION_TERMINATED:
                terminated = ev.get("Input") or ""
                break
            if et == h.EXECUTION_SUSPENDED and status != "Suspended":
                status = "Suspended"
                control_events.append(ev)
            elif et == h.EXECUTION_RESUMED and status == "Suspended":
                status = "Running"
                control_events.append(ev)
        if terminated is None and status != "Suspended":
            for m in data:
                consumed.append(m["id"])
                if status in h.TERMINAL:
                    continue
                if m["execution_id"] and m["execution_id"] != inst["execution_id"]:
                    continue  # for a previous execution (continue-as-new / restart)
                new_events.append(json.loads(m["event"]))

        if control_events and store.one("SELECT 1 FROM history WHERE instance_id=? LIMIT 1", (instance_id,)) is None:
            # not started yet: the status changes, but history must begin [OrchestratorStarted, ExecutionStarted]
            control_events = []
        if terminated is not None:
            start = [json.loads(m["event"]) for m in data if m["event_type"] == h.EXECUTION_STARTED
                     and m["execution_id"] == inst["execution_id"]]
            consumed += [m["id"] for m in data if m["event_type"] == h.EXECUTION_STARTED]
            self._terminate_now(inst, terminated, consumed, control_events + start[:1], now)
            return
        if not new_events or status == "Suspended":
            with store.tx():
                self._consume(store, instance_id, consumed)
                if control_events:
                    store.append_history(instance_id, control_events)
                if status != inst["status"]:
                    store.x("UPDATE instances SET status=?, updated=? WHERE instance_id=?", (status, now, instance_id))
            return

        for ev in new_events:  # an episode never starts before the timers it delivers (long timers compare them)
            if ev["EventType"] == h.TIMER_FIRED and ev.get("FireAt"):
                now = max(now, parse_iso(ev["FireAt"]))
        old = store.history(instance_id)
        for e in old:
            e["IsPlayed"] = True
        episode = [h.orchestrator_started(now), *new_events]
        events = old + control_events + episode
        name = inst["name"]
        info = self.index.orchestrator(name)
        t0 = time.perf_counter()
        failure: str | None = None
        details: str | None = None
        user_tb = ""
        state: dict | None = None
        if info is None:
            failure = (f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                       f"Additional info: {self._known('orchestrationTrigger')}")
        else:
            ctx = {"history": events, "input": json_token(inst["input"]), "instanceId": instance_id,
                   "isReplaying": bool(old), "parentInstanceId": inst["parent_instance_id"],
                   "upperSchemaVersion": 1, "upperSchemaVersionNew": 2,
                   "longRunningTimerIntervalDuration": "3.00:00:00", "maximumShortTimerDuration": "6.00:00:00",
                   "defaultHttpAsyncRequestSleepTimeMillseconds": 30000}
            try:
                state = json.loads(fx.invoke_orchestrator(info, json.dumps(ctx)))
            except Exception as exc:
                user_tb = "".join(traceback.format_exception(exc.__cause__ or exc)).rstrip()
                text = str(exc)
                marker = "$OutOfProcData$:"
                if marker in text:
                    try:
                        state = json.loads(text.split(marker, 1)[1])
                    except ValueError:
                        state = None
                if state is None or not state.get("error"):
                    state = None
                    failure = f"{type(exc).__name__}: {exc}"
                    details = "".join(traceback.format_exception(exc))
        self.stats["episodes"] += 1

        res = None
        if state is not None:
            try:
                actions = state.get("actions") or [[]]
                if len(actions) != 1:
                    raise NonDeterminismError(
                        f"With OOProc schema V3, expected actions array to be of length 1 in outer layer but got "
                        f"size: {len(actions)}")
                res = Replayer(instance_id, actions[0]).run(events)
                unknown = self._invalid_actions(res.new_work, inst)
                if unknown and not state.get("error"):
                    failure = unknown
            except NonDeterminismError as exc:
                failure = str(exc)
                res = None
            # The shim awaits every action before it looks at isDone/error: while one is still pending (e.g. the
            # SDK's fail-fast WhenAll left a child running) the instance keeps running, as in the extension.
            waiting = res is not None and res.blocked
            if failure is None and state.get("error") and not waiting:
                failure = str(state["error"])
                details = f"Message: {state['error']}, StackTrace: {user_tb}"
            # Not blocked on its latest action but tasks it scheduled earlier are still open (e.g. a sliding window
            # that waits again on children started in an earlier episode): the extension's shim then awaits forever
            # and the next completion starts a new episode, so this is a normal wait, not a hang.
            if failure is None and not (state.get("isDone") or state.get("error")) and res is not None \
                    and not res.blocked and not res.new_work and not res.open_tasks:
                failure = ("Non-Deterministic workflow detected: the orchestrator is not done and is not waiting for "
                           "anything the host scheduled: every task it started has completed in history, yet it "
                           "returned no new action. The SDK and the host disagree about event ids (in Azure this "
                           f"instance would hang silently). Actions returned: {json.dumps(actions[0])[:600]}")
        duration = (time.perf_counter() - t0) * 1000

        custom = inst["custom_status"]
        if state is not None and state.get("customStatus") is not None:
            custom = json.dumps(state["customStatus"])
        with store.tx():
            cur = store.instance(instance_id)
            if cur is None or cur["execution_id"] != inst["execution_id"]:
                return  # purged or replaced meanwhile
            self._consume(store, instance_id, consumed)
            if failure is not None:
                message = f"Orchestrator function '{name}' failed: {failure}"
                record = [*control_events, *episode,
                          h.execution_completed(now, "Failed", message, event_id=res.next_id if res else -1),
                          h.orchestrator_completed(now)]
                store.append_history(instance_id, record)
                self._finish(store, cur, "Failed", json.dumps(message), custom, now, failure_text=message,
                             details=details)
                log.error("Executed 'Functions.%s' (Failed, Duration=%dms) instance=%s: %s%s", name, duration,
                          instance_id, message, f"\n{user_tb}" if user_tb else "")
                return
            assert state is not None and res is not None
            done = bool(state.get("isDone")) and not res.blocked
            sched_events = [self._schedule(store, cur, w, now, record_only=done) for w in res.new_work]
            record = [*control_events, *episode, *sched_events]
            closing = h.orchestrator_completed(now)
            if done and res.continue_as_new:
                new_input = stored_input(res.continue_input)
                store.append_history(instance_id, [*record, h.continue_as_new(now, new_input), closing])
                self._continue_as_new(store, cur, new_input, custom, now)
            elif done:
                output = json.dumps(state.get("output"))
                completed = h.execution_completed(now, "Completed", output, event_id=res.next_id)
                store.append_history(instance_id, [*record, completed, closing])
                self._finish(store, cur, "Completed", output, custom, now)
            else:
                store.append_history(instance_id, [*record, closing])
                self._waiting_for[instance_id] = res.waiting_for
                store.x("UPDATE instances SET status='Running', custom_status=?, updated=? WHERE instance_id=?",
                        (custom, now, instance_id))
        log.info("Executed 'Functions.%s' (Succeeded, Duration=%dms) instance=%s", name, duration, instance_id)

    @staticmethod
    def _consume(store: Store, instance_id: str, ids: list[int]) -> None:
        if ids:
            store.conn.executemany("DELETE FROM messages WHERE id=?", [(i,) for i in ids])

    @staticmethod
    def _last_episode_time(store: Store, instance_id: str) -> float:
        row = store.one("SELECT event FROM history WHERE instance_id=? ORDER BY seq DESC LIMIT 1", (instance_id,))
        if row is None:
            return 0.0
        return parse_iso(json.loads(row["event"])["Timestamp"])

    def _known(self, trigger: str) -> str:
        names = sorted(f.durable_name or f.name for f in self.index.by_trigger(trigger))
        kind = {"orchestrationTrigger": "orchestrator", "activityTrigger": "activity"}.get(trigger, trigger)
        return f"The following are the known {kind} functions: {', '.join(repr(n) for n in names)}."

    def _invalid_actions(self, work: list[ScheduledWork], inst: Any) -> str | None:
        """What the extension rejects while invoking the actions (the orchestration fails at once)."""
        for w in work:
            if w.kind == SUB and w.instance_id:
                own, parent = inst["instance_id"], inst["parent_instance_id"]
                if w.instance_id.lower() == own.lower() or (parent and w.instance_id.lower() == parent.lower()):
                    return ("The instance ID of a sub-orchestration must be different than the instance ID of a "
                            "parent orchestration.")
                if w.instance_id.startswith("@"):
                    return "Orchestration instance ids must not start with @"
            if w.kind == "activity" and self.index.activity(w.name or "") is None:
                return (f"The function '{w.name}' doesn't exist, is disabled, or is not an activity function. "
                        f"Additional info: {self._known('activityTrigger')}")
            if w.kind == SUB and self.index.orchestrator(w.name or "") is None:
                return (f"The function '{w.name}' doesn't exist, is disabled, or is not an orchestrator function. "
                        f"Additional info: {self._known('orchestrationTrigger')}")
            if w.kind in (ENTITY_CALL, SIGNAL) and self.index.entity(entity_parts(w.instance_id or "")[0]) is None:
                return (f"The function '{entity_parts(w.instance_id or '')[0]}' doesn't exist, is disabled, or is "
                        "not an entity function.")
        return None

    def _schedule(self, store: Store, inst: Any, w: ScheduledWork, now: float, *, record_only: bool) -> dict:
        """History event for a new task, plus (unless the execution ends now) the row that makes it happen."""
        iid, exe = inst["instance_id"], inst["execution_id"]
        if w.kind in ("activity", HTTP):
            if not record_only:
                store.x("INSERT INTO work_items(instance_id, execution_id, task_id, name, input, created) "
                        "VALUES (?,?,?,?,?,?)", (iid, exe, w.id, w.name, w.input, now))
            # DTFx's ScheduleTask serializes its parameters array: the OOProc input text is its single element
            return h.task_scheduled(now, w.id, w.name or "", json.dumps([w.input]))
        if w.kind == TIMER:
            fire_text = w.fire_at or iso_z(now)
            if not record_only:
                store.x("INSERT INTO timers(instance_id, execution_id, timer_id, fire_at, fire_at_text) "
                        "VALUES (?,?,?,?,?)", (iid, exe, w.id, parse_iso(fire_text), fire_text))
            return h.timer_created(now, w.id, fire_text)
        if w.kind == SUB:
            child = w.instance_id or str(uuid.uuid4())
            stored = stored_input(w.input)
            if not record_only:
                self._create_child(store, inst, w, child, stored, now)
            return h.sub_created(now, w.id, w.name or "", child, stored)
        # entity call / signal
        request = {"id": w.guid, "op": w.operation, "signal": w.kind == SIGNAL,
                   "input": json.dumps(w.input) if w.input is not None else "null",
                   "parent": iid if w.kind == ENTITY_CALL else None,
                   "parentExecution": exe if w.kind == ENTITY_CALL else None, "timestamp": iso_z(now)}
        if not record_only or w.kind == SIGNAL:
            store.x("INSERT INTO entity_messages(entity_id, request) VALUES (?,?)",
                    (w.instance_id, json.dumps(request)))
        return h.event_sent(now, w.id, w.instance_id or "", "op", json.dumps(request))

    def _create_child(self, store: Store, parent: Any, w: ScheduledWork, child: str, stored_input: str | None,
                      now: float) -> None:
        existing = store.instance(child)
        if existing is not None and existing["status"] in RUNNING_STATES:
            reason = (f"Orchestrator function '{w.name}' failed: An Orchestration instance with the status "
                      f"{existing['status']} already exists.")
            store.enqueue(parent["instance_id"], h.sub_failed(now, w.id, reason, None), parent["execution_id"])
            return
        if existing is not None:
            store.delete_instance_data(child)
        execution_id = uuid.uuid4().hex
        store.x("INSERT INTO instances(instance_id, name, execution_id, status, input, created, updated, "
                "parent_instance_id, parent_execution_id, parent_task_id, parent_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (child, w.name, execution_id, "Pending", stored_input, now, now, parent["instance_id"],
                 parent["execution_id"], w.id, parent["name"]))
        parent_info = {"Name": parent["name"], "Version": "", "TaskScheduleId": w.id,
                       "OrchestrationInstance": {"InstanceId": parent["instance_id"],
                                                 "ExecutionId": parent["execution_id"]}}
        store.enqueue(child, h.execution_started(now, instance_id=child, execution_id=execution_id, name=w.name or "",
                                                 input_text=stored_input, parent=parent_info), execution_id)

    def _finish(self, store: Store, inst: Any, status: str, output: str | None, custom: str | None, now: float, *,
                failure_text: str | None = None, details: str | None = None) -> None:
        iid = inst["instance_id"]
        store.x("UPDATE instances SET status=?, output=?, custom_status=?, updated=?, failure=? WHERE instance_id=?",
                (status, output, custom, now, failure_text, iid))
        store.drop_pending_work(iid)
        store.x("DELETE FROM messages WHERE instance_id=? AND execution_id IS NOT NULL", (iid,))
        if inst["parent_instance_id"]:
            pid, task = inst["parent_instance_id"], inst["parent_task_id"]
            if status == "Completed":
                ev = h.sub_completed(now, task, output)
            else:
                reason = failure_text or (json.loads(output) if output else f"Sub-orchestration {status.lower()}")
                ev = h.sub_failed(now, task, str(reason), details)
            store.enqueue(pid, ev, inst["parent_execution_id"])

    def _continue_as_new(self, store: Store, inst: Any, new_input: Any, custom: str | None, now: float) -> None:
        iid = inst["instance_id"]
        execution_id = uuid.uuid4().hex
        store.x("DELETE FROM history WHERE instance_id=?", (iid,))
        store.drop_pending_work(iid)
        store.x("UPDATE instances SET execution_id=?, status='Running', input=?, output=NULL, custom_status=?, "
                "updated=? WHERE instance_id=?", (execution_id, new_input, custom, now, iid))
        parent = None
        if inst["parent_instance_id"]:
            parent = {"Name": inst["parent_name"], "Version": "", "TaskScheduleId": inst["parent_task_id"],
                      "OrchestrationInstance": {"InstanceId": inst["parent_instance_id"],
                                                "ExecutionId": inst["parent_execution_id"]}}
        store.enqueue(iid, h.execution_started(now, instance_id=iid, execution_id=execution_id, name=inst["name"],
                                               input_text=new_input, parent=parent), execution_id)

    def _terminate_now(self, inst: Any, reason: str, consumed: list[int], control: list[dict], now: float) -> None:
        store = self._db()
        with store.tx():
            cur = store.instance(inst["instance_id"])
            if cur is None:
                return
            self._consume(store, inst["instance_id"], consumed)
            old = store.history(inst["instance_id"])
            next_id = 1 + max((e["EventId"] for e in old if e["EventType"] in (
                h.TASK_SCHEDULED, h.TIMER_CREATED, h.SUB_ORCHESTRATION_CREATED, h.EVENT_SENT)), default=-1)
            store.append_history(inst["instance_id"], [
                h.orchestrator_started(now), *control, h.execution_terminated(now, reason),
                h.execution_completed(now, "Terminated", reason, event_id=next_id), h.orchestrator_completed(now)])
            self._finish(store, cur, "Terminated", json.dumps(reason), cur["custom_status"], now,
                         failure_text=None)
        log.info("Terminated instance=%s reason=%s", inst["instance_id"], reason)
