"""Non-HTTP triggers the devhost runs itself: timerTrigger (NCRONTAB or TimeSpan schedules).

Public API:
    `parse_schedule(text) -> Schedule`  (`Schedule.next_after(epoch_seconds) -> epoch_seconds`)
    `TimerService(functions, clock, invoke)` with `start()`, `stop()`, `tick() -> int`, `next_due()`.
"""

from devhost.triggers.ncrontab import CronSchedule, IntervalSchedule, Schedule, ScheduleError, parse_schedule
from devhost.triggers.timer import TimerService

__all__ = ["CronSchedule", "IntervalSchedule", "Schedule", "ScheduleError", "TimerService", "parse_schedule"]
