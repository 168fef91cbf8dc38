"""What the emulated resources share: the clock, one lock and the lookup of resources by resourceId.

A copy started on one resource finishes on another, so every request first calls ``tick()``, which
applies the operations whose time has come (in time order) across all resources, under one lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .state import Job

if TYPE_CHECKING:
    from .backend import ResourceBackend


class World:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.backends: dict[str, ResourceBackend] = {}

    def add(self, backend: ResourceBackend) -> None:
        self.backends[backend.settings.name] = backend

    def by_resource_id(self, resource_id: str) -> ResourceBackend | None:
        wanted = resource_id.strip().lower()
        for backend in self.backends.values():
            if backend.settings.resource_id.lower() == wanted:
                return backend
        return None

    def now(self) -> float:
        return self.clock.time()

    def tick(self) -> float:
        """Apply everything due at the clock's current time; returns that time."""
        with self.lock:
            now = self.now()
            due: list[Job] = []
            for backend in self.backends.values():
                backend.promote_models(now)
                due.extend(job for job in backend.all_jobs() if job.due(now))
            for job in sorted(due, key=lambda j: (j.end_at or 0.0, j.created)):
                job.applied = True
                job.finished_at = job.end_at
                if job.finish is not None:
                    job.finish(job)
            for backend in self.backends.values():
                backend.forget_expired(now)
            return now
