"""In-process pacing for calls made back to back inside one activity (list paging), at a resource's rate.

Why not the `resource_budget` entity: an activity cannot wait on durable timers, and reserving a slot per page
would cost history for every page of a 5,000-model inventory. One listing runs in one activity at a time per
source, so spacing its pages in process (at `ferry.orchestration.pacing.interval(rate)`, the same headroom as
the budget) keeps it within the list limit; a 429 from someone else's calls is still waited out by the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ferry.orchestration.pacing import interval


class Pacer:
    """Spaces calls per key (a resource alias) at least `interval(rate)` apart, across threads of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, rate: float) -> float:
        """Block until the next call of `key` may go; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + interval(rate)
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)


LIST_PACER = Pacer()
"""The process's list pacer (one per process: list paging of one resource shares it)."""
