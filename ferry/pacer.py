"""In-process pacing for calls made back to back inside one activity (list paging), at a resource's rate.

Why not the `resource_budget` entity: an activity cannot wait on durable timers, and reserving a slot per page
would cost history for every page of a 5,000-model inventory. One listing runs in one activity at a time per
source, so pacing its pages in process by the budget's own rule (`ferry.orchestration.pacing.reserve`) keeps
it within the list limit. The slots are loose (spaced below the rate, no window bursts): a page's request leaves
after its wait by a varying delay (the first one fetches a key and opens a connection), which a window burst
would not absorb. A 429 from someone else's calls is still waited out by the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ferry.orchestration.pacing import reserve


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
        with self._lock:
            now = self._clock()
            granted, self._budgets[key] = reserve(self._budgets.get(key), group, now, rate)
        wait = granted.slot - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)


LIST_PACER = Pacer()
"""The process's list pacer (one per process: list paging of one resource shares it)."""
