"""A sliding window of durable tasks keeps WINDOW tasks running (devhost replays actions as the extension does):
the naive pattern collapses to one task at a time after the first completion; `schedule_now` keeps it full."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.engine.clock import VirtualClock
from devhost.testing import DevHost

APP = Path(__file__).parent / "apps" / "window"
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
# three long tasks, then six 1 s tasks: with a window of 3 the short ones run 3 at a time once the long end
DURATIONS = [10, 10.5, 11, 1, 1, 1, 1, 1, 1]


def finish_offsets(name: str, tmp_path: Path) -> list[float]:
    with DevHost.start(APP, clock=VirtualClock(start=T0.timestamp()), store=tmp_path / f"{name}.sqlite") as host:
        status = host.wait_for(host.start_new(name, DURATIONS), timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    return [(datetime.fromisoformat(t) - T0).total_seconds() for t in status["output"]]


def test_the_window_slides_with_schedule_now(tmp_path):
    assert finish_offsets("fixed_window", tmp_path) == pytest.approx([10, 10.5, 11, 11, 11.5, 12, 12, 12.5, 13])


def test_the_naive_window_collapses_to_one_task_at_a_time(tmp_path):
    """Why `schedule_now` exists: the host waits for the newest task before scheduling the next one."""
    assert finish_offsets("naive_window", tmp_path) == pytest.approx([10, 10.5, 11, 11, 12, 13, 14, 15, 16])
