"""Sync request validation, provenance tags and the v2 mapping entity, without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.orchestration.plan import RequestError, ResourceView
from ferry.orchestration.sync_request import parse_sync_request, sync_instance_prefix
from ferry.provenance import SOURCE_CREATED, SOURCE_MODEL_ID, SOURCE_RESOURCE, provenance_tags, read_provenance
from SyncOrchestrator.entity import v2_replicas

RESOURCES = {name: ResourceView(api_version=v) for name, v in
             (("east", "2024-11-30"), ("west", "2024-11-30"), ("eu", "2023-07-31"), ("old", "v2.1"))}


def parse(body: Any, source: str | None = "east", targets: tuple[str, ...] = ("west", "eu")):
    return parse_sync_request(body, RESOURCES, default_source=source, default_targets=targets)


def test_defaults_and_normal_form() -> None:
    got = parse({})
    assert got.to_input() == {"source": "east", "targets": ["eu", "west"], "include": [], "exclude": [],
                              "dryRun": False, "prune": False, "onStale": "replace"}
    same = parse({"targets": ["west", "eu"], "include": ["b*", "a*", "a*"]})
    assert same.targets == ("eu", "west") and same.include == ("a*", "b*")
    assert parse({"source": "west"}).targets == ("eu",)  # the default targets minus the source


@pytest.mark.parametrize(("body", "source", "code"), [
    ({"bogus": 1}, "east", "InvalidRequest"),
    ("not an object", "east", "InvalidRequest"),
    ({}, None, "MissingSource"),
    ({"source": "nowhere"}, "east", "UnknownAlias"),
    ({"targets": ["west", "mars"]}, "east", "UnknownAlias"),
    ({"targets": []}, "east", "NoTargets"),
    ({"targets": ["west", "west"]}, "east", "DuplicateTargets"),
    ({"targets": ["east"]}, "east", "SourceAmongTargets"),
    ({"include": "inv/*"}, "east", "InvalidPattern"),
    ({"include": ["a[b"]}, "east", "InvalidPattern"),
    ({"exclude": [""]}, "east", "InvalidPattern"),
    ({"exclude": [7]}, "east", "InvalidPattern"),
    ({"include": {"a": 1}}, "east", "InvalidRequest"),
    ({"dryRun": "true"}, "east", "InvalidRequest"),
    ({"prune": 1}, "east", "InvalidRequest"),
    ({"onStale": "overwrite"}, "east", "InvalidRequest"),
])
def test_bad_requests_say_what_is_wrong(body: Any, source: str | None, code: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse(body, source=source)
    assert caught.value.code == code and caught.value.message and caught.value.hint
    assert caught.value.to_dict()["code"] == code  # the one error shape (FerryError)


def test_a_target_of_the_other_generation_is_accepted_and_planned_as_skipped() -> None:
    assert parse({"targets": ["old"]}).targets == ("old",)


def test_selection_and_instance_prefix() -> None:
    request = parse({"include": ["inv-*", "rec-[0-9]"], "exclude": ["*-test"]})
    assert [m for m in ("inv-1", "inv-test", "rec-1", "rec-x", "x") if request.selects(m)] == ["inv-1", "rec-1"]
    assert sync_instance_prefix("east") == "sync-east"


def test_provenance_tags_merge_over_the_source_tags_and_read_back() -> None:
    tags = provenance_tags(source_resource="/subscriptions/s/.../accounts/src", source_model_id="m",
                           source_created="2026-11-01T10:00:00.1234567Z",
                           own_tags={"team": "ap", SOURCE_MODEL_ID: "older-chain"})
    assert tags == {"team": "ap", SOURCE_RESOURCE: "/subscriptions/s/.../accounts/src", SOURCE_MODEL_ID: "m",
                    SOURCE_CREATED: "2026-11-01T10:00:00.1234567Z"}
    read = read_provenance(tags)
    assert read is not None and read.is_from("/SUBSCRIPTIONS/s/.../ACCOUNTS/SRC")
    assert read.same_version("2026-11-01T10:00:00Z") and not read.same_version("2026-11-02T10:00:00Z")
    assert read_provenance({"team": "ap"}) is None and read_provenance(None) is None
    assert read_provenance({SOURCE_RESOURCE: "r"}) is None  # both source fields are needed


class FakeEntity:
    def __init__(self, state: Any, operation: str, value: Any = None) -> None:
        self.state, self.operation_name, self.value, self.result = state, operation, value, None

    def get_state(self, initial: Any) -> Any:
        return self.state if self.state is not None else initial()

    def set_state(self, state: Any) -> None:
        self.state = state

    def get_input(self) -> Any:
        return self.value

    def set_result(self, result: Any) -> None:
        self.result = result


def test_the_v2_mapping_entity_records_forgets_and_answers() -> None:
    ctx = FakeEntity(None, "reconcile", {"record": {"dst": {"s1": "t1", "s2": "t2"}}, "forget": {}})
    v2_replicas(ctx)
    ctx = FakeEntity(ctx.state, "reconcile", {"record": {"dst": {"s3": "t3"}}, "forget": {"dst": ["s1", "nope"]}})
    v2_replicas(ctx)
    got = FakeEntity(ctx.state, "get")
    v2_replicas(got)
    assert got.result == {"dst": {"s2": "t2", "s3": "t3"}}
    with pytest.raises(ValueError, match="unknown operation"):
        v2_replicas(FakeEntity(None, "explode"))
