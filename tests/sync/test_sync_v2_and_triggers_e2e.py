"""The sync's v2 pair (durable mapping), its HTTP contract (400 / 409 / join) and its timer trigger."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import requests
from sync_support import MANAGEMENT, SyncStack

from SyncOrchestrator.entity import NAME as V2_ENTITY


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncStack]:
    with SyncStack.running(tmp_path_factory.mktemp("sync-v2"), schedule="0 0 */6 * * *") as s:
        yield s


def test_v2_pair_mapping_is_kept_durably_adopted_and_pruned(stack: SyncStack) -> None:
    earlier = stack.train("v2src")
    copied = stack.copy(earlier, ["v2dst"], source="v2src")["targets"]["v2dst"]["targetModelId"]
    fresh = stack.train("v2src")
    gone = stack.train("v2src")
    body = {"source": "v2src", "targets": ["v2dst"]}

    plan = stack.run_sync({**body, "dryRun": True})["output"]
    assert plan["v2Replicas"] == {"v2dst": {earlier: copied}}              # adopted: same times and name
    assert stack.host.read_entity(V2_ENTITY, "v2src") in (None, {})         # a dry run records nothing

    out = stack.run_sync(body)["output"]
    items = {i["id"]: i for i in out["items"]}
    assert items[fresh]["result"] == "copied" and items[gone]["result"] == "copied"
    assert out["counts"]["v2dst"]["upToDate"] == 1 and out["counts"]["v2dst"]["copied"] == 2
    mapping = out["v2Replicas"]["v2dst"]
    assert mapping[earlier] == copied and set(mapping) == {earlier, fresh, gone}
    on_target = stack.models("v2dst")
    assert all(mapping[m] in on_target for m in mapping) and len(on_target) == 3
    stack.host.wait_until(lambda: stack.host.read_entity(V2_ENTITY, "v2src") == {"v2dst": mapping},
                          timeout=30, what="the mapping recorded in the entity")   # signals are one-way

    start = stack.log_position()
    again = stack.run_sync(body)["output"]
    ops = stack.operations_since(start)
    assert not [op for name in ops for op in ops[name] if op in MANAGEMENT], ops
    assert again["counts"]["v2dst"]["upToDate"] == 3 and again["items"] == []

    stack.delete("v2src", gone)
    kept = stack.run_sync(body)["output"]
    assert kept["counts"]["v2dst"]["pruned"] == 0 and mapping[gone] in stack.models("v2dst")
    assert any(w["code"] == "OrphanedReplicas" and w["ids"] == [gone] for w in kept["warnings"])
    pruned = stack.run_sync({**body, "prune": True})["output"]
    assert {i["id"]: i["result"] for i in pruned["items"]} == {gone: "pruned"}
    assert mapping[gone] not in stack.models("v2dst") and len(stack.models("v2dst")) == 2
    stack.host.wait_until(lambda: gone not in stack.host.read_entity(V2_ENTITY, "v2src")["v2dst"], timeout=30,
                          what="the pruned pair forgotten")


@pytest.mark.parametrize(("body", "code"), [
    ({"bogus": 1}, "InvalidRequest"),
    ({"include": ["invoices/*"]}, "InvalidPattern"),
    ({"include": ["inv[oices"]}, "InvalidPattern"),
    ({"targets": ["nowhere"]}, "UnknownAlias"),
    ({"source": "nowhere"}, "UnknownAlias"),
    ({"targets": ["dst", "dst"]}, "DuplicateTargets"),
    ({"targets": ["src"]}, "SourceAmongTargets"),
    ({"onStale": "overwrite"}, "InvalidRequest"),
    ({"dryRun": "yes"}, "InvalidRequest"),
    ([], "InvalidRequest"),
])
def test_bad_requests_are_400_with_the_error_shape_and_start_nothing(stack: SyncStack, body, code) -> None:
    before = len(stack.host.engine.query(prefix="sync-", top=1000)[0])
    resp = stack.sync(body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["message"] and error["hint"] and error["status"] == 400
    assert len(stack.host.engine.query(prefix="sync-", top=1000)[0]) == before


def test_invalid_json_is_400(stack: SyncStack) -> None:
    resp = requests.post(f"{stack.host.url}/api/sync", data=b"{nope", timeout=10,
                         headers={"x-functions-key": stack.keys.function_key("start_sync")})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidJson"


def test_one_sync_per_source_identical_joins_different_gets_409(stack: SyncStack) -> None:
    for i in range(2):
        stack.train("src", f"join-{i}")
    first = stack.sync({"targets": ["dst"]})
    assert first.status_code == 202
    joined = stack.sync({"targets": ["dst"]})
    assert joined.status_code == 202 and joined.json()["id"] == first.json()["id"]
    other = stack.sync({"targets": ["dst"], "dryRun": True})
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "SyncRunning"
    assert first.json()["id"] in other.json()["statusQueryGetUri"]
    assert first.json()["id"].startswith("sync-src~")
    done = stack.host.wait_for(first.json()["id"], timeout=120)
    assert done["runtimeStatus"] == "Completed"
    after = stack.sync({"targets": ["dst"], "dryRun": True})      # the source is free again: a new run
    assert after.status_code == 202 and after.json()["id"] != first.json()["id"]
    stack.host.wait_for(after.json()["id"], timeout=60)


def test_timer_fires_on_the_virtual_clock_and_skips_while_a_sync_runs(stack: SyncStack,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="modelferry.triggers")
    def syncs() -> list[dict]:
        return [s for s in stack.host.engine.query(prefix="sync-src~", top=1000)[0]]

    def next_mark() -> float:
        return (int(stack.clock.time()) // 21600 + 1) * 21600

    # free: the scheduled run starts the default sync (FERRY_SOURCE → FERRY_TARGETS)
    before = {s["instanceId"] for s in syncs()}
    stack.clock.advance(next_mark() - stack.clock.time() + 0.5)
    stack.host.server.timers.tick()
    started = stack.host.wait_until(lambda: [s for s in syncs() if s["instanceId"] not in before] or None,
                                    timeout=30, what="a scheduled sync")
    scheduled = started[0]["input"]
    scheduled = json.loads(scheduled) if isinstance(scheduled, str) else scheduled
    assert len(started) == 1 and scheduled["targets"] == ["dst", "small"] and scheduled["prune"] is False
    stack.host.wait_for(started[0]["instanceId"], timeout=120)

    # busy: a sync of the source is suspended (it stays "running"); the scheduled run starts nothing
    stack.train("src", "timer-busy")
    busy = stack.sync({"targets": ["dst"]}).json()["id"]
    stack.host.suspend(busy, "hold it running")
    before = {s["instanceId"] for s in syncs()}
    stack.clock.advance(next_mark() - stack.clock.time() + 0.5)
    stack.host.server.timers.tick()
    stack.host.run_until_idle(skip_timers=False)
    stack.host.wait_until(lambda: "this scheduled run starts nothing" in caplog.text, timeout=30,
                          what="the scheduled run to notice the running sync")
    assert f"a sync of src is running ({busy})" in caplog.text
    assert {s["instanceId"] for s in syncs()} == before
    stack.host.resume(busy, "release")
    assert stack.host.wait_for(busy, timeout=120)["runtimeStatus"] == "Completed"
