"""NCRONTAB schedules as the Functions timer trigger reads them.

Six fields `{second} {minute} {hour} {day} {month} {day-of-week}` (the five-field form is refused, as
the host refuses it), each `*`, a value, a range `a-b`, a list `a,b`, a step `*/n` or `a-b/n`, month
and weekday names (`Jan`, `Mon`), 0 or 7 for Sunday. As in the NCrontab library the host uses, a
time must match *every* field (day-of-month AND day-of-week). Times are UTC (`WEBSITE_TIME_ZONE` is
not applied). A TimeSpan (`hh:mm:ss`, App Service plans) means "every interval since start".
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devhost.config import ConfigError, parse_timespan

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_FIELDS = (  # name, low, high, names
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)


class ScheduleError(ConfigError):
    """A schedule expression the host would refuse at start."""


class Schedule:
    """Anything that can say when it fires next."""

    def next_after(self, when: float) -> float:  # pragma: no cover - interface
        """First firing time strictly after `when` (epoch seconds)."""
        raise NotImplementedError


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """A TimeSpan schedule: fires every `seconds`, counted from `origin`."""

    seconds: float
    origin: float = 0.0

    def next_after(self, when: float) -> float:
        steps = int((when - self.origin) // self.seconds) + 1
        return self.origin + steps * self.seconds


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A parsed six-field NCRONTAB expression."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def matches(self, moment: datetime) -> bool:
        """True when the UTC datetime matches every field."""
        return (
            moment.second in self.seconds
            and moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.day in self.days
            and moment.month in self.months
            and (moment.isoweekday() % 7) in self.weekdays
        )

    def next_after(self, when: float) -> float:
        start = datetime.fromtimestamp(int(when), UTC) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        # Walk day by day (at most ~28 years covers every valid Feb-29/weekday combination).
        for _ in range(366 * 28):
            if day.month in self.months and day.day in self.days and (day.isoweekday() % 7) in self.weekdays:
                candidate = self._first_in_day(day, start if day.date() == start.date() else None)
                if candidate is not None:
                    return candidate.timestamp()
            day += timedelta(days=1)
        raise ScheduleError(f"schedule '{self.expression}' never fires (no date matches every field)")

    def _first_in_day(self, day: datetime, not_before: datetime | None) -> datetime | None:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                for second in sorted(self.seconds):
                    moment = day.replace(hour=hour, minute=minute, second=second)
                    if not_before is None or moment >= not_before:
                        return moment
        return None


def parse_schedule(text: str, *, origin: float = 0.0) -> Schedule:
    """Parse a timer trigger schedule: six-field NCRONTAB or a TimeSpan (`00:05:00`)."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError("the timer schedule is empty; write six NCRONTAB fields, e.g. '0 */5 * * * *'")
    expression = text.strip()
    if re.fullmatch(r"(\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?", expression):
        seconds = parse_timespan(expression)
        if seconds <= 0:
            raise ScheduleError(f"timer schedule '{expression}' must be a positive interval")
        return IntervalSchedule(seconds, origin)
    parts = expression.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"timer schedule '{expression}' has {len(parts)} fields; Azure Functions uses six NCRONTAB fields "
            "'{second} {minute} {hour} {day} {month} {day-of-week}', e.g. '0 */5 * * * *'"
        )
    sets = [_parse_field(part, *spec, expression) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[5])
    return CronSchedule(expression, sets[0], sets[1], sets[2], sets[3], sets[4], weekdays)


def _parse_field(part: str, name: str, low: int, high: int, names: dict[str, int], expression: str) -> frozenset:
    values: set[int] = set()
    for item in part.split(","):
        values.update(_parse_item(item, name, low, high, names, expression))
    return frozenset(values)


def _parse_item(item: str, name: str, low: int, high: int, names: dict[str, int], expression: str) -> range:
    def bad(why: str) -> ScheduleError:
        return ScheduleError(f"timer schedule '{expression}': {name} field '{item}' {why}")

    base, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise bad("has an invalid step; use */n with n > 0")
        step = int(step_text)
    if base == "*":
        first, last = low, high if name != "day-of-week" else 6
    elif "-" in base:
        a, _, b = base.partition("-")
        first, last = _value(a, names, bad), _value(b, names, bad)
    else:
        first = _value(base, names, bad)
        last = high if step_text else first
    if not (low <= first <= high and low <= last <= high):
        raise bad(f"is out of range {low}-{high}")
    if first > last:
        raise bad("is a descending range")
    return range(first, last + 1, step)


def _value(text: str, names: dict[str, int], bad) -> int:
    if text.isdigit():
        return int(text)
    key = text.lower()[:3]
    if key in names and text.lower() in (key, _full_name(key, names)):
        return names[key]
    raise bad("is not a number or a known name")


def _full_name(key: str, names: dict[str, int]) -> str:
    if names is _MONTHS:
        return calendar.month_name[names[key]].lower()
    return calendar.day_name[(names[key] - 1) % 7].lower()
