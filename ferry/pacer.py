"""In-process pacing for calls made back to back inside one activity (list paging), at a resource's rate.

Why not the `resource_budget` entity: an activity cannot wait on durable timers, and reserving a slot per page
would cost history for every page of a 5,000-model inventory. One listing runs in one activity at a time per
resource, so pacing its pages in process keeps it within the list limit.

Why calls are paced by when they *ended*, not by slots handed out ahead: the service counts a call when it
arrives, somewhere between the moment the client starts it and the moment the answer is back. A slot says only
when a call may start; a call that leaves late (a stalled thread, a key fetched first, on a shared virtual clock
another resource's listing moving time on) lands next to the calls slotted after it, more of them in one second
than the service admits. So a call starts only when the call `calls` before it (`pacing.window`) ended at least
one window ago: whatever happened in between, the two arrivals are a window apart and no one-second span holds
more than `calls` of them. A 429 from someone else's calls is still waited out by the client.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ferry.orchestration.pacing import MARGIN_SECONDS, window

IN_FLIGHT_POLL_SECONDS = 0.5
"""How long (real time) a waiting call sleeps before looking again when the call it follows has not ended."""


@dataclass
class _Call:
    ended: float | None = None


class Pacer:
    """Paces calls per key (a resource alias) by the service's sliding window, across threads of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, margin: float = MARGIN_SECONDS) -> None:
        self._clock = clock
        self._sleep = sleep
        self._margin = margin
        self._recent: dict[str, deque[_Call]] = {}
        self._changed = threading.Condition()

    @contextmanager
    def call(self, key: str, rate: float) -> Iterator[float]:
        """Hold until a call of `key` may start at `rate`, then run the body as that call; yields the seconds
        waited. The call counts as ended when the body returns or raises."""
        calls, span = window(rate, self._margin)
        this = _Call()
        waited = 0.0
        while True:
            with self._changed:
                recent = self._recent.get(key)
                if recent is None or recent.maxlen != calls:
                    recent = self._recent[key] = deque(recent or (), maxlen=calls)
                now = self._clock()
                before = recent[0] if len(recent) == calls else None  # the call `calls` before this one
                if before is not None and before.ended is None:
                    self._changed.wait(IN_FLIGHT_POLL_SECONDS)  # its arrival is not bounded yet
                    continue
                ready = now if before is None else before.ended + span
                if ready <= now:
                    recent.append(this)  # drops `before`: the next call follows the one after it
                    break
            self._sleep(ready - now)
            waited += ready - now
        try:
            yield waited
        finally:
            with self._changed:
                this.ended = self._clock()
                self._changed.notify_all()


LIST_PACER = Pacer()
"""The process's list pacer (one per process: list paging of one resource shares it)."""
