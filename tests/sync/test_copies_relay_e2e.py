"""Relays of `/api/copies` end to end (HTTP in, request logs and replicas out): when the source's budget is
booked ahead (here: always, FERRY_COPY_RELAY_BACKLOG_SECONDS=0), a copy to two targets of the source's API
version goes from the source to one of them and from there to the other; the replicas are like direct copies,
and a relay that fails is copied from the source."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sync_support import SyncStack, assert_replicas_name_the_source

TARGETS = ["dst", "mirror"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncStack]:
    with SyncStack.running(tmp_path_factory.mktemp("copies-relay"),
                           extra={"FERRY_COPY_RELAY_BACKLOG_SECONDS": "0"}) as s:
        yield s


def test_two_busy_copies_in_three_relay_and_the_first_target_rotates(stack: SyncStack) -> None:
    relayed_to, direct = set(), 0
    for n in range(3):
        model = stack.handle("src").seed_model("v3", f"busy-{n}", api_version="2024-11-30", tags={"team": "ap"})
        start = stack.log_position()
        output = stack.copy(model, TARGETS)
        results = output["targets"]
        assert {alias: r["status"] for alias, r in results.items()} == dict.fromkeys(TARGETS, "succeeded")
        ops = stack.operations_since(start, accepted_only=True)
        assert_replicas_name_the_source(stack, [model], TARGETS)
        relays = [(alias, r["via"]) for alias, r in results.items() if r.get("via")]
        if not relays:  # one busy copy in three goes straight from the source to both targets
            direct += 1
            assert ops["src"].count("copy") == 2 and not any("copy" in ops[t] for t in TARGETS)
            continue
        [(relayed, via)] = relays
        assert {relayed, via} == set(TARGETS) and "via" not in results[via]
        relayed_to.add(relayed)
        # one copy POST on the source (to the first target), one on the first target (the relay)
        assert ops["src"].count("copy") == 1 and ops[via].count("copy") == 1 and "copy" not in ops[relayed]
    assert direct == 1 and relayed_to == set(TARGETS)  # the first target rotates over the relays


def test_a_relay_that_fails_is_copied_from_the_source(stack: SyncStack, caplog: pytest.LogCaptureFixture) -> None:
    """Both targets' regions refuse every copy POST they would send (503): the relay gives way to a copy from
    the source, and the request still succeeds on both targets. (One busy copy in three goes direct: the
    second of two copies in a row relays.)"""
    caplog.set_level(logging.WARNING, logger="modelferry.orchestration")
    for target in TARGETS:
        stack.handle(target).fail_next("copy", count=1000, kind="5xx", status=503)
    try:
        for n in range(2):
            model = stack.handle("src").seed_model("v3", f"fragile-{n}", api_version="2024-11-30",
                                                   tags={"team": "ap"})
            start = stack.log_position()
            output = stack.copy(model, TARGETS)
            tried = [t for t in TARGETS if "copy" in stack.operations_since(start)[t]]
            if tried:
                break
    finally:
        for target in TARGETS:
            stack.handle(target).clear_faults()
    assert len(tried) == 1                                                    # the relay was tried once ...
    assert "copy" not in stack.operations_since(start, accepted_only=True)[tried[0]]  # ... and refused
    results = output["targets"]
    assert all(results[t]["status"] == "succeeded" and "via" not in results[t] for t in TARGETS), results
    assert [t for t in TARGETS if "from-source" in results[t]["instanceId"]] == [t for t in TARGETS
                                                                                 if t not in tried]
    assert stack.operations_since(start, accepted_only=True)["src"].count("copy") == 2
    assert any(f"from {tried[0]} failed" in r.getMessage() and "copying it from the source" in r.getMessage()
               for r in caplog.records)
    assert_replicas_name_the_source(stack, [model], TARGETS)
