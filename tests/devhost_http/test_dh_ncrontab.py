from datetime import UTC, datetime

import pytest

from devhost.triggers import CronSchedule, IntervalSchedule, ScheduleError, parse_schedule


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def nexts(expression: str, start: str, count: int = 3) -> list[str]:
    schedule = parse_schedule(expression)
    out, when = [], ts(start)
    for _ in range(count):
        when = schedule.next_after(when)
        out.append(iso(when))
    return out


def test_every_five_minutes():
    assert nexts("0 */5 * * * *", "2024-05-01T10:02:13") == [
        "2024-05-01T10:05:00", "2024-05-01T10:10:00", "2024-05-01T10:15:00"]


def test_strictly_after_an_exact_match():
    assert nexts("0 */5 * * * *", "2024-05-01T10:05:00", 1) == ["2024-05-01T10:10:00"]


def test_seconds_field_and_lists():
    assert nexts("5,35 * * * * *", "2024-05-01T10:00:06") == [
        "2024-05-01T10:00:35", "2024-05-01T10:01:05", "2024-05-01T10:01:35"]


def test_weekday_names_and_ranges():
    # 2024-05-01 is a Wednesday; 09:30 on Mon-Fri
    assert nexts("0 30 9 * * Mon-Fri", "2024-05-03T12:00:00", 2) == ["2024-05-06T09:30:00", "2024-05-07T09:30:00"]


def test_sunday_as_0_and_7():
    assert nexts("0 0 0 * * 0", "2024-05-01T00:00:00", 1) == nexts("0 0 0 * * 7", "2024-05-01T00:00:00", 1) \
        == ["2024-05-05T00:00:00"]


def test_month_names_and_day_of_month():
    assert nexts("0 0 12 1 Jan,jul *", "2024-05-01T00:00:00", 2) == ["2024-07-01T12:00:00", "2025-01-01T12:00:00"]


def test_day_of_month_and_weekday_must_both_match():
    # Friday the 13th (NCrontab ANDs the two day fields)
    assert nexts("0 0 0 13 * Fri", "2024-01-01T00:00:00", 2) == ["2024-09-13T00:00:00", "2024-12-13T00:00:00"]


def test_leap_day():
    assert nexts("0 0 0 29 2 *", "2024-03-01T00:00:00", 1) == ["2028-02-29T00:00:00"]


def test_range_with_step():
    assert nexts("0 10-20/5 8 * * *", "2024-05-01T00:00:00") == [
        "2024-05-01T08:10:00", "2024-05-01T08:15:00", "2024-05-01T08:20:00"]


def test_timespan_schedule():
    schedule = parse_schedule("00:05:00", origin=ts("2024-05-01T10:00:00"))
    assert isinstance(schedule, IntervalSchedule)
    assert iso(schedule.next_after(ts("2024-05-01T10:07:00"))) == "2024-05-01T10:10:00"


def test_parsed_type():
    assert isinstance(parse_schedule("0 0 * * * *"), CronSchedule)


@pytest.mark.parametrize(("expression", "fragment"), [
    ("*/5 * * * *", "has 5 fields"),
    ("", "empty"),
    ("0 60 * * * *", "out of range"),
    ("0 0 25 * * *", "out of range"),
    ("0 */0 * * * *", "step"),
    ("0 0 0 * Foo *", "known name"),
    ("0 0 0 31 2 *", "never fires"),
    ("0 0 5-1 * * *", "descending"),
])
def test_bad_schedules(expression, fragment):
    with pytest.raises(ScheduleError, match=fragment):
        nexts(expression, "2024-01-01T00:00:00", 1)
