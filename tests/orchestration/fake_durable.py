"""A synchronous stand-in for the durable runtime, to unit-test the orchestrator generators.

Activities run immediately through a name → callable map, sub-orchestrations run inline (their generators driven
the same way), timers move a virtual clock to their fire time. Failed tasks are thrown into the generator as
the SDK does on replay (`orchestrator_generator_wrapper` semantics); `task_any` returns the task that finished
first: a timer at its fire time, a sub-orchestration when its inline run ended, anything else when it was made
(ties go to the earlier task in the list; a timer that wins moves the clock to its fire time if it is later).
Everything the orchestrator does is recorded so tests can assert on calls, timers and custom statuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class FakeTask:
    kind: str
    result: Any = None
    name: str | None = None
    fire_at: datetime | None = None
    instance_id: str | None = None
    cancelled: bool = False
    done_at: datetime | None = None  # when the task finished (a timer: its fire time)
    fired: bool = False  # a timer: whether a `yield` or a `task_any` waited it out

    @property
    def is_completed(self) -> bool:
        return self.fired if self.kind == "timer" else True

    def cancel(self) -> None:
        assert self.kind == "timer", "only timers can be cancelled"
        if self.fired:
            raise ValueError("Cannot cancel a completed task.")  # as the SDK's TimerTask.cancel
        self.cancelled = True


@dataclass
class Recorder:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    activities: list[tuple[str, Any]] = field(default_factory=list)
    timers: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # (instance, set at, fire at)
    statuses: dict[str, list[Any]] = field(default_factory=dict)
    children: list[tuple[str, str, Any]] = field(default_factory=list)
    on_timer: Callable[[float], None] | None = None  # e.g. the emulator clock's advance
    entities: list[tuple[str, str, str, Any]] = field(default_factory=list)  # (entity name, key, operation, input)
    # entity operations answer through this (default: an idle `resource_budget`, the slot is the caller's `at`)
    on_entity: Callable[[str, str, str, Any], Any] | None = None

    def advance_to(self, when: datetime) -> None:
        if when > self.now:
            seconds = (when - self.now).total_seconds()
            self.now = when
            if self.on_timer:
                self.on_timer(seconds)


class FakeContext:
    def __init__(self, instance_id: str, input_: Any, recorder: Recorder,
                 activities: dict[str, Callable[[Any], Any]], orchestrators: dict[str, Callable[[Any], Any]]):
        self.instance_id = instance_id
        self._input = input_
        self.rec = recorder
        self._activities = activities
        self._orchestrators = orchestrators
        self.is_replaying = False
        self.custom_status: Any = None

    @property
    def current_utc_datetime(self) -> datetime:
        return self.rec.now

    def get_input(self) -> Any:
        return self._input

    def set_custom_status(self, status: Any) -> None:
        self.custom_status = status
        self.rec.statuses.setdefault(self.instance_id, []).append(status)

    def call_activity(self, name: str, input_: Any = None) -> FakeTask:
        self.rec.activities.append((name, input_))
        try:
            return FakeTask("activity", self._activities[name](input_), name=name, done_at=self.rec.now)
        except Exception as exc:  # an activity that raises fails its task
            return FakeTask("activity", exc, name=name, done_at=self.rec.now)

    def call_sub_orchestrator(self, name: str, input_: Any = None, instance_id: str | None = None) -> FakeTask:
        assert instance_id, "children must get deterministic instance ids"
        self.rec.children.append((name, instance_id, input_))
        child = FakeContext(instance_id, input_, self.rec, self._activities, self._orchestrators)
        try:
            result = drive(self._orchestrators[name](child), self.rec, instance_id)
        except Exception as exc:
            result = Exception(f"Orchestrator function '{name}' failed: {exc}")
        return FakeTask("sub", result, name=name, instance_id=instance_id, done_at=self.rec.now)

    def call_entity(self, entity_id: Any, operation: str, input_: Any = None) -> FakeTask:
        self.rec.entities.append((entity_id.name, entity_id.key, operation, input_))
        if self.rec.on_entity is not None:
            return FakeTask("entity", self.rec.on_entity(entity_id.name, entity_id.key, operation, input_),
                            done_at=self.rec.now)
        return FakeTask("entity", {"group": (input_ or {}).get("group"), "slot": (input_ or {}).get("at"),
                                   "waitSeconds": 0.0}, done_at=self.rec.now)

    def signal_entity(self, entity_id: Any, operation: str, input_: Any = None) -> None:
        self.rec.entities.append((entity_id.name, entity_id.key, operation, input_))

    def create_timer(self, fire_at: datetime) -> FakeTask:
        assert fire_at.tzinfo is not None
        self.rec.timers.append((self.instance_id, self.rec.now, fire_at))
        return FakeTask("timer", None, fire_at=fire_at, done_at=fire_at)

    def task_any(self, tasks: list[FakeTask]) -> FakeTask:
        assert tasks
        first = min(tasks, key=lambda t: t.done_at or self.rec.now)  # min keeps the earliest of equals
        if first.kind == "timer":
            self.rec.advance_to(first.fire_at)
            first.fired = True
        return FakeTask("any", first)

    def task_all(self, tasks: list[FakeTask]) -> FakeTask:
        return FakeTask("all", [t.result for t in tasks])


def drive(generator: Any, rec: Recorder, instance_id: str = "test") -> Any:
    """Run an orchestrator generator to completion; returns its output or raises its exception."""
    send: Any = None
    throw: Exception | None = None
    guard = 0
    while True:
        guard += 1
        assert guard < 10_000, "orchestrator did not finish (endless loop?)"
        try:
            task = generator.throw(throw) if throw is not None else generator.send(send)
        except StopIteration as stop:
            return stop.value
        send, throw = None, None
        if task.kind == "timer":
            rec.advance_to(task.fire_at)
            task.fired = True
        elif isinstance(task.result, Exception) and task.kind != "any":
            throw = task.result
            continue
        send = task.result


def run_orchestrator(fn: Callable[[Any], Any], input_: Any, *, activities: dict[str, Callable[[Any], Any]],
                     orchestrators: dict[str, Callable[[Any], Any]] | None = None, instance_id: str = "parent",
                     recorder: Recorder | None = None) -> tuple[Any, Recorder]:
    rec = recorder or Recorder()
    ctx = FakeContext(instance_id, input_, rec, activities, orchestrators or {})
    return drive(fn(ctx), rec, instance_id), rec


def seconds_between(a: datetime, b: datetime) -> float:
    return (b - a) / timedelta(seconds=1)
