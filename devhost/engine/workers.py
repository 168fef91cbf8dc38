"""A fixed pool of daemon worker threads.

Why not ``ThreadPoolExecutor``: its threads are joined at interpreter exit, so an activity still running when the
host stops (a long poll, a hung call) would keep the process alive. The engine abandons such work at ``stop()``
(its work item stays 'running' in the store and runs again at the next start, at least once), so daemon threads
are the faithful choice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("devhost")


class WorkerPool:
    """``size`` daemon threads taking callables from one queue."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def shutdown(self) -> None:
        """Ask every thread to stop after its current job; does not wait (stuck jobs are abandoned)."""
        for _ in self._threads:
            self._queue.put(None)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            fn, args = job
            try:
                fn(*args)
            except Exception:  # the callables guard themselves; this only keeps the thread alive
                log.exception("devhost worker job failed")
