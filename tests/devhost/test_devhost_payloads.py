"""Exact texts the engine produces: failure reasons, stored inputs, TimeSpans, entity ids, timestamps."""

from __future__ import annotations

import json

import pytest

from devhost.engine import BadRequestError
from devhost.engine.clock import dotnet_o, iso_seconds_z, iso_z, parse_iso
from devhost.engine.payloads import activity_failure, json_token, scheduler_id, stored_input, timespan


def test_activity_failure_reason_and_details_are_parseable_like_in_azure():
    try:
        raise KeyError("missing")
    except KeyError as exc:
        reason, details = activity_failure("load", exc)
    assert reason == "Activity function 'load' failed:  KeyError: 'missing'"  # friendly text keeps its space
    assert "\n" not in reason and "\n" not in details  # the SDK joins them with " \n "
    parsed = json.loads(details)
    assert parsed["Message"].split(":", 1)[1].lstrip() == "'missing'"  # the documented user workaround works
    assert "Traceback" in parsed["InnerException"]["Message"]


def test_stored_input_re_serializes_the_sdk_json_text():
    assert stored_input("5") == '"5"'
    assert stored_input('{"a": 1}') == '"{\\"a\\": 1}"'
    assert stored_input(None) is None
    assert json_token(stored_input("5")) == "5"
    assert json_token("not json") == "not json"


def test_timespan_and_timestamps():
    assert timespan(600) == "00:10:00"
    assert timespan(0.25) == "00:00:00.2500000"
    assert timespan(3725) == "01:02:05"
    ts = 1_714_557_600.123456
    assert iso_z(ts) == "2024-05-01T10:00:00.123456Z"
    assert iso_z(1_714_557_600.0) == "2024-05-01T10:00:00Z"
    assert iso_seconds_z(ts) == "2024-05-01T10:00:00Z"
    assert dotnet_o(ts) == "2024-05-01T10:00:00.1234560Z"
    assert parse_iso("2024-05-01T10:00:00.1234567Z") == pytest.approx(ts, abs=1e-6)
    assert parse_iso("2024-05-01T10:00:00") == pytest.approx(1_714_557_600.0)  # naive = UTC


def test_scheduler_id_lowercases_the_name_allows_an_empty_key_and_rejects_an_empty_name():
    assert scheduler_id("Counter", "Key1") == "@counter@Key1"
    assert scheduler_id("Counter", "") == "@counter@"      # the extension's EntityId allows an empty key
    with pytest.raises(BadRequestError, match="entity name must not be"):
        scheduler_id("", "k")
    with pytest.raises(BadRequestError, match="entity key must not be null"):
        scheduler_id("counter", None)
