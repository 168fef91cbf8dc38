"""Sliding windows of durable tasks that really slide, under the Python SDK's replay protocol.

Why: with the out-of-process protocol the SDK sends the host its actions as a list the host replays in order,
awaiting each entry; a `task_any` over tasks of which some were already scheduled is sent as a WhenAny of the
NEW tasks only. So the usual sliding window — start a task when one finishes, then `task_any(running)` — makes
the host wait for the newest task before it schedules the next one: after the first completion only one task
runs at a time (the window collapses). `schedule_now` hands new tasks to the host in an entry that resolves at
once (a WhenAny with a timer due now); waiting on `task_any(running)` afterwards adds no action, so the host
never blocks on a task the orchestrator is not waiting for. Cost: one timer (two history events) per batch of
new tasks started while others run.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any


def schedule_now(context: Any, new: Sequence[Any], running: Sequence[Any]) -> Generator[Any, Any, None]:
    """Make sure the host schedules the `new` tasks now, when other `running` tasks were scheduled earlier.

    Call it after creating `new` (already part of `running`) and before `yield context.task_any(running)`. When
    every running task is new, nothing is needed: that `task_any` sends them all."""
    if new and len(new) < len(running):
        yield context.task_any([*new, context.create_timer(context.current_utc_datetime)])
