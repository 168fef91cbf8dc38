"""The durable engine: scheduler, orchestration episodes, activities, timers, entities, management operations.

Why one class: the HTTP layer, the CLI and the pytest API all need the same thread-safe surface over one store
and one clock (see ``devhost/engine/__init__.py`` for the contract). Episodes follow the extension: one episode
per instance at a time, history = old events + ``OrchestratorStarted(now)`` + the messages received, the SDK runs
on the context JSON (schema V3), the host replays the returned actions (:mod:`.replay`) to find new work and to
detect non-determinism, then one transaction records everything.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devhost import functions as fx

from . import history as h
from .clock import RealClock, iso_seconds_z, iso_z, parse_iso
from .errors import (
    BadRequestError,
    EngineTimeoutError,
    InstanceExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    NonDeterminismError,
    OrchestratorNotFoundError,
)
from .replay import ENTITY_CALL, HTTP, HTTP_ACTIVITY, SIGNAL, SUB, TIMER, Replayer, ScheduledWork
from .store import Store

log = logging.getLogger("devhost")

RUNNING_STATES = frozenset({"Pending", "Running", "Suspended", "ContinuedAsNew"})
TIME_SKIPPING = ("never", "always", "while_waiting")


def _entity_parts(entity_id: str) -> tuple[str, str]:
    body = entity_id[1:] if entity_id.startswith("@") else entity_id
    name, _, key = body.partition("@")
    return name, key


def scheduler_id(name: str, key: str) -> str:
    """The extension's entity instance id: ``@{name.lower()}@{key}``."""
    if not name or not key:
        raise BadRequestError("an entity id needs a non-empty name and key")
    return f"@{name.lower()}@{key}"


def _activity_failure(name: str, exc: BaseException) -> tuple[str, str]:
    """TaskFailed Reason/Details for an activity that raised, shaped like the extension's out-of-proc failure.

    [inferred from user reports of the real host: Reason starts ``Activity function 'X' failed:``, Details is the
    serialized .NET exception whose Message is ``<Type>: <message>``.]
    """
    text = f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    rpc = {"$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
           "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
           "Message": f"Result: Failure\nException: {text}\nStack: {stack}", "Data": None, "InnerException": None}
    details = {"$type": "System.Exception, System.Private.CoreLib", "ClassName": "System.Exception",
               "Message": text, "Data": None, "InnerException": rpc, "HResult": -2146233088}
    return f"Activity function '{name}' failed: {text}", json.dumps(details)


