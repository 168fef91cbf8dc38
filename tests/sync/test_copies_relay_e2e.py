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


@pytest.fixture(scope="module")
def burst_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncStack]:
    with SyncStack.running(tmp_path_factory.mktemp("copies-burst")) as s:  # FERRY_COPY_RELAY_BACKLOG_SECONDS: 2
        yield s


def test_a_burst_relays_while_the_source_is_busy_and_its_last_relays_go_from_the_source(
        burst_stack: SyncStack, caplog: pytest.LogCaptureFixture) -> None:
    """Twelve copies to two targets arrive at one instant (the virtual clock moves only once they are all
    in): the first go straight from the source, then two in three relay. When a relay's first copy is due to
    leave the source, the copies decided after it have booked the source less than 2 s ahead for the last of
    them: those send their second copy from the source too, side by side, instead of a whole copy later."""
    stack = burst_stack
    caplog.set_level(logging.INFO, logger="modelferry.orchestration")
    models = [stack.handle("src").seed_model("v3", f"burst-{n:02d}", api_version="2024-11-30", tags={"team": "ap"})
              for n in range(12)]
    start = stack.log_position()
    ids = []
    for model in models:  # no wait yet: the clock stands still while they are posted
        resp = stack.post("copies", {"modelId": model, "source": "src", "targets": TARGETS}, "start_copy")
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["id"])
    outputs = [stack.host.wait_for(iid, timeout=120) for iid in ids]
    assert all(o["runtimeStatus"] == "Completed" and o["output"]["status"] == "succeeded" for o in outputs), outputs
    assert_replicas_name_the_source(stack, models, TARGETS)

    ops = stack.operations_since(start, accepted_only=True)
    from_source, relayed = ops["src"].count("copy"), sum(ops[t].count("copy") for t in TARGETS)
    assert from_source + relayed == 2 * len(models)
    via = [r for o in outputs for r in o["output"]["targets"].values() if r.get("via")]
    assert relayed == len(via) >= 1  # the busy source relayed ...
    messages = [r.getMessage() for r in caplog.records]
    decided = sum("copying to" in m and "first, then from there" in m for m in messages)
    taken_back = [m for m in messages if "is booked only" in m and "from the source" in m]
    assert taken_back, messages  # ... and took the last relays back when their turn came
    assert relayed == decided - len(taken_back)  # every other relay sent its second copy from its first target
