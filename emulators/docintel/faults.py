"""Injected faults: seeded probabilities (repeatable) and deterministic "next N calls of operation X".

Kinds: ``5xx`` (an error response instead of processing), ``drop`` (the request IS processed, then the
connection is closed mid-response: the client cannot tell whether it happened), ``slow`` (a real delay
before answering; wall-clock latency, never the emulator clock), ``429`` (a throttle with Retry-After).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

KINDS = ("5xx", "drop", "slow", "429")


@dataclass
class Fault:
    kind: str
    status: int = 503
    seconds: float = 0.5
    retry_after: int = 1

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": self.status, "seconds": self.seconds, "retryAfter": self.retry_after}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; kinds are {', '.join(KINDS)}")


class FaultPlan:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)
            self.error_rate = self.drop_rate = self.slow_rate = 0.0
            self.status = 503
            self.slow_seconds = 0.5
            self.operations: set[str] | None = None
            self._next: list[tuple[str, int, Fault]] = []  # (operation or "*", remaining, fault)

    def configure(self, *, error_rate: float = 0.0, drop_rate: float = 0.0, slow_rate: float = 0.0,
                  status: int = 503, slow_seconds: float = 0.5, seed: int | None = None,
                  operations: list[str] | None = None) -> None:
        for name, rate in (("error_rate", error_rate), ("drop_rate", drop_rate), ("slow_rate", slow_rate)):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate!r}")
        if not 500 <= int(status) <= 599:
            raise ValueError(f"status must be a 5xx code, got {status!r}")
        with self._lock:
            if seed is not None:
                self._seed = seed
            self._rng = random.Random(self._seed)
            self.error_rate, self.drop_rate, self.slow_rate = float(error_rate), float(drop_rate), float(slow_rate)
            self.status, self.slow_seconds = int(status), float(slow_seconds)
            self.operations = set(operations) if operations else None

    def add_next(self, operation: str, count: int, fault: Fault) -> None:
        _check_kind(fault.kind)
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        with self._lock:
            self._next.append((operation, count, fault))

    def pick(self, operation: str) -> Fault | None:
        """The fault (if any) for this call; consumes deterministic entries first, then rolls the dice."""
        with self._lock:
            for index, (op, remaining, fault) in enumerate(self._next):
                if op in (operation, "*"):
                    if remaining <= 1:
                        del self._next[index]
                    else:
                        self._next[index] = (op, remaining - 1, fault)
                    return fault
            if self.operations is not None and operation not in self.operations:
                return None
            if not (self.error_rate or self.drop_rate or self.slow_rate):
                return None
            roll = self._rng.random()
            if roll < self.error_rate:
                return Fault("5xx", status=self.status)
            if roll < self.error_rate + self.drop_rate:
                return Fault("drop")
            if roll < self.error_rate + self.drop_rate + self.slow_rate:
                return Fault("slow", seconds=self.slow_seconds)
            return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"errorRate": self.error_rate, "dropRate": self.drop_rate, "slowRate": self.slow_rate,
                    "status": self.status, "slowSeconds": self.slow_seconds, "seed": self._seed,
                    "operations": sorted(self.operations) if self.operations else None,
                    "next": [{"operation": op, "remaining": n, **f.describe()} for op, n, f in self._next]}
