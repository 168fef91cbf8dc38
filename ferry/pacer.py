"""In-process pacing for calls made back to back inside one activity (list paging), at a resource's rate.

Why not the `resource_budget` entity: an activity cannot wait on durable timers, and reserving a slot per page
would cost history for every page of a 5,000-model inventory. One listing runs in one activity at a time per
source, so pacing its pages in process by the budget's own rule (`ferry.orchestration.pacing.reserve`) keeps
it within the list limit. The slots are loose (spaced below the rate, no window bursts): a page's request leaves
after its wait by a varying delay (the first one fetches a key and opens a connection), which a window burst
would not absorb. A call that wakes more than LOOSE_LATENESS_SECONDS after its slot (a stalled process, a
thread that slept long) gives the slot back and takes a new one: sent late, it would land next to the calls
whose slots follow its own, more of them in one second than the service admits. A 429 from someone else's calls
is still waited out by the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ferry.orchestration.pacing import LOOSE_LATENESS_SECONDS, release, reserve

MAX_ROUNDS = 5
"""How many times one call takes a new slot after waking too late for its own; past them it goes anyway."""


class Pacer:
    """Paces calls per key (a resource alias) by the budget's rule (loose slots), across threads of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._budgets: dict[str, dict] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, rate: float, group: str = "list") -> float:
        """Block until the next call of `key` may go; returns the seconds waited."""
        waited = 0.0
        for _ in range(MAX_ROUNDS):
            with self._lock:
                now = self._clock()
                granted, self._budgets[key] = reserve(self._budgets.get(key), group, now, rate)
            wait = granted.slot - now
            if wait > 0:
                self._sleep(wait)
                waited += wait
            with self._lock:
                if self._clock() - granted.slot <= LOOSE_LATENESS_SECONDS:
                    break
                self._budgets[key] = release(self._budgets[key], group, granted.slot)
        return waited


LIST_PACER = Pacer()
"""The process's list pacer (one per process: list paging of one resource shares it)."""
