"""Clocks (the shared protocol ``time()`` / ``advance(seconds)``) and the UTC timestamp formats of the extension.

Why: durable timers, ``current_utc_datetime`` and the emulators must all read one notion of "now". A test hands
one clock to both the devhost and the local cloud; the engine only ever calls ``time()`` and ``advance()`` on it
(duck-typed), so any object with those two methods works.
"""

from __future__ import annotations

import threading
import time as _time
from datetime import UTC, datetime


class RealClock:
    """Wall-clock time plus an offset (``advance`` moves the offset, as the emulators' default clock does)."""

    virtual = False

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return _time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock only moves forward (advance({seconds}))")
        with self._lock:
            self._offset += seconds


class VirtualClock:
    """Time that only moves when told to: ``advance(seconds)``, or the engine skipping to the next due timer."""

    virtual = True

    def __init__(self, start: float | datetime | None = None) -> None:
        if start is None:
            start = _time.time()
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError("VirtualClock start must be an aware datetime (e.g. datetime(..., tzinfo=UTC))")
            start = start.timestamp()
        self._now = round(float(start), 6)  # whole microseconds, as the timestamps the SDK sees
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock only moves forward (advance({seconds}))")
        with self._lock:
            self._now += seconds


def utc(ts: float) -> datetime:
    """An aware UTC datetime for epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)


def iso_z(ts: float) -> str:
    """``yyyy-MM-ddTHH:mm:ss.ffffffZ`` (microseconds, trailing zeros trimmed, always ``Z``) as Newtonsoft writes."""
    d = utc(ts)
    frac = f"{d.microsecond:06d}".rstrip("0")
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def iso_seconds_z(ts: float) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ``: the status API's createdTime / lastUpdatedTime format."""
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def dotnet_o(ts: float) -> str:
    """.NET ``DateTime.ToString("o")`` of a UTC time: seven fractional digits and ``Z`` (used by NewGuid)."""
    d = utc(ts)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{d.microsecond:06d}0Z"


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO-8601 stamp; a naive stamp (or the SDK's literal ``Z``) is read as UTC."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python 3.11 accepts up to 6 fractional digits; .NET writes 7.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        s = f"{head}.{(digits + '000000')[:6]}{rest[i:]}"
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()
