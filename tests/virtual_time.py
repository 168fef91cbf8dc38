"""The app's own clocks on a devhost virtual clock, for tests that run the app in process on one.

Why: the orchestrations read the host's clock (virtual here), but two places of the app read time themselves —
`ferry.steps` (an activity holds its rate-limited calls until the budget's slot and refuses to send when it
starts more than FERRY_PACING_MARGIN_MS after it) and `ferry.pacer` (list pages). On the wall clock, an activity
compares a slot in virtual time with real time: how late it looks depends on how far the machine lags the
virtual clock, so a busy machine makes copies miss slot after slot. On the virtual clock, time does not move
while an activity runs, and the durable timer that woke the activity already waited for the slot's lead: the
hold is nothing, and lateness is measured on the same clock as the slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ferry import pacer as ferry_pacer
from ferry import steps


def _no_hold(seconds: float) -> None:
    """Holding for a slot on a clock that does not move while the activity runs: nothing to wait for."""


@contextmanager
def steps_on_clock(clock: Any) -> Iterator[None]:
    """`ferry.steps` (held copy calls, missed slots) on `clock`."""
    saved = steps._now, steps._sleep
    steps._now, steps._sleep = clock.time, _no_hold
    try:
        yield
    finally:
        steps._now, steps._sleep = saved


@contextmanager
def app_on_clock(clock: Any) -> Iterator[None]:
    """`ferry.steps` and `ferry.pacer`'s list pages (which then advance `clock` as they wait) on `clock`."""
    saved = ferry_pacer.LIST_PACER
    ferry_pacer.LIST_PACER = ferry_pacer.Pacer(clock.time, clock.advance)
    try:
        with steps_on_clock(clock):
            yield
    finally:
        ferry_pacer.LIST_PACER = saved
