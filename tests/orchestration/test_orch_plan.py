"""Request validation: every 400/413 case of POST /api/copies, decided by `read_body` and `plan_request`."""

import time

import pytest

from ferry.orchestration.plan import (
    MAX_JSON_DEPTH,
    MAX_REQUEST_BYTES,
    CopyPlan,
    RequestError,
    ResourceView,
    plan_request,
    read_body,
)

V3 = {"east": ResourceView("2024-11-30"), "west": ResourceView("2024-11-30"),
      "north": ResourceView("2024-11-30")}
GUID = "2a766146-bb85-4907-b438-23e6a35cb114"


def plan(body, resources=V3, source="east", targets=("west", "north")):
    return plan_request(body, resources, default_source=source, default_targets=targets)


def code_of(body, **kw):
    with pytest.raises(RequestError) as info:
        plan(body, **kw)
    return info.value.code


def test_defaults_fill_source_and_targets():
    p = plan({"modelId": "invoices"})
    assert p == CopyPlan("invoices", "east", ("west", "north"), None)
    assert p.to_input() == {"modelId": "invoices", "source": "east", "targets": ["west", "north"]}


def test_explicit_request_and_target_model_id():
    p = plan({"modelId": "m1", "source": "west", "targets": ["north"], "targetModelId": "m1-copy"})
    assert (p.source, p.targets, p.target_model_id) == ("west", ("north",), "m1-copy")
    assert p.to_input()["targetModelId"] == "m1-copy"


def test_source_given_drops_itself_from_default_targets():
    # failover from a surviving region: the default target list may contain the new source
    assert plan({"modelId": "m1", "source": "west"}).targets == ("north",)


@pytest.mark.parametrize("body, code", [
    ([], "InvalidRequest"),
    ("text", "InvalidRequest"),
    ({}, "MissingModelId"),
    ({"modelId": ""}, "MissingModelId"),
    ({"modelId": "  "}, "MissingModelId"),
    ({"modelId": 5}, "InvalidRequest"),
    ({"modelId": None}, "InvalidRequest"),
    ({"modelId": ["m1"]}, "InvalidRequest"),
    ({"modelId": {"id": "m1"}}, "InvalidRequest"),
    ({"modelId": True}, "InvalidRequest"),
    ({"modelId": "m1", "targetModelId": 5}, "InvalidRequest"),
    ({"modelId": "m1", "targets": [None]}, "InvalidRequest"),
    ({"modelId": "m1", "source": "nowhere"}, "UnknownAlias"),
    ({"modelId": "m1", "targets": ["west", "moon"]}, "UnknownAlias"),
    ({"modelId": "m1", "targets": ["east", "west"]}, "SourceAmongTargets"),
    ({"modelId": "m1", "targets": []}, "NoTargets"),
    ({"modelId": "m1", "targets": ["west", "west"]}, "DuplicateTargets"),
    ({"modelId": "m1", "targets": 3}, "InvalidRequest"),
    ({"modelId": "m1", "targets": [""]}, "InvalidRequest"),
    ({"modelId": "bad id!"}, "InvalidModelId"),
    ({"modelId": "x"}, "InvalidModelId"),
    ({"modelId": "m" * 65}, "InvalidModelId"),
    ({"modelId": "m1", "targetModelId": "-bad"}, "InvalidTargetModelId"),
    ({"modelId": "m1", "endpoint": "https://evil.example"}, "InvalidRequest"),
    ({"modelId": "m1", "source": 7}, "InvalidRequest"),
])
def test_invalid_requests(body, code):
    assert code_of(body) == code


def test_unknown_alias_message_lists_known_aliases():
    with pytest.raises(RequestError) as info:
        plan({"modelId": "m1", "targets": ["moon"]})
    assert "moon" in info.value.message and "east, north, west" in info.value.message


def test_no_source_anywhere():
    assert code_of({"modelId": "m1"}, source=None) == "MissingSource"


def test_no_default_targets():
    assert code_of({"modelId": "m1"}, targets=()) == "NoTargets"


def test_v2_ids_are_guids_and_target_id_is_service_assigned():
    v2 = {"a": ResourceView("v2.1"), "b": ResourceView("v2.0")}
    assert plan({"modelId": GUID}, resources=v2, source="a", targets=("b",)).targets == ("b",)
    assert code_of({"modelId": "invoices"}, resources=v2, source="a", targets=("b",)) == "InvalidModelId"
    assert code_of({"modelId": GUID, "targetModelId": GUID}, resources=v2, source="a",
                   targets=("b",)) == "InvalidTargetModelId"


def test_v2_and_v3_cannot_be_mixed():
    mixed = {"a": ResourceView("v2.1"), "b": ResourceView("2023-07-31")}
    assert code_of({"modelId": GUID}, resources=mixed, source="a", targets=("b",)) == "IncompatibleApiVersions"


@pytest.mark.parametrize("version, model_id, ok", [
    ("v2.0", GUID, True), ("v2.1", GUID.upper(), True), ("v2.1", "abc", False),
    ("v2.1", GUID.replace("-", ""), False),
    ("2022-08-31", "my-model.v1_2~x", True), ("2023-07-31", "a", False), ("2024-11-30", "_abc", False),
    ("2024-11-30", "a" * 64, True), ("2024-11-30", "a" * 65, False),
])
def test_model_id_rules(version, model_id, ok):
    resources = {"s": ResourceView(version), "t": ResourceView(version)}
    if ok:
        assert plan({"modelId": model_id}, resources=resources, source="s", targets=("t",)).model_id == model_id
    else:
        assert code_of({"modelId": model_id}, resources=resources, source="s", targets=("t",)) == "InvalidModelId"


