"""timerTrigger on the engine's clock.

Each timer function's schedule (NCRONTAB or TimeSpan; `%SETTING%` resolved from the environment) is
evaluated against `clock.time()`, so with a virtual clock a test advances time and the timer fires,
without sleeping. Like the host: one execution of a function at a time, a run that starts late gets
`past_due=True` and several missed occurrences collapse into one run; `runOnStartup` fires once at
start. `useMonitor` (schedule status persisted in storage) is accepted and ignored: the devhost keeps
schedule status in memory only, so a restart does not catch up on missed runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter

from devhost.triggers.ncrontab import Schedule, ScheduleError, parse_schedule

__all__ = ["TimerService", "timer_request"]

log = logging.getLogger("devhost.triggers")

PAST_DUE_TOLERANCE = 1.0  # seconds late before a run counts as past due


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def timer_request(*, past_due: bool, last: float | None, next_due: float | None, now: float) -> Any:
    """The `func.TimerRequest` the worker builds from the host's timer payload."""
    payload = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": {"Last": _iso(last), "Next": _iso(next_due), "LastUpdated": _iso(now)},
        "IsPastDue": past_due,
    }
    return TimerRequestConverter.decode(meta.Datum(json.dumps(payload), "json"), trigger_metadata={})


@dataclass
class _Timer:
    name: str
    schedule: Schedule
    run_on_startup: bool
    next_due: float
    last: float | None = None


def _resolve(expression: str) -> str:
    match = re.fullmatch(r"%([^%]+)%", expression.strip())
    if not match:
        return expression
    name = match.group(1)
    if name not in os.environ:
        raise ScheduleError(f"timer schedule '{expression}' refers to app setting {name}, which is not set")
    return os.environ[name]


class TimerService:
    """Fires timer-triggered functions when the clock reaches their schedule.

    `functions`: FunctionInfo objects with trigger type timerTrigger; `clock`: `time()`/`advance()`;
    `invoke(name, timer_request)`: runs the function synchronously (the HostServer's `invoke`).
    Schedules are parsed in the constructor, so a bad schedule fails the host at start.
    """

    def __init__(self, functions: list[Any], clock: Any, invoke: Callable[[str, Any], Any],
                 *, poll_interval: float = 0.02) -> None:
        self.clock = clock
        self._invoke = invoke
        self._poll = poll_interval
        now = clock.time()
        self._timers: list[_Timer] = []
        for info in functions:
            binding = info.binding("timerTrigger") or {}
            try:
                schedule = parse_schedule(_resolve(str(binding.get("schedule", ""))), origin=now)
            except ScheduleError as exc:
                raise ScheduleError(f"function {info.name!r}: {exc}") from exc
            if binding.get("useMonitor") is not None:
                log.debug("Functions.%s: useMonitor is ignored by the devhost", info.name)
            self._timers.append(_Timer(info.name, schedule, bool(binding.get("runOnStartup")),
                                       schedule.next_after(now)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def next_due(self) -> float | None:
        """The earliest time a timer fires next (a virtual clock can skip to it), or None."""
        return min((t.next_due for t in self._timers), default=None)

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()` (only then does anything fire timers on its own)."""
        return self._thread is not None and not self._stop.is_set()

    def schedule_of(self, name: str) -> float:
        """When the timer function `name` fires next (epoch seconds)."""
        return next(t.next_due for t in self._timers if t.name == name)

    def start(self) -> TimerService:
        """Run `runOnStartup` timers, then poll the clock in a background thread."""
        for timer in self._timers:
            if timer.run_on_startup:
                self._fire(timer, past_due=False)
        if self._timers and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="devhost-timers", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling (a running invocation finishes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def tick(self) -> int:
        """Fire every timer that is due now; returns how many ran. Thread-safe."""
        fired = 0
        with self._lock:
            now = self.clock.time()
            for timer in self._timers:
                if timer.next_due <= now:
                    self._fire(timer, past_due=now - timer.next_due > PAST_DUE_TOLERANCE)
                    fired += 1
        return fired

    def _fire(self, timer: _Timer, *, past_due: bool) -> None:
        now = self.clock.time()
        upcoming = timer.schedule.next_after(max(now, timer.next_due))
        request = timer_request(past_due=past_due, last=timer.last, next_due=upcoming, now=now)
        try:
            self._invoke(timer.name, request)
        except Exception:  # noqa: S110 - the invoker logged it with the traceback; the schedule goes on
            pass
        timer.last = now
        timer.next_due = upcoming

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._poll)  # cheap; a virtual clock may jump at any moment
