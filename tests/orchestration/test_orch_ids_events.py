"""Deterministic instance ids and ModelTrained event parsing."""

import re

import pytest

from ferry.orchestration.events import is_model_trained, read_event
from ferry.orchestration.ids import child_instance_id, event_instance_id, request_instance_id

VALID_ID = re.compile(r"^[^@][^/\\#?\x00-\x1f]{0,99}$")


def test_identical_requests_share_an_id_and_target_order_does_not_matter():
    a = request_instance_id({"modelId": "m1", "source": "east", "targets": ["west", "north"]})
    b = request_instance_id({"modelId": "m1", "source": "east", "targets": ["north", "west"]})
    assert a == b and a.startswith("copy-m1-") and VALID_ID.match(a)


@pytest.mark.parametrize("other", [
    {"modelId": "m2", "source": "east", "targets": ["west", "north"]},
    {"modelId": "m1", "source": "north", "targets": ["west"]},
    {"modelId": "m1", "source": "east", "targets": ["west"]},
    {"modelId": "m1", "source": "east", "targets": ["west", "north"], "targetModelId": "other"},
])
def test_different_requests_get_different_ids(other):
    base = request_instance_id({"modelId": "m1", "source": "east", "targets": ["west", "north"]})
    assert request_instance_id(other) != base


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
    iid = request_instance_id({"modelId": "a~b.c" + "x" * 80, "source": "s", "targets": ["t"]})
    assert VALID_ID.match(iid) and len(iid) <= 100


@pytest.mark.parametrize("event_type, expected", [
    ("ModelTrained", True), ("Contoso.DocIntel.ModelTrained", True), ("com.contoso.ModelTrained", True),
    ("ModelTrainedX", False), ("Microsoft.Storage.BlobCreated", False), (None, False), ("", False),
])
def test_event_types(event_type, expected):
    assert is_model_trained(event_type) is expected


def test_model_trained_event_is_started():
    v = read_event(event_id="e1", event_type="ModelTrained", data={"modelId": "m1", "source": "east"})
    assert (v.action, v.model_id, v.source) == ("start", "m1", "east")
    v = read_event(event_id="e1", event_type="ModelTrained", data='{"modelId": "m1"}')
    assert (v.action, v.model_id, v.source) == ("start", "m1", None)


def test_other_types_are_ignored():
    assert read_event(event_id="e1", event_type="Other", data={"modelId": "m1"}).action == "ignore"


@pytest.mark.parametrize("data", [None, "not json", b"\xff", [1], {"model": "m1"}, {"modelId": ""},
                                  {"modelId": "m1", "source": 3}])
def test_malformed_data_is_dropped_with_a_reason(data):
    v = read_event(event_id="e1", event_type="ModelTrained", data=data)
    assert v.action == "drop" and v.reason


def test_event_without_id_is_dropped():
    assert read_event(event_id=None, event_type="ModelTrained", data={"modelId": "m1"}).action == "drop"