def test_a_request_error_is_a_ferry_error_saying_what_was_wrong_and_what_to_do():
    with pytest.raises(RequestError) as info:
        plan({"modelId": 42})
    error = info.value.to_dict()
    assert (error["kind"], error["code"], error["status"], error["retryable"]) == \
        ("invalid_request", "InvalidRequest", 400, False)
    assert "'modelId' must be a string" in error["message"] and "a number" in error["message"]
    assert error["hint"] and "modelId" in error["hint"]


def test_long_caller_values_are_not_echoed_in_full():
    with pytest.raises(RequestError) as info:
        plan({"modelId": "m1", "targets": ["x" * 5000]})
    assert info.value.code == "UnknownAlias" and len(info.value.message) < 300


@pytest.mark.parametrize("raw, code, status", [
    (b"", "InvalidJson", 400),
    (b"   ", "InvalidJson", 400),
    (b"{not json", "InvalidJson", 400),
    (b"\xff\xfe{}", "InvalidJson", 400),
    (b"[" * 100_000 + b"]" * 100_000, "InvalidJson", 400),
    (b"{" * 50_000, "InvalidJson", 400),
    (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), "InvalidJson", 400),
    (b"1" + b"0" * 10_000, "InvalidJson", 400),
    (b'{"modelId": "' + b"m" * MAX_REQUEST_BYTES + b'"}', "RequestTooLarge", 413),
])
def test_unreadable_bodies(raw, code, status):
    with pytest.raises(RequestError) as info:
        read_body(raw)
    assert (info.value.code, info.value.status) == (code, status) and info.value.message


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = read_body(b'{"modelId": "' + b"[{" * 100 + b'", "targets": ["a\\\\", "b\\"]"]}')
    assert body["targets"] == ["a\\", 'b"]']
    assert read_body('\ufeff{"modelId": "m1"}'.encode()) == {"modelId": "m1"}




@pytest.mark.parametrize("pattern", [b'"\\', b'a"', b"[]", b'"[', b"\\"])
def test_hostile_bodies_at_the_limit_are_refused_in_linear_time(pattern):
    # a quadratic scan of `"\"\"\"…` (every quote a string start that never closes) takes minutes at this size
    raw = (pattern * (MAX_REQUEST_BYTES // len(pattern)))[:MAX_REQUEST_BYTES]
    started = time.perf_counter()
    with pytest.raises(RequestError) as info:
        read_body(raw)
    assert info.value.code == "InvalidJson" and time.perf_counter() - started < 3.0


# ------------------------------------------------------------------------------------------------- classifiers

CLS = {"east": ResourceView("2024-11-30", "eastus"), "west": ResourceView("2024-11-30", "westus2"),
       "far": ResourceView("2024-11-30", "northeurope"), "old": ResourceView("2023-07-31", "westeurope")}


def test_a_classifier_request_plans_a_classifier_copy_under_its_own_id():
    plan = plan_request({"classifierId": "cls-1", "source": "east", "targets": ["west"]}, CLS,
                        default_source=None)
    assert plan.kind == "classifier" and plan.model_id == "cls-1" and plan.target_model_id is None
    assert plan.to_input() == {"classifierId": "cls-1", "source": "east", "targets": ["west"]}


@pytest.mark.parametrize("body, code, words", [
    ({"classifierId": "cls-1", "modelId": "m-1", "source": "east", "targets": ["west"]}, "AmbiguousArtifact",
     ["both"]),
    ({"classifierId": "cls-1", "source": "east", "targets": ["far"]}, "ClassifierCopyNotSupported",
     ["target 'far'", "northeurope", "eastus, westus2, westeurope"]),
    ({"classifierId": "cls-1", "source": "far", "targets": ["east"]}, "ClassifierCopyNotSupported",
     ["source 'far'"]),
    ({"classifierId": "cls-1", "source": "east", "targets": ["old"]}, "ClassifierCopyNotSupported",
     ["apiVersion 2024-11-30", "2023-07-31"]),
    ({"classifierId": "cls-1", "source": "east", "targets": ["west"], "targetModelId": "x-1"},
     "InvalidTargetModelId", ["own id"]),
    ({"classifierId": "", "source": "east", "targets": ["west"]}, "MissingModelId", ["classifierId"]),
])
def test_classifier_requests_that_cannot_run(body, code, words):
    with pytest.raises(RequestError) as caught:
        plan_request(body, CLS, default_source=None)
    assert caught.value.code == code
    text = caught.value.message + " " + caught.value.hint
    for word in words:
        assert word in text, (word, text)


def test_caller_values_in_messages_are_one_escaped_line():
    with pytest.raises(RequestError) as info:
        plan({"modelId": "m1", "targets": ["x\nmodelferry.triggers INFO forged", "caf\u00e9"]})
    assert "\n" not in info.value.message and "x\\nmodelferry" in info.value.message
    assert "caf\\xe9" in info.value.message
