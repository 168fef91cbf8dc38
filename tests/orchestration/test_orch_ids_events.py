"""Instance ids (request prefix + run number, event ids, child ids) and ModelTrained event parsing."""

import re

import pytest

from ferry.orchestration.events import is_model_trained, read_event
from ferry.orchestration.ids import (
    child_instance_id,
    event_instance_id,
    next_run_id,
    request_prefix,
    run_instance_id,
    run_number,
)

VALID_ID = re.compile(r"^[^@][^/\\#?\x00-\x1f]{0,99}$")


def test_identical_requests_share_an_id_and_target_order_does_not_matter():
    a = request_prefix({"modelId": "m1", "source": "east", "targets": ["west", "north"]})
    b = request_prefix({"modelId": "m1", "source": "east", "targets": ["north", "west"]})
    assert a == b and a.startswith("copy-m1-") and VALID_ID.match(a)


@pytest.mark.parametrize("other", [
    {"modelId": "m2", "source": "east", "targets": ["west", "north"]},
    {"modelId": "m1", "source": "north", "targets": ["west"]},
    {"modelId": "m1", "source": "east", "targets": ["west"]},
    {"modelId": "m1", "source": "east", "targets": ["west", "north"], "targetModelId": "other"},
])
def test_different_requests_get_different_ids(other):
    base = request_prefix({"modelId": "m1", "source": "east", "targets": ["west", "north"]})
    assert request_prefix(other) != base


def test_runs_of_a_request_sort_and_count_up():
    prefix = request_prefix({"modelId": "m1", "source": "east", "targets": ["west"]})
    first, tenth = run_instance_id(prefix, 1), run_instance_id(prefix, 10)
    assert first == f"{prefix}~000001" and sorted([tenth, first]) == [first, tenth]
    assert VALID_ID.match(tenth) and tenth.startswith(prefix + "~")
    assert next_run_id(prefix, []) == first
    assert next_run_id(prefix, [first, tenth, f"{tenth}:west", "copy-other~000099"]) == run_instance_id(prefix, 11)
    assert (run_number(prefix, prefix), run_number(prefix, tenth)) == (0, 10)
    assert run_number(prefix, f"{first}:west") is None and run_number(prefix, prefix + "~x1") is None


def test_a_run_of_the_longest_model_id_still_has_room_for_a_child_alias():
    prefix = request_prefix({"modelId": "m" * 64, "source": "east", "targets": ["west"]})
    run = run_instance_id(prefix, 999999)
    assert len(run) <= 100 - len(":westeurope-2") and VALID_ID.match(run)
    assert child_instance_id(run, "westeurope-2") == f"{run}:westeurope-2"


def test_event_ids_depend_on_event_id_and_source():
    a = event_instance_id("e-1", "/topics/t", "east", "m1")
    assert a == event_instance_id("e-1", "/topics/t", "east", "m1")
    assert a != event_instance_id("e-2", "/topics/t", "east", "m1")
    assert a != event_instance_id("e-1", "/topics/other", "east", "m1")
    assert a != event_instance_id("e-1", "/topics/t", "west", "m1")
    assert VALID_ID.match(a) and len(a) <= 100


def test_child_ids_are_parent_colon_alias_and_always_valid():
    assert child_instance_id("copy-m1-abc", "westus2") == "copy-m1-abc:westus2"
    long_parent = "p" * 95
    cid = child_instance_id(long_parent, "westeurope")
    assert len(cid) <= 100 and VALID_ID.match(cid)
    assert cid != child_instance_id(long_parent, "westeurope2")
    odd = child_instance_id("copy-x", "a/b#c")
    assert VALID_ID.match(odd) and odd != child_instance_id("copy-x", "a_b_c")


def test_model_ids_with_odd_characters_give_valid_instance_ids():
    iid = request_prefix({"modelId": "a~b.c" + "x" * 80, "source": "s", "targets": ["t"]})
    assert VALID_ID.match(iid) and len(iid) <= 100


@pytest.mark.parametrize("event_type, expected", [
    ("ModelTrained", True), ("Contoso.DocIntel.ModelTrained", True), ("com.contoso.ModelTrained", True),
    ("ModelTrainedX", False), ("Microsoft.Storage.BlobCreated", False), (None, False), ("", False),
])
def test_event_types(event_type, expected):
    assert is_model_trained(event_type) is expected


def test_model_trained_event_is_started_with_its_request_fields_only():
    v = read_event(event_id="e1", event_type="ModelTrained", data={"modelId": "m1", "source": "east", "x": 1})
    assert (v.action, v.request) == ("start", {"modelId": "m1", "source": "east"})
    v = read_event(event_id="e1", event_type="ModelTrained", data='{"modelId": "m1"}')
    assert (v.action, v.request) == ("start", {"modelId": "m1"})
    # the fields are validated by plan_request, like an HTTP request's
    assert read_event(event_id="e1", event_type="ModelTrained", data={"modelId": 5}).request == {"modelId": 5}


def test_other_types_are_ignored():
    assert read_event(event_id="e1", event_type="Other", data={"modelId": "m1"}).action == "ignore"


@pytest.mark.parametrize("data", [None, "not json", b"\xff", [1], "[" * 100_000 + "]" * 100_000])
def test_malformed_data_is_dropped_with_a_reason(data):
    v = read_event(event_id="e1", event_type="ModelTrained", data=data)
    assert v.action == "drop" and v.reason


def test_event_without_id_is_dropped():
    assert read_event(event_id=None, event_type="ModelTrained", data={"modelId": "m1"}).action == "drop"
