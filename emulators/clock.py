"""The emulator's default clock: real time plus an offset (architecture.md, clock protocol).

Everything time-based in the local cloud (copy duration, authorization expiry, operation retention,
rate-limit windows) asks a clock object, never ``time.time()`` directly, so a test can hand in the
devhost's virtual clock or move this one forward with ``advance``.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time shifted by everything passed to ``advance``."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = float(offset)
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; advance({seconds}) was asked")
        with self._lock:
            self._offset += float(seconds)
