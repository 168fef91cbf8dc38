"""The admin API and the timer trigger on a manual clock."""

import time
from datetime import UTC, datetime

import pytest
import requests

from devhost.testing import read_json_lines
from devhost.triggers import TimerService
from devhost.triggers.ncrontab import ScheduleError


def _records(path, kind):
    return [r for r in read_json_lines(path) if r.get("kind") == kind]


def test_host_status(web_app, serve):
    server = serve(web_app)
    status = requests.get(f"{server.url}/admin/host/status", timeout=10).json()
    assert status["state"] == "Running"
    assert isinstance(status["processUptime"], int)


def test_functions_metadata(web_app, serve):
    server = serve(web_app)
    listing = requests.get(f"{server.url}/admin/functions", timeout=10).json()
    by_name = {f["name"]: f for f in listing}
    assert set(by_name) == set(web_app.functions)
    echo = by_name["echo"]
    assert echo["invoke_url_template"] == f"{server.url}/api/echo/{{name:alpha}}/{{count:int?}}"
    assert {b["type"] for b in echo["config"]["bindings"]} == {"httpTrigger", "http"}
    assert by_name["on_event"]["config"]["bindings"][0]["type"] == "eventGridTrigger"
    assert by_name["every_five_minutes"]["invoke_url_template"] is None
    one = requests.get(f"{server.url}/admin/functions/echo", timeout=10).json()
    assert one == echo
    assert requests.get(f"{server.url}/admin/functions/none", timeout=10).status_code == 404


def test_admin_invoke_runs_a_timer_function(web_app, serve, sample_log):
    server = serve(web_app)
    r = requests.post(f"{server.url}/admin/functions/every_five_minutes", json={"input": ""}, timeout=10)
    assert r.status_code == 202
    deadline = time.monotonic() + 5
    while not _records(sample_log, "timer") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _records(sample_log, "timer")[0]["past_due"] is False
    assert requests.post(f"{server.url}/admin/functions/echo", json={}, timeout=10).status_code == 400


def test_timer_fires_on_the_clock(web_app, serve, sample_log, make_clock):
    server = serve(web_app)
    clock = make_clock(datetime(2024, 5, 1, 10, 2, 0, tzinfo=UTC).timestamp())
    service = TimerService(web_app.by_trigger("timerTrigger"), clock, server.invoke)
    assert service.tick() == 0
    assert datetime.fromtimestamp(service.next_due(), UTC).strftime("%H:%M:%S") == "10:05:00"
    clock.advance(180)                      # 10:05:00 exactly: due, not past due
    assert service.tick() == 1
    assert service.tick() == 0              # once per occurrence
    clock.advance(3600)                     # 11:05:00: twelve missed runs collapse into one, past due
    assert service.tick() == 1
    runs = _records(sample_log, "timer")
    assert [r["past_due"] for r in runs] == [False, True]
    assert runs[0]["next"].startswith("2024-05-01T10:10:00")
    assert runs[1]["next"].startswith("2024-05-01T11:10:00")


def test_timer_background_thread(web_app, serve, sample_log, make_clock):
    server = serve(web_app)
    clock = make_clock(datetime(2024, 5, 1, 10, 4, 59, tzinfo=UTC).timestamp())
    service = TimerService(web_app.by_trigger("timerTrigger"), clock, server.invoke).start()
    try:
        clock.advance(1)
        deadline = time.monotonic() + 5
        while not _records(sample_log, "timer") and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        service.stop()
    assert len(_records(sample_log, "timer")) == 1


def test_bad_schedule_is_refused_with_the_function_name(web_app, monkeypatch, make_clock):
    info = web_app.functions["every_five_minutes"]
    info.binding("timerTrigger")["schedule"] = "%DEVHOST_T_SCHEDULE%"
    try:
        with pytest.raises(ScheduleError, match="DEVHOST_T_SCHEDULE"):
            TimerService([info], make_clock(), lambda *a: None)
        monkeypatch.setenv("DEVHOST_T_SCHEDULE", "*/5 * * * *")
        with pytest.raises(ScheduleError, match=r"every_five_minutes.*5 fields"):
            TimerService([info], make_clock(), lambda *a: None)
    finally:
        info.binding("timerTrigger")["schedule"] = "0 */5 * * * *"


def test_server_runs_timers_on_the_given_clock(web_app, serve, sample_log, make_clock):
    clock = make_clock(datetime(2024, 5, 1, 10, 4, 0, tzinfo=UTC).timestamp())
    server = serve(web_app, clock=clock)
    assert server.timers is not None and server.timers.tick() == 0
    clock.advance(60)
    server.timers.tick()   # the background thread may have fired it already: either way, exactly one run
    deadline = time.monotonic() + 5
    while not _records(sample_log, "timer") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_records(sample_log, "timer")) == 1
