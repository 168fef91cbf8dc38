"""Relayed copies end to end (HTTP in, request logs and replicas out): a sync to two targets of the source's API
version sends part of its copies from the target that received the model first, the replicas cannot be told
from direct copies, and whatever a relay cannot do is copied from the source."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sync_support import MANAGEMENT, SyncStack, assert_replicas_name_the_source

TARGETS = ["dst", "mirror"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncStack]:
    with SyncStack.running(tmp_path_factory.mktemp("sync-relay")) as s:
        yield s


def seed(stack: SyncStack, prefix: str, count: int) -> list[str]:
    src = stack.handle("src")
    return sorted(src.seed_model("v3", f"{prefix}-{i}", api_version="2024-11-30", tags={"team": "ap"})
                  for i in range(count))


def test_a_sync_relays_part_of_its_copies_and_the_replicas_are_like_direct_ones(stack: SyncStack) -> None:
    models = seed(stack, "relay", 6)
    body = {"targets": TARGETS, "include": ["relay-*"]}
    start = stack.log_position()
    output = stack.run_sync(body)["output"]
    assert output["status"] == "succeeded", output
    for target in TARGETS:
        assert output["counts"][target]["copied"] == 6 and output["counts"][target]["failed"] == 0
    relayed = [item for item in output["items"] if item.get("via")]
    assert relayed and all(item["via"] in TARGETS and item["via"] != item["target"] for item in relayed)
    ops = stack.operations_since(start, accepted_only=True)
    # one copy POST per replica: on the relaying target for a relayed one, on the source for the others
    assert ops["src"].count("copy") == 12 - len(relayed) < 12
    assert ops["dst"].count("copy") + ops["mirror"].count("copy") == len(relayed)
    assert_replicas_name_the_source(stack, models, TARGETS)

    # the next sync recognises relayed replicas like direct ones: all up to date, no management call anywhere
    start = stack.log_position()
    again = stack.run_sync(body)["output"]
    assert again["status"] == "succeeded" and again["items"] == []
    assert all(again["counts"][target]["upToDate"] == 6 for target in TARGETS)
    assert not [op for ops in stack.operations_since(start).values() for op in ops if op in MANAGEMENT]


def test_a_relay_that_fails_is_copied_from_the_source(stack: SyncStack, caplog: pytest.LogCaptureFixture) -> None:
    """`dst`'s region refuses every copy POST (503): what it would relay reaches `mirror` from the source."""
    caplog.set_level(logging.WARNING, logger="modelferry.orchestration")
    models = seed(stack, "fallback", 4)
    stack.handle("dst").fail_next("copy", count=1000, kind="5xx", status=503)
    start = stack.log_position()
    try:
        output = stack.run_sync({"targets": TARGETS, "include": ["fallback-*"]}, timeout=300)["output"]
    finally:
        stack.handle("dst").clear_faults()
    assert output["status"] == "succeeded", output
    for target in TARGETS:
        assert output["counts"][target]["copied"] == 4 and output["counts"][target]["failed"] == 0
    assert not [item for item in output["items"] if item.get("via") == "dst"]
    ops = stack.operations_since(start)
    assert "copy" in ops["dst"]                              # the relay from dst was tried ...
    assert "copy" not in stack.operations_since(start, accepted_only=True)["dst"]  # ... and always refused
    assert any("from dst to mirror failed" in r.getMessage() and "copying it from the source" in r.getMessage()
               for r in caplog.records)
    assert_replicas_name_the_source(stack, models, TARGETS)


def test_a_composed_model_is_not_relayed_but_copied_from_the_source(stack: SyncStack,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A 2024-11-30 composed model needs its classifier and components on the target first: its copy workflow
    does that from the source only, so a relay of it gives way to a direct copy."""
    src = stack.handle("src")
    src.seed_classifier("pack-cls", doc_types=["a", "b"])
    for part in ("pack-a", "pack-b"):
        src.seed_model("v3", part, api_version="2024-11-30")
    src.seed_composed("pack-all", components={"a": "pack-a", "b": "pack-b"}, api_version="2024-11-30",
                      classifier_id="pack-cls")
    caplog.set_level(logging.WARNING, logger="modelferry.orchestration")
    start = stack.log_position()
    output = stack.run_sync({"targets": TARGETS, "include": ["pack-*"]}, timeout=300)["output"]
    assert output["status"] == "succeeded", output
    composed = [item for item in output["items"] if item["id"] == "pack-all"]
    assert [item["result"] for item in composed] == ["copied", "copied"]
    assert not any(item.get("via") for item in composed)
    for target in TARGETS:
        assert {"pack-a", "pack-b", "pack-all"} <= set(stack.models(target))
    # its relay was planned, and refused before any call: the copy workflow met the model's dependencies
    assert any("relayed copy of pack-all" in r.getMessage() and "RelayNotPossible" in r.getMessage()
               for r in caplog.records)
    relayed_parts = [item for item in output["items"] if item.get("via")]
    ops = stack.operations_since(start, accepted_only=True)
    assert ops["dst"].count("copy") + ops["mirror"].count("copy") == len(relayed_parts)
