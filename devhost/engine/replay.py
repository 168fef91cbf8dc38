"""Host-side replay of an orchestrator's actions against its history, as the extension's out-of-proc shim does.

Why: the Python SDK allocates event ids itself and never checks names, so a host that numbers ids differently
makes an orchestration hang silently, and a changed orchestrator goes unnoticed. This module mirrors
``OutOfProcOrchestrationShim.ProcessAsyncActionsV2`` on DurableTask replay semantics:

* the cumulative action list (schema V2/V3: ``actions[0]``) is invoked **in order, awaiting each** entry;
  compound entries become WhenAll / WhenAny over their children, invoked in order;
* every atomic task takes the next sequence id when invoked; signals take one too; external events take none;
* ``*WithRetry`` follows DTFx's RetryInterceptor: after *every* failed attempt a retry timer takes an id
  (fire time = orchestration time when the failure is replayed + interval), when it fires either a new attempt
  takes an id or the task fails once ``maxNumberOfAttempts`` is reached (the SDK's hidden ids);
* a sub-orchestration started without an instance id gets DTFx's default ``"{ExecutionId}:{sequence id}"`` (the
  extension passes the null id through to ``CreateSubOrchestrationInstance``; each retry attempt gets its own);
  entity request ids use the extension's deterministic ``NewGuid()`` (UUID v5 in its namespace ``9e952959-…``,
  name ``"{instanceId}_{CurrentUtcDateTime:o}_{counter}"``);
* history is walked in order: ``OrchestratorStarted`` moves the orchestration time, scheduling events must match
  what the replay scheduled with that id (else :class:`NonDeterminismError` explaining the change), completions
  must target a task the replay knows (else the same error instead of a silent hang).

What the replay scheduled that history does not record yet is the episode's new work (:class:`ReplayResult`).
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import history as h
from .clock import dotnet_o, iso_z, parse_iso
from .errors import NonDeterminismError

ACTIVITY, TIMER, SUB, ENTITY_CALL, SIGNAL, EVENT, HTTP = "activity", "timer", "sub", "entity", "signal", "event", "http"
HTTP_ACTIVITY = "BuiltIn::HttpActivity"
_ND = "Non-Deterministic workflow detected: "
# The extension's GuidManager.UrlNamespaceValue (not RFC 4122's URL namespace); v5 over UTF-8 names.
NEWGUID_NAMESPACE = uuid.UUID("9e952959-5e33-4daf-827f-2fa12937b875")
_CHANGED = " Was a change made to the orchestrator code after this instance had already started running?"

_KIND_TEXT = {ACTIVITY: "activity task", HTTP: "HTTP task", TIMER: "durable timer", SUB: "sub-orchestration",
              ENTITY_CALL: "entity call", SIGNAL: "entity signal"}
_SCHEDULING_KINDS = {h.TASK_SCHEDULED: (ACTIVITY, HTTP), h.TIMER_CREATED: (TIMER,),
                     h.SUB_ORCHESTRATION_CREATED: (SUB,), h.EVENT_SENT: (ENTITY_CALL, SIGNAL)}


class _Node:
    """A task of the replay: a leaf (activity, timer, ...) or a compound (WhenAll/WhenAny/retry)."""

    def __init__(self, kind: str, parent: _Node | None = None) -> None:
        self.kind = kind
        self.parent = parent
        self.done = False
        self.failed = False
        self.id: int | None = None
        self.recorded = False
        self.name: str | None = None
        self.input: Any = None
        self.fire_at: str | None = None
        self.instance_id: str | None = None
        self.guid: str | None = None
        self.children: list[_Node] = []
        # retry state
        self.options: dict | None = None
        self.action: dict | None = None
        self.attempts = 0
        self.first_attempt: float = 0.0
        self.waiting_timer = False
        self.sub_instance: str | None = None

    def describe(self) -> str:
        what = _KIND_TEXT.get(self.kind, self.kind)
        return f"{what} '{self.name}'" if self.name else what


@dataclass
class ScheduledWork:
    """One piece of new work an episode produced (the engine turns it into store rows)."""

    kind: str
    id: int
    name: str | None = None
    input: Any = None
    fire_at: str | None = None
    instance_id: str | None = None
    guid: str | None = None
    operation: str | None = None


@dataclass
class ReplayResult:
    """Outcome of replaying actions over history."""

    new_work: list[ScheduledWork] = field(default_factory=list)
    continue_as_new: bool = False
    continue_input: Any = None
    blocked: bool = False          # the shim is awaiting an unfinished task (normal when not done)
    pending_actions: int = 0       # actions the shim has not reached yet
    open_tasks: int = 0            # scheduled tasks and event waits still outstanding (they wake the instance)
    waiting_for: str = ""
    next_id: int = 0               # the next sequence id (DTFx gives it to ExecutionCompleted)


class Replayer:
    """Replays one execution. Create one per episode: ``Replayer(instance_id, actions).run(history)``."""

    def __init__(self, instance_id: str, actions: list[dict]) -> None:
        self.instance_id = instance_id
        self.execution_id = ""
        self.actions = actions
        self.counter = 0
        self.guid_counter = 0
        self.now: float = 0.0
        self.tasks: dict[int, _Node] = {}
        self.by_guid: dict[str, _Node] = {}
        self.waiters: dict[str, deque[_Node]] = {}
        self.buffered: dict[str, deque[Any]] = {}
        self.index = 0
        self.awaiting: _Node | None = None
        self.result = ReplayResult()

    # ------------------------------------------------------------------------------------------ driving
    def run(self, events: list[dict]) -> ReplayResult:
        """Walk ``events`` (the whole current execution, the new episode included) and return the new work."""
        for ev in events:
            self._apply(ev)
        res = self.result
        res.new_work = [self._work(n) for _, n in sorted(self.tasks.items()) if not n.recorded]
        res.blocked = self.awaiting is not None and not self.awaiting.done
        res.pending_actions = len(self.actions) - self.index
        res.open_tasks = (sum(1 for n in self.tasks.values() if not n.done)
                          + sum(len(q) for q in self.waiters.values()))
        res.next_id = self.counter
        if res.blocked and self.awaiting is not None:
            res.waiting_for = self._describe_wait(self.awaiting)
        return res

    def _next_id(self) -> int:
        i = self.counter
        self.counter += 1
        return i

    def _default_sub_id(self, node: _Node) -> str:
        """DTFx's id for a sub-orchestration started without one: ``{ExecutionId}:{sequence id}``."""
        return f"{self.execution_id}:{node.id}"

    def _new_guid(self) -> str:
        name = f"{self.instance_id}_{dotnet_o(self.now)}_{self.guid_counter}"
        self.guid_counter += 1
        return str(uuid.uuid5(NEWGUID_NAMESPACE, name))

    def _advance(self) -> None:
        while True:
            if self.awaiting is not None and not self.awaiting.done:
                return
            self.awaiting = None
            if self.index >= len(self.actions):
                return
            action = self.actions[self.index]
            self.index += 1
            self.awaiting = self._invoke(action, None)

    def _leaf(self, kind: str, parent: _Node | None, *, with_id: bool = True) -> _Node:
        node = _Node(kind, parent)
        if with_id:
            node.id = self._next_id()
            self.tasks[node.id] = node
        return node

    def _invoke(self, action: dict, parent: _Node | None) -> _Node:
        if not isinstance(action, dict) or "actionType" not in action:
            raise NonDeterminismError(f"the orchestrator returned an action the host cannot read: {action!r}")
        t = action["actionType"]
        if t == 0:
            n = self._leaf(ACTIVITY, parent)
            n.name, n.input = action.get("functionName"), action.get("input")
            return n
        if t in (1, 3):
            r = _Node("retry", parent)
            r.action, r.options = action, action.get("retryOptions") or {}
            r.first_attempt = self.now
            if t == 3:
                r.sub_instance = _given_id(action)  # None: each attempt gets its own default id
            self._attempt(r)
            return r
        if t == 2:
            n = self._leaf(SUB, parent)
            n.name, n.input = action.get("functionName"), action.get("input")
            n.instance_id = _given_id(action) or self._default_sub_id(n)
            return n
        if t == 4:
            self.result.continue_as_new = True
            self.result.continue_input = action.get("input")
            return self._done_node(parent)
        if t == 5:
            n = self._leaf(TIMER, parent)
            n.fire_at = action.get("fireAt")
            if action.get("isCanceled"):
                n.done = True
            return n
        if t == 6:
            n = _Node(EVENT, parent)
            n.name = action.get("externalEventName")
            queue = self.buffered.get(n.name or "")
            if queue:
                queue.popleft()
                n.done = True
            else:
                self.waiters.setdefault(n.name or "", deque()).append(n)
            return n
        if t in (7, 9, 10):
            n = self._leaf(ENTITY_CALL if t == 7 else SIGNAL, parent)
            n.instance_id, n.name, n.input = action.get("instanceId"), action.get("operation"), action.get("input")
            n.fire_at = action.get("fireAt") if t == 10 else None
            n.guid = self._new_guid()
            if t == 7:
                self.by_guid[n.guid] = n
            else:
                n.done = True
            return n
        if t == 8:
            n = self._leaf(HTTP, parent)
            n.name, n.input = HTTP_ACTIVITY, json.dumps(action.get("httpRequest"))
            return n
        if t in (11, 12):
            c = _Node("whenany" if t == 11 else "whenall", parent)
            c.children = [self._invoke(child, c) for child in action.get("compoundActions") or []]
            self._settle(c)
            return c
        raise NonDeterminismError(f"the orchestrator returned unknown actionType {t!r}")

    def _done_node(self, parent: _Node | None) -> _Node:
        n = _Node("done", parent)
        n.done = True
        return n

    def _attempt(self, r: _Node) -> None:
        assert r.action is not None
        kind = ACTIVITY if r.action["actionType"] == 1 else SUB
        n = self._leaf(kind, r)
        n.name, n.input = r.action.get("functionName"), r.action.get("input")
        if kind == SUB:
            n.instance_id = r.sub_instance or self._default_sub_id(n)
        r.attempts += 1
        r.waiting_timer = False
        r.children.append(n)

    def _retry_delay(self, r: _Node) -> float:
        o = r.options or {}
        first = float(o.get("firstRetryIntervalInMilliseconds") or 0) / 1000.0
        coef = float(o.get("backoffCoefficient") or 1.0)
        delay = first * coef ** (r.attempts - 1)
        max_ms = o.get("maxRetryIntervalInMilliseconds")
        if max_ms:
            delay = min(delay, float(max_ms) / 1000.0)
        timeout_ms = o.get("retryTimeoutInMilliseconds")
        if timeout_ms and self.now >= r.first_attempt + float(timeout_ms) / 1000.0:
            return 0.0
        return delay

    def _settle(self, node: _Node) -> None:
        """Re-evaluate a compound after a child changed; propagate to its parent."""
        if node.done:
            return
        if node.kind == "whenall":
            if all(c.done for c in node.children):
                node.done = True
                node.failed = any(c.failed for c in node.children)
        elif node.kind == "whenany":
            if not node.children or any(c.done for c in node.children):
                node.done = True
        elif node.kind == "retry":
            last = node.children[-1]
            if not last.done:
                return
            if node.waiting_timer:
                max_attempts = int((node.options or {}).get("maxNumberOfAttempts") or 1)
                if node.attempts >= max_attempts:
                    node.done = node.failed = True
                else:
                    self._attempt(node)
                    return
            elif last.failed:
                delay = self._retry_delay(node)
                if delay <= 0:
                    node.done = node.failed = True
                else:
                    timer = self._leaf(TIMER, node)
                    timer.fire_at = iso_z(self.now + delay)
                    node.children.append(timer)
                    node.waiting_timer = True
                    return
            else:
                node.done = True
        if node.done and node.parent is not None:
            self._settle(node.parent)

    def _complete(self, node: _Node, failed: bool) -> None:
        node.done = True
        node.failed = failed
        if node.parent is not None:
            self._settle(node.parent)
        self._advance()

    # ------------------------------------------------------------------------------------------ history
    def _apply(self, ev: dict) -> None:
        et = ev.get("EventType")
        if et == h.ORCHESTRATOR_STARTED:
            self.now = parse_iso(ev["Timestamp"])
        elif et == h.EXECUTION_STARTED:
            self.execution_id = (ev.get("OrchestrationInstance") or {}).get("ExecutionId") or ""
            self._advance()
        elif et in _SCHEDULING_KINDS:
            self._match_scheduled(ev, et)
        elif et in (h.TASK_COMPLETED, h.TASK_FAILED):
            self._match_completion(ev, ev.get("TaskScheduledId"), (ACTIVITY, HTTP), et == h.TASK_FAILED)
        elif et in (h.SUB_ORCHESTRATION_COMPLETED, h.SUB_ORCHESTRATION_FAILED):
            self._match_completion(ev, ev.get("TaskScheduledId"), (SUB,), et == h.SUB_ORCHESTRATION_FAILED)
        elif et == h.TIMER_FIRED:
            self._match_completion(ev, ev.get("TimerId"), (TIMER,), False)
        elif et == h.EVENT_RAISED:
            self._raise(ev)

    def _match_scheduled(self, ev: dict, et: int) -> None:
        eid = ev.get("EventId")
        node = self.tasks.get(eid) if isinstance(eid, int) else None
        recorded = f"{h.EVENT_NAMES[et]} event with id {eid}"
        label = ev.get("Name") or ""
        if node is None:
            raise NonDeterminismError(
                f"{_ND}A previous execution of this orchestration recorded a {recorded} ('{label}' at "
                f"{ev.get('Timestamp')}), but the current replay execution has not scheduled any task with sequence "
                f"id {eid} (it scheduled {self.counter} task(s) so far).{_CHANGED}")
        if node.kind not in _SCHEDULING_KINDS[et]:
            raise NonDeterminismError(
                f"{_ND}A previous execution of this orchestration recorded a {recorded} ('{label}'), but the current "
                f"replay execution scheduled a {node.describe()} with that sequence id.{_CHANGED}")
        if et == h.TASK_SCHEDULED and node.name != ev.get("Name"):
            raise NonDeterminismError(
                f"{_ND}A previous execution of this orchestration scheduled activity task '{ev.get('Name')}' with "
                f"sequence id {eid}, but the current replay execution scheduled activity task '{node.name}' with "
                f"that id.{_CHANGED}")
        if et == h.SUB_ORCHESTRATION_CREATED:
            if node.name != ev.get("Name"):
                raise NonDeterminismError(
                    f"{_ND}A previous execution of this orchestration started sub-orchestration '{ev.get('Name')}' "
                    f"with sequence id {eid}, but the current replay execution started '{node.name}' with that id."
                    f"{_CHANGED}")
            node.instance_id = ev.get("InstanceId") or node.instance_id
        if et == h.EVENT_SENT:
            if (node.instance_id or "") != (ev.get("InstanceId") or ""):
                raise NonDeterminismError(
                    f"{_ND}A previous execution of this orchestration sent an entity operation to "
                    f"'{ev.get('InstanceId')}' with sequence id {eid}, but the current replay execution targets "
                    f"'{node.instance_id}' with that id.{_CHANGED}")
            try:
                guid = json.loads(ev.get("Input") or "{}").get("id")
            except ValueError:
                guid = None
            if guid and node.guid != guid:
                self.by_guid.pop(node.guid or "", None)
                node.guid = guid
                if node.kind == ENTITY_CALL and not node.done:
                    self.by_guid[guid] = node
        if et == h.TIMER_CREATED and ev.get("FireAt"):
            node.fire_at = ev["FireAt"]
        node.recorded = True

    def _match_completion(self, ev: dict, eid: Any, kinds: tuple[str, ...], failed: bool) -> None:
        node = self.tasks.get(eid) if isinstance(eid, int) else None
        what = h.EVENT_NAMES[ev["EventType"]]
        if node is None:
            raise NonDeterminismError(
                f"{_ND}History holds a {what} event for sequence id {eid}, but the current replay execution has no "
                f"task with that id (it scheduled {self.counter} task(s)); the orchestrator would wait forever."
                f"{_CHANGED}")
        if node.kind not in kinds:
            raise NonDeterminismError(
                f"{_ND}History holds a {what} event for sequence id {eid}, but in the current replay execution that "
                f"id belongs to a {node.describe()}.{_CHANGED}")
        if not node.recorded:
            raise NonDeterminismError(
                f"{_ND}History holds a {what} event for sequence id {eid} before the task was scheduled.")
        if node.done:  # e.g. a cancelled timer firing later: nothing awaits it any more
            return
        self._complete(node, failed)

    def _raise(self, ev: dict) -> None:
        name = ev.get("Name") or ""
        node = self.by_guid.pop(name, None)
        if node is not None:
            failed = False
            try:
                failed = "exceptionType" in json.loads(ev.get("Input") or "{}")
            except (ValueError, TypeError):
                failed = False
            self._complete(node, failed)
            return
        queue = self.waiters.get(name)
        while queue:
            waiter = queue.popleft()
            if not waiter.done:
                self._complete(waiter, False)
                return
        self.buffered.setdefault(name, deque()).append(ev.get("Input"))

    # ------------------------------------------------------------------------------------------ results
    def _work(self, n: _Node) -> ScheduledWork:
        assert n.id is not None
        return ScheduledWork(kind=n.kind, id=n.id, name=n.name, input=n.input, fire_at=n.fire_at,
                             instance_id=n.instance_id, guid=n.guid,
                             operation=n.name if n.kind in (ENTITY_CALL, SIGNAL) else None)

    def _describe_wait(self, node: _Node) -> str:
        if node.kind in ("whenall", "whenany", "retry"):
            inner = [self._describe_wait(c) for c in node.children if not c.done]
            return f"{node.kind}({', '.join(inner)})"
        ident = f" #{node.id}" if node.id is not None else ""
        return f"{node.describe()}{ident}"


def _given_id(action: dict) -> str | None:
    """The sub-orchestration instance id the SDK passed, or None (DTFx treats blank as absent)."""
    given = action.get("instanceId")
    return given if isinstance(given, str) and given.strip() else None