class Engine:
    """Durable Functions engine over a SQLite store. All public methods are thread-safe and synchronous."""

    def __init__(self, index: fx.FunctionIndex, *, store_path: Any, clock: Any = None, hub_name: str = "TestHubName",
                 max_activities: int = 10, max_orchestrators: int = 10, function_timeout: float | None = None,
                 time_skipping: str | None = None) -> None:
        if time_skipping is None:  # a virtual clock with nobody to move it would freeze timers
            time_skipping = "always" if getattr(clock, "virtual", False) else "never"
        if time_skipping not in TIME_SKIPPING:
            raise ValueError(f"time_skipping must be one of {TIME_SKIPPING}, not {time_skipping!r}")
        if max_activities < 1 or max_orchestrators < 1:
            raise ValueError("max_activities and max_orchestrators must be at least 1")
        self.index = index
        self.store_path = store_path
        self.clock = clock if clock is not None else RealClock()
        self.hub_name = hub_name
        self.max_activities = max_activities
        self.max_orchestrators = max_orchestrators
        self.function_timeout = function_timeout
        self.time_skipping = time_skipping
        self.store: Store | None = None
        self._cond = threading.Condition()
        self._version = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._orch_pool: ThreadPoolExecutor | None = None
        self._act_pool: ThreadPoolExecutor | None = None
        self._episodes: set[str] = set()
        self._entities: set[str] = set()
        self._activities: dict[int, float] = {}   # work item id -> real start time
        self._abandoned: set[int] = set()
        self._skip_waiters = 0
        self._seen: dict[int, int] = {}   # waiter token -> engine version its predicate last saw (false)
        self._idle = False
        self.stats = {"episodes": 0, "activities": 0, "entity_batches": 0, "timers_fired": 0, "time_skips": 0}

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> Engine:
        """Open the store, re-queue activities that were running when the host died, start the scheduler."""
        if self._thread is not None:
            return self
        self.store = Store(self.store_path)
        requeued = self.store.requeue_running()
        if requeued:
            log.info("re-queued %d activity work item(s) that were running when the host stopped", requeued)
        self._stopping = False
        self._orch_pool = ThreadPoolExecutor(self.max_orchestrators, thread_name_prefix="devhost-orch")
        self._act_pool = ThreadPoolExecutor(self.max_activities, thread_name_prefix="devhost-act")
        self._thread = threading.Thread(target=self._loop, name="devhost-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop scheduling, let in-flight work finish for up to ``timeout`` s, close the store.

        Work still running after that is abandoned: its work item stays 'running' in the store and runs again at
        the next start (at-least-once, as after a crash).
        """
        if self._thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._episodes or self._entities or self._activities) and time.monotonic() < deadline:
                self._cond.wait(0.05)
        for pool in (self._orch_pool, self._act_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            store, self.store = self.store, None
            self._thread = None
        if store is not None:
            store.close()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _db(self) -> Store:
        if self.store is None:
            raise RuntimeError("the engine is not started (call Engine.start())")
        return self.store

    def _changed(self) -> None:
        with self._cond:
            self._version += 1
            self._idle = False
            self._cond.notify_all()

    # ------------------------------------------------------------------------------------------ scheduler
    def _skipping(self) -> bool:
        """May the clock jump now? Never before every blocked waiter has re-checked the current state, so a test
        waiting for "Running" (or for a custom status) sees it before time moves on."""
        if any(v != self._version for v in self._seen.values()):
            return False
        return self.time_skipping == "always" or (self.time_skipping == "while_waiting" and self._skip_waiters > 0)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                worked = self._tick()
            except Exception:  # the scheduler must survive anything; the store state stays consistent
                log.exception("devhost scheduler error")
                worked = False
            with self._cond:
                if self._stopping:
                    return
                if worked:
                    continue
                busy = bool(self._episodes or self._entities or self._activities)
                store = self.store
                pending = store is not None and self._has_pending(store)
                if not busy and not pending:
                    self._idle = True
                    self._cond.notify_all()
                    nxt = store.next_timer() if store is not None else None
                    if nxt is not None and self._skipping():
                        now = self.clock.time()
                        if nxt > now:
                            self.clock.advance(nxt - now)
                            self.stats["time_skips"] += 1
                        continue
                    wait = 0.05 if getattr(self.clock, "virtual", True) else 0.25
                    if nxt is not None:
                        wait = max(0.0, min(wait, nxt - self.clock.time()))
                    self._cond.wait(wait)
                else:
                    self._cond.wait(0.05)

    def _has_pending(self, store: Store) -> bool:
        if store.runnable_instances(self._episodes, 1):
            return True
        if store.runnable_entities(self._entities, 1):
            return True
        c = store.one("SELECT 1 FROM work_items WHERE state='pending' LIMIT 1")
        if c is not None:
            return True
        return bool(store.due_timers(self.clock.time()))

    def _tick(self) -> bool:
        store = self.store
        if store is None:
            return False
        worked = False
        now = self.clock.time()
        due = store.due_timers(now)
        if due:
            with store.tx():
                for t in due:
                    store.x("DELETE FROM timers WHERE id=?", (t["id"],))
                    store.enqueue(t["instance_id"], h.timer_fired(now, t["timer_id"], t["fire_at_text"]),
                                  t["execution_id"])
            self.stats["timers_fired"] += len(due)
            worked = True
        self._check_timeouts()
        assert self._orch_pool is not None and self._act_pool is not None
        with self._cond:
            free = self.max_orchestrators - len(self._episodes) - len(self._entities)
            if free > 0:
                for iid in store.runnable_instances(self._episodes, free):
                    self._episodes.add(iid)
                    self._orch_pool.submit(self._episode_guarded, iid)
                    free -= 1
                    worked = True
            if free > 0:
                for eid in store.runnable_entities(self._entities, free):
                    self._entities.add(eid)
                    self._orch_pool.submit(self._entity_guarded, eid)
                    worked = True
            # claimed and registered under the condition: an observer never sees an item in neither state
            free_act = self.max_activities - len(self._activities)
            if free_act > 0:
                for item in store.claim_work_items(free_act):
                    self._activities[item["id"]] = time.monotonic()
                    self._act_pool.submit(self._activity_guarded, dict(item))
                    worked = True
        return worked

    def _check_timeouts(self) -> None:
        if not self.function_timeout:
            return
        now = time.monotonic()
        with self._cond:
            late = [wid for wid, t0 in self._activities.items()
                    if now - t0 > self.function_timeout and wid not in self._abandoned]
        for wid in late:
            self._abandoned.add(wid)
            store = self._db()
            row = store.one("SELECT * FROM work_items WHERE id=?", (wid,))
            if row is None:
                continue
            span = _timespan(self.function_timeout)
            reason = f"Timeout value of {span} was exceeded by function: Functions.{row['name']}"
            self._finish_activity(dict(row), None, (reason, reason))
            log.error("Executed 'Functions.%s' (Failed, timeout %s) instance=%s", row["name"], span,
                      row["instance_id"])
            with self._cond:
                self._activities.pop(wid, None)

    # ------------------------------------------------------------------------------------------ activities
    def _activity_guarded(self, item: dict) -> None:
        try:
            self._run_activity(item)
        except Exception:
            log.exception("devhost: activity bookkeeping failed for %s", item.get("name"))
        finally:
            with self._cond:
                self._activities.pop(item["id"], None)
                self._abandoned.discard(item["id"])
            self._changed()

    def _run_activity(self, item: dict) -> None:
        name = item["name"]
        t0 = time.perf_counter()
        invocation_id = str(uuid.uuid4())
        result: str | None = None
        failure: tuple[str, str] | None = None
        try:
            if name == HTTP_ACTIVITY:
                result = _run_http_activity(item["input"])
            else:
                info = self.index.activity(name)
                if info is None:
                    raise LookupError(f"The function '{name}' doesn't exist, is disabled, or is not an activity "
                                      "function.")
                result = fx.invoke_activity(info, item["input"] or "null", invocation_id=invocation_id)
        except Exception as exc:
            failure = _activity_failure(name, exc)
            log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms) instance=%s\n%s", name, invocation_id,
                      (time.perf_counter() - t0) * 1000, item["instance_id"],
                      "".join(traceback.format_exception(exc)).rstrip())
        else:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms) instance=%s", name, invocation_id,
                     (time.perf_counter() - t0) * 1000, item["instance_id"])
        self.stats["activities"] += 1
        if item["id"] in self._abandoned:
            return
        self._finish_activity(item, result, failure)

    def _finish_activity(self, item: dict, result: str | None, failure: tuple[str, str] | None) -> None:
        store = self.store
        if store is None:
            return  # stopped: the work item stays 'running' and re-runs at the next start
        now = self.clock.time()
        with store.tx():
            if store.x("DELETE FROM work_items WHERE id=?", (item["id"],)) == 0:
                return  # terminated / purged / already timed out meanwhile
            if failure is None:
                ev = h.task_completed(now, item["task_id"], result)
            else:
                ev = h.task_failed(now, item["task_id"], failure[0], failure[1])
            store.enqueue(item["instance_id"], ev, item["execution_id"])

    # ------------------------------------------------------------------------------------------ episodes
    def _episode_guarded(self, instance_id: str) -> None:
        try:
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

        if terminated is not None:
            self._terminate_now(inst, terminated, consumed, control_events, now)
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
            ctx = {"history": events, "input": self._input_token(inst["input"]), "instanceId": instance_id,
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
                unknown = self._unknown_functions(res.new_work)
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
            if failure is None and not (state.get("isDone") or state.get("error")) and res is not None \
                    and not res.blocked and not res.new_work:
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
                record = [*control_events, *episode, h.orchestrator_completed(now),
                          h.execution_completed(now, "Failed", json.dumps(message),
                                                {"ErrorType": "OrchestrationFailureException",
                                                 "ErrorMessage": message, "StackTrace": details})]
                store.append_history(instance_id, record)
                self._finish(store, cur, "Failed", json.dumps(message), custom, now, failure_text=message,
                             details=details)
                log.error("Executed 'Functions.%s' (Failed, Duration=%dms) instance=%s: %s%s", name, duration,
                          instance_id, message, f"\n{user_tb}" if user_tb else "")
                return
            assert state is not None and res is not None
            done = bool(state.get("isDone")) and not res.blocked
            sched_events = [self._schedule(store, cur, w, now, record_only=done) for w in res.new_work]
            record = [*control_events, *episode, *sched_events, h.orchestrator_completed(now)]
            if done and res.continue_as_new:
                new_input = _stored_input(res.continue_input)
                store.append_history(instance_id, [*record, h.continue_as_new(now, new_input)])
                self._continue_as_new(store, cur, new_input, custom, now)
            elif done:
                output = json.dumps(state.get("output"))
                store.append_history(instance_id, [*record, h.execution_completed(now, "Completed", output)])
                self._finish(store, cur, "Completed", output, custom, now)
            else:
                store.append_history(instance_id, record)
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

    @staticmethod
    def _input_token(text: str | None) -> Any:
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _known(self, trigger: str) -> str:
        names = sorted(f.durable_name or f.name for f in self.index.by_trigger(trigger))
        kind = {"orchestrationTrigger": "orchestrator", "activityTrigger": "activity"}.get(trigger, trigger)
        return f"The following are the known {kind} functions: {', '.join(repr(n) for n in names)}."

    def _unknown_functions(self, work: list[ScheduledWork]) -> str | None:
        for w in work:
            if w.kind == "activity" and self.index.activity(w.name or "") is None:
                return (f"The function '{w.name}' doesn't exist, is disabled, or is not an activity function. "
                        f"Additional info: {self._known('activityTrigger')}")
            if w.kind == SUB and self.index.orchestrator(w.name or "") is None:
                return (f"The function '{w.name}' doesn't exist, is disabled, or is not an orchestrator function. "
                        f"Additional info: {self._known('orchestrationTrigger')}")
            if w.kind in (ENTITY_CALL, SIGNAL) and self.index.entity(_entity_parts(w.instance_id or "")[0]) is None:
                return (f"The function '{_entity_parts(w.instance_id or '')[0]}' doesn't exist, is disabled, or is "
                        "not an entity function.")
        return None

    def _schedule(self, store: Store, inst: Any, w: ScheduledWork, now: float, *, record_only: bool) -> dict:
        """History event for a new task, plus (unless the execution ends now) the row that makes it happen."""
        iid, exe = inst["instance_id"], inst["execution_id"]
        if w.kind in ("activity", HTTP):
            if not record_only:
                store.x("INSERT INTO work_items(instance_id, execution_id, task_id, name, input, created) "
                        "VALUES (?,?,?,?,?,?)", (iid, exe, w.id, w.name, w.input, now))
            return h.task_scheduled(now, w.id, w.name or "", w.input)
        if w.kind == TIMER:
            fire_text = w.fire_at or iso_z(now)
            if not record_only:
                store.x("INSERT INTO timers(instance_id, execution_id, timer_id, fire_at, fire_at_text) "
                        "VALUES (?,?,?,?,?)", (iid, exe, w.id, parse_iso(fire_text), fire_text))
            return h.timer_created(now, w.id, fire_text)
        if w.kind == SUB:
            child = w.instance_id or str(uuid.uuid4())
            stored = _stored_input(w.input)
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
            store.append_history(inst["instance_id"], [*control, h.execution_terminated(now, reason)])
            self._finish(store, cur, "Terminated", json.dumps(reason), cur["custom_status"], now,
                         failure_text=None)
        log.info("Terminated instance=%s reason=%s", inst["instance_id"], reason)

    # ------------------------------------------------------------------------------------------ entities
    def _entity_guarded(self, entity_id: str) -> None:
        try:
            self._run_entity(entity_id)
        except Exception:
            log.exception("devhost: entity batch of %s failed inside the host", entity_id)
        finally:
            with self._cond:
                self._entities.discard(entity_id)
            self._changed()

    def _run_entity(self, entity_id: str) -> None:
        store = self._db()
        rows = store.q("SELECT * FROM entity_messages WHERE entity_id=? ORDER BY id", (entity_id,))
        if not rows:
            return
        name, key = _entity_parts(entity_id)
        requests = [json.loads(r["request"]) for r in rows]
        ent = store.entity(entity_id)
        exists = bool(ent["exists_"]) if ent is not None else False
        state_text = ent["state"] if ent is not None and exists else None
        info = self.index.entity(name)
        t0 = time.perf_counter()
        results: list[dict] = []
        new_exists, new_state = exists, state_text
        if info is None:
            err = f"The function '{name}' doesn't exist, is disabled, or is not an entity function."
            results = [{"isError": True, "result": json.dumps(err)} for _ in requests]
        else:
            ctx = {"self": {"name": name, "key": key}, "exists": exists, "state": state_text,
                   "batch": [{"name": r.get("op"), "input": r.get("input") if r.get("input") is not None else "null",
                              "id": r.get("id"), "signal": r.get("signal")} for r in requests]}
            try:
                out = json.loads(fx.invoke_entity(info, json.dumps(ctx)))
                results = out.get("results") or []
                new_exists = bool(out.get("entityExists"))
                new_state = out.get("entityState") if new_exists else None
            except Exception as exc:
                msg = f"{type(exc).__name__}: {exc}"
                results = [{"isError": True, "result": json.dumps(msg)} for _ in requests]
                log.error("Executed 'Functions.%s' (Failed) entity=%s\n%s", info.name, entity_id,
                          "".join(traceback.format_exception(exc)).rstrip())
        self.stats["entity_batches"] += 1
        now = self.clock.time()
        with store.tx():
            store.conn.executemany("DELETE FROM entity_messages WHERE id=?", [(r["id"],) for r in rows])
            store.x("INSERT INTO entities(entity_id, name, key, state, exists_, updated) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(entity_id) DO UPDATE SET state=excluded.state, exists_=excluded.exists_, "
                    "updated=excluded.updated", (entity_id, name, key, new_state, int(new_exists), now))
            for req, res in zip(requests, results, strict=False):
                if req.get("signal") or not req.get("parent"):
                    continue
                body: dict[str, Any] = {"result": res.get("result")}
                if res.get("isError"):
                    body["exceptionType"] = "System.Exception"
                store.enqueue(req["parent"], h.event_raised(now, req["id"], json.dumps(body)),
                              req.get("parentExecution"))
        log.info("Executed 'Functions.%s' (Succeeded, Duration=%dms) entity=%s operations=%d",
                 info.name if info else name, (time.perf_counter() - t0) * 1000, entity_id, len(requests))

    # ------------------------------------------------------------------------------------------ management
    def start_new(self, name: str, instance_id: str | None = None, input_json: str | None = None) -> str:
        """Create an instance of orchestrator ``name``; ``input_json`` is the JSON text the extension stores.

        An existing Pending/Running/Suspended instance with that id → :class:`InstanceExistsError`; a finished one
        is replaced (the extension's default overridable states).
        """
        if self.index.orchestrator(name) is None:
            raise OrchestratorNotFoundError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. Additional "
                f"info: {self._known('orchestrationTrigger')}")
        if input_json is not None:
            try:
                json.loads(input_json)
            except ValueError as exc:
                raise BadRequestError(f"the orchestration input is not valid JSON: {exc}") from exc
        iid = instance_id or uuid.uuid4().hex
        if not iid or any(c in iid for c in "/\\#?") or iid.startswith("@"):
            raise BadRequestError(f"invalid instance id {iid!r}: it must be non-empty, must not start with '@' and "
                                  "must not contain '/', '\\', '#' or '?'")
        store = self._db()
        now = self.clock.time()
        with store.tx():
            existing = store.instance(iid)
            if existing is not None:
                if existing["status"] in RUNNING_STATES:
                    raise InstanceExistsError(
                        f"An Orchestration instance with the status {existing['status']} already exists.")
                store.delete_instance_data(iid)
            execution_id = uuid.uuid4().hex
            store.x("INSERT INTO instances(instance_id, name, execution_id, status, input, created, updated) "
                    "VALUES (?,?,?,?,?,?,?)", (iid, name, execution_id, "Pending", input_json, now, now))
            store.enqueue(iid, h.execution_started(now, instance_id=iid, execution_id=execution_id, name=name,
                                                   input_text=input_json), execution_id)
        self._changed()
        return iid

    def get_status(self, instance_id: str, *, show_input: bool = True, show_history: bool = False,
                   show_history_output: bool = False) -> dict | None:
        """The extension's status JSON for one instance, or None when it does not exist."""
        store = self._db()
        row = store.instance(instance_id)
        if row is None:
            return None
        out = self._status_json(row, show_input=show_input)
        if show_history:
            out["historyEvents"] = h.friendly_history(store.history(instance_id), show_output=show_history_output)
        return out

    def _status_json(self, row: Any, *, show_input: bool = True) -> dict:
        def token(text: str | None) -> Any:
            return self._input_token(text)

        return {"name": row["name"], "instanceId": row["instance_id"], "runtimeStatus": row["status"],
                "input": token(row["input"]) if show_input else None, "customStatus": token(row["custom_status"]),
                "output": token(row["output"]), "createdTime": iso_seconds_z(row["created"]),
                "lastUpdatedTime": iso_seconds_z(row["updated"])}

    def query(self, *, created_from: float | str | None = None, created_to: float | str | None = None,
              statuses: Iterable[str] | None = None, prefix: str | None = None, top: int = 100,
              continuation: str | None = None, show_input: bool = True) -> tuple[list[dict], str | None]:
        """List instances (oldest first) with the status API's filters; returns (page, next continuation token)."""
        where, args = self._filters(created_from, created_to, statuses, prefix)
        try:
            offset = int(base64.b64decode(continuation).decode()) if continuation else 0
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"invalid continuation token {continuation!r}") from exc
        if top < 1:
            raise BadRequestError("top must be at least 1")
        rows = self._db().q(f"SELECT * FROM instances {where} ORDER BY created, instance_id LIMIT ? OFFSET ?",  # noqa: S608
                            [*args, top + 1, offset])
        page = [self._status_json(r, show_input=show_input) for r in rows[:top]]
        token = base64.b64encode(str(offset + top).encode()).decode() if len(rows) > top else None
        return page, token

    @staticmethod
    def _filters(created_from: Any, created_to: Any, statuses: Iterable[str] | None,
                 prefix: str | None) -> tuple[str, list]:
        clauses: list[str] = []
        args: list[Any] = []

        def ts(v: Any) -> float:
            return parse_iso(v) if isinstance(v, str) else float(v)

        if created_from is not None:
            clauses.append("created >= ?")
            args.append(ts(created_from))
        if created_to is not None:
            clauses.append("created <= ?")
            args.append(ts(created_to))
        if statuses:
            names = list(statuses)
            valid = set(h.ORCHESTRATION_STATUS)
            bad = [s for s in names if s not in valid]
            if bad:
                raise BadRequestError(f"unknown runtimeStatus {bad}; use {sorted(valid)}")
            clauses.append(f"status IN ({','.join('?' * len(names))})")
            args.extend(names)
        if prefix:
            clauses.append("substr(instance_id, 1, ?) = ?")
            args.extend([len(prefix), prefix])
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def _require(self, instance_id: str) -> Any:
        row = self._db().instance(instance_id)
        if row is None:
            raise InstanceNotFoundError(f"No instance with ID '{instance_id}' found.")
        return row

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        """Deliver an external event; ``data_json`` is stored verbatim as ``EventRaised.Input``."""
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is {row['status']}; it cannot receive events.")
        if not name:
            raise BadRequestError("an event needs a name")
        store = self._db()
        with store.tx():
            store.enqueue(instance_id, h.event_raised(self.clock.time(), name, data_json))
        self._changed()

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is already {row['status']}.")
        self._control(instance_id, h.execution_terminated(self.clock.time(), reason))

    def suspend(self, instance_id: str, reason: str | None = None) -> None:
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is {row['status']}; it cannot be suspended.")
        self._control(instance_id, h.execution_suspended(self.clock.time(), reason))

    def resume(self, instance_id: str, reason: str | None = None) -> None:
        row = self._require(instance_id)
        if row["status"] in h.TERMINAL:
            raise InstanceGoneError(f"The instance '{instance_id}' is {row['status']}; it cannot be resumed.")
        self._control(instance_id, h.execution_resumed(self.clock.time(), reason))

    def _control(self, instance_id: str, ev: dict) -> None:
        store = self._db()
        with store.tx():
            store.enqueue(instance_id, ev)
        self._changed()

    def restart(self, instance_id: str, new_instance_id: bool = True) -> str:
        """Start the same orchestrator with the same input, under a new id or (if finished) the same one."""
        row = self._require(instance_id)
        return self.start_new(row["name"], None if new_instance_id else instance_id, row["input"])

    def purge(self, instance_id: str) -> int:
        """Delete an instance and everything about it; returns how many instances were deleted (0 or 1)."""
        store = self._db()
        with store.tx():
            if store.instance(instance_id) is None:
                return 0
            store.delete_instance_data(instance_id)
        self._changed()
        return 1

    def purge_by(self, created_from: Any = None, created_to: Any = None,
                 statuses: Iterable[str] | None = None) -> int:
        """Purge every instance matching the filters; returns the number deleted."""
        where, args = self._filters(created_from, created_to, statuses, None)
        store = self._db()
        with store.tx():
            ids = [r["instance_id"] for r in store.q(f"SELECT instance_id FROM instances {where}", args)]  # noqa: S608
            for iid in ids:
                store.delete_instance_data(iid)
        self._changed()
        return len(ids)

    def signal_entity(self, name: str, key: str, op: str, input_json: str | None = None) -> None:
        """Queue a one-way operation.

        ``input_json`` is the operation input as the extension serializes it into the request message, i.e. the
        (re-serialized) JSON body of ``POST entities/{name}/{key}?op=``; the SDK's client double-encodes, so for a
        Python value ``v`` it is ``json.dumps(json.dumps(v))``. None = no input.
        """
        if self.index.entity(name) is None:
            raise InstanceNotFoundError(f"No entity function named '{name}' exists.")
        if not op:
            raise BadRequestError("an entity signal needs an operation name (op)")
        eid = scheduler_id(name, key)
        request = {"id": str(uuid.uuid4()), "op": op, "signal": True,
                   "input": input_json if input_json is not None else "null", "parent": None,
                   "timestamp": iso_z(self.clock.time())}
        store = self._db()
        with store.tx():
            store.x("INSERT INTO entity_messages(entity_id, request) VALUES (?,?)", (eid, json.dumps(request)))
        self._changed()

    def read_entity(self, name: str, key: str) -> str | None:
        """The entity's state JSON text, or None when it does not exist."""
        row = self._db().entity(scheduler_id(name, key))
        if row is None or not row["exists_"]:
            return None
        return row["state"]

    def history(self, instance_id: str) -> list[dict]:
        """Raw DurableTask history of the current execution (the events the SDK replays)."""
        self._require(instance_id)
        return self._db().history(instance_id)

    # ------------------------------------------------------------------------------------------ waiting
    @contextlib.contextmanager
    def time_skipping_scope(self) -> Any:
        """While inside, a ``while_waiting`` engine skips to due timers when idle."""
        with self._cond:
            self._skip_waiters += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._skip_waiters -= 1

    def wait_until(self, predicate: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
        """Block until ``predicate()`` is truthy (re-checked after every engine change); real-time ``timeout``."""
        deadline = time.monotonic() + timeout
        token = id(object()) ^ threading.get_ident() ^ time.monotonic_ns()
        with self._cond:
            self._seen[token] = -1  # no skipping before this waiter has looked at the state once
        with self.time_skipping_scope():
            try:
                while True:
                    with self._cond:
                        version = self._version
                    value = predicate()
                    if value:
                        return value
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise EngineTimeoutError(f"timed out after {timeout}s waiting for {what}")
                    with self._cond:
                        self._seen[token] = version
                        self._cond.notify_all()
                        if self._version == version:
                            self._cond.wait(min(remaining, 0.05))
            finally:
                with self._cond:
                    self._seen.pop(token, None)

    def wait_for(self, instance_id: str, *, statuses: Iterable[str] = ("Completed", "Failed", "Terminated"),
                 timeout: float = 30.0) -> dict:
        """Wait until the instance reaches one of ``statuses``; returns its status JSON (with history off)."""
        wanted = set(statuses)
        last: dict = {}

        def check() -> dict | None:
            st = self.get_status(instance_id)
            if st is not None:
                last.update(st)
                if st["runtimeStatus"] in wanted:
                    return st
            return None

        try:
            return self.wait_until(check, timeout=timeout, what=f"instance {instance_id!r} to reach {sorted(wanted)}")
        except EngineTimeoutError as exc:
            raise EngineTimeoutError(f"{exc}; last status: {json.dumps(last)[:500] if last else 'not found'}") from None

    def run_until_idle(self, *, timeout: float = 30.0, skip_timers: bool = False) -> None:
        """Wait until nothing is runnable now (no messages, activities, entity operations, due timers).

        With ``skip_timers=True`` the clock is also moved through every pending timer until none is left.
        """
        def idle() -> bool:
            store = self._db()
            with self._cond:  # atomically with the dispatcher moving work from pending to running
                if self._episodes or self._entities or self._activities or self._has_pending(store):
                    return False
            if skip_timers and store.next_timer() is not None:
                nxt = store.next_timer()
                now = self.clock.time()
                if nxt is not None and nxt > now:
                    self.clock.advance(nxt - now)
                    self.stats["time_skips"] += 1
                self._changed()
                return False
            return True

        self.wait_until(idle, timeout=timeout, what="the engine to become idle")


def _timespan(seconds: float) -> str:
    """.NET ``TimeSpan.ToString()`` (``hh:mm:ss[.fffffff]``) as the host writes timeouts."""
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    frac = round((seconds - whole) * 10_000_000)
    return f"{text}.{frac:07d}" if frac else text


def _stored_input(action_input: Any) -> str | None:
    """How the extension stores an input the SDK passed as JSON text (sub-orchestration, continue-as-new): the
    action's ``input`` is a string, which the extension serializes again, so the instance input is its JSON."""
    if action_input is None:
        return None
    return json.dumps(action_input if isinstance(action_input, str) else json.dumps(action_input))


def _run_http_activity(request_json: str | None) -> str:
    """The extension's built-in HTTP activity for ``call_http`` (one request; no 202 polling, no token source)."""
    req = json.loads(request_json or "{}")
    method = (req.get("method") or "GET").upper()
    uri = req.get("uri") or ""
    if not uri.startswith(("http://", "https://")):
        raise ValueError(f"call_http needs an absolute http(s) URI, got {uri!r}")
    if req.get("tokenSource"):
        raise ValueError("call_http with a managed-identity token source is not supported by the devhost")
    headers = {k: (v[0] if isinstance(v, list) else v) for k, v in (req.get("headers") or {}).items()}
    content = req.get("content")
    data = content.encode() if isinstance(content, str) else None
    r = urllib.request.Request(uri, data=data, method=method, headers=headers)  # noqa: S310 - URI checked above
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:  # noqa: S310
            status, body, rh = resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as err:
        status, body, rh = err.code, err.read(), dict(err.headers.items())
    return json.dumps({"statusCode": status, "headers": rh, "content": body.decode("utf-8", "replace")})
