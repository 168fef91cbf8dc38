"""Pure parts of the operator's view: catalog states from inventories, replica choice, runs rows and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ferry import catalog, runs
from ferry.catalog import Attempt, Inventory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SRC_ID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/src"


def inv(alias: str, models: list[dict] | None, *, generation: str = "v3", region: str = "westus2") -> Inventory:
    return Inventory(alias=alias, region=region, endpoint=f"https://{alias}.example", api_version="2024-11-30",
                     generation=generation, resource_id=SRC_ID if alias == "src" else f"/x/{alias}",
                     read_at="2026-06-01T12:00:00Z", models=None if models is None else tuple(models),
                     error=None if models is not None else {"code": "ServiceUnavailable", "kind": "transient"})


def model(model_id: str, created: str, tags: dict | None = None, expires: str = "2028-01-01T00:00:00Z") -> dict:
    return {"modelId": model_id, "createdDateTime": created, "expirationDateTime": expires, "tags": tags}


def prov(model_id: str, created: str) -> dict:
    return {"modelferry.sourceResource": SRC_ID, "modelferry.sourceModelId": model_id,
            "modelferry.sourceCreated": created}


T1, T2 = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"


def state(cat: dict, artifact: str, target: str) -> str:
    return next(r for r in cat["replicas"] if r["id"] == artifact)["targets"][target]["state"]


def test_states_from_inventories() -> None:
    source = inv("src", [model("a", T2), model("b", T2), model("c", T1), model("prebuilt-layout", T1)])
    west = inv("west", [model("a", T2, prov("a", T2)), model("b-copy", T1, prov("b", T1)),
                        model("c", T2, {"owner": "someone"})])
    cat = catalog.build_catalog(source=source, targets=[west], now=NOW)
    assert [r["id"] for r in cat["replicas"]] == ["a", "b", "c"]  # prebuilt models are not artifacts
    assert state(cat, "a", "west") == "current"
    assert state(cat, "b", "west") == "stale"
    assert next(r for r in cat["replicas"] if r["id"] == "b")["targets"]["west"]["modelId"] == "b-copy"
    assert state(cat, "c", "west") == "conflict"
    failed = catalog.build_catalog(source=source, targets=[inv("west", [])], now=NOW,
                                   attempts={("a", "west"): Attempt(ok=False, at=T2, error={"code": "2024",
                                                                                           "hint": "h"})})
    assert state(failed, "a", "west") == "failed" and state(failed, "b", "west") == "missing"


def test_a_copy_without_provenance_is_current_when_it_keeps_the_source_creation_time() -> None:
    cat = catalog.build_catalog(source=inv("src", [model("a", T2)]), targets=[inv("west", [model("a", T2)])],
                                now=NOW)
    assert state(cat, "a", "west") == "current"


def test_source_unreachable_uses_the_newest_version_on_the_targets_and_the_last_catalog() -> None:
    up = catalog.build_catalog(source=inv("src", [model("a", T2), model("legacy", T1)]),
                               targets=[inv("west", [model("a", T1, prov("a", T1)), model("legacy", T1)]),
                                        inv("east", [model("a", T2, prov("a", T2))], region="eastus2")], now=NOW)
    down = catalog.build_catalog(source=inv("src", None),
                                 targets=[inv("west", [model("a", T1, prov("a", T1)), model("legacy", T1)]),
                                          inv("east", [model("a", T2, prov("a", T2))], region="eastus2")],
                                 now=NOW, previous=up)
    assert down["source"]["reachable"] is False and down["source"]["error"]["code"] == "ServiceUnavailable"
    assert state(down, "a", "east") == "current" and state(down, "a", "west") == "stale"
    assert state(down, "legacy", "west") == "current"  # no provenance: as last verified


def test_unreachable_target_keeps_its_last_cells() -> None:
    source = inv("src", [model("a", T2)])
    up = catalog.build_catalog(source=source, targets=[inv("west", [model("a", T2, prov("a", T2))])], now=NOW)
    down = catalog.build_catalog(source=source, targets=[inv("west", None)], now=NOW, previous=up)
    assert state(down, "a", "west") == "current" and down["targets"]["west"]["reachable"] is False
    fresh = catalog.build_catalog(source=source, targets=[inv("west", None)], now=NOW)
    assert state(fresh, "a", "west") == "missing"


def test_v2_cells_come_from_the_mapping() -> None:
    v2 = {"modelInfo": {"modelId": "t-1", "createdDateTime": T1}}
    cat = catalog.build_catalog(source=inv("src", [{"modelInfo": {"modelId": "s-1", "createdDateTime": T1}},
                                                   {"modelInfo": {"modelId": "s-2", "createdDateTime": T1}}]),
                                targets=[inv("v2", [v2], generation="v2")], now=NOW,
                                v2_mapping={"v2": {"s-1": "t-1", "s-2": "t-gone"}})
    assert state(cat, "s-1", "v2") == "current" and state(cat, "s-2", "v2") == "missing"


def test_pick_replica_and_its_reasons() -> None:
    soon = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cat = catalog.build_catalog(
        source=inv("src", [model("a", T2), model("old", T2)]),
        targets=[inv("west", [model("a", T2, prov("a", T2)), model("old", T1, prov("old", T1))]),
                 inv("east", [model("a", T2, prov("a", T2), expires=soon)], region="eastus2")], now=NOW)
    assert catalog.pick_replica(cat, "a", "westus2", NOW)["target"] == "west"
    assert catalog.pick_replica(cat, "a", None, NOW)["target"] == "west"
    for artifact, where, code in (("a", "eastus2", "ReplicaExpired"), ("old", "west", "ReplicaStale"),
                                  ("old", "east", "ReplicaNotFound"), ("zzz", None, "ReplicaNotFound"),
                                  ("a", "mars", "UnknownRegion")):
        with pytest.raises(catalog.NoReplica) as caught:
            catalog.pick_replica(cat, artifact, where, NOW)
        assert caught.value.code == code
    assert catalog.expiring(cat, NOW)[0]["target"] == "east" and catalog.expiring(cat, NOW)[0]["expired"]
    assert catalog.failover_export(cat) == {"a": {"westus2": {"endpoint": "https://west.example", "modelId": "a"},
                                                  "eastus2": {"endpoint": "https://east.example", "modelId": "a"}}}
    assert catalog.counts(cat)["west"]["stale"] == 1
    answered = catalog.with_age(cat, NOW + timedelta(seconds=42), cached=True)
    assert answered["ageSeconds"] == 42 and answered["refreshed"] is False
    assert [(e["id"], e["target"]) for e in answered["expiring"]] == [("a", "east")]


def test_runs_rows_filters_and_attempts() -> None:
    copy_failed = {"name": "copy_model", "instanceId": "copy-a~2", "runtimeStatus": "Completed",
                   "createdTime": "2026-06-01T10:00:00Z", "lastUpdatedTime": "2026-06-01T10:01:00Z",
                   "output": {"modelId": "a", "source": "src", "status": "partial", "targets": {
                       "west": {"status": "failed", "error": {"code": "2024", "message": "m", "hint": "h"}},
                       "east": {"status": "succeeded", "targetModelId": "a"}}}}
    copy_ok = dict(copy_failed, instanceId="copy-a~1", createdTime="2026-06-01T09:00:00Z",
                   lastUpdatedTime="2026-06-01T09:01:00Z",
                   output={"modelId": "a", "source": "src", "status": "succeeded",
                           "targets": {"west": {"status": "succeeded", "targetModelId": "a"}}})
    running = {"name": "sync_estate", "instanceId": "sync-src~1", "runtimeStatus": "Running",
               "createdTime": "2026-06-01T11:00:00Z", "lastUpdatedTime": "2026-06-01T11:00:05Z",
               "customStatus": {"stage": "copying", "source": "src",
                                "progress": {"west": {"done": 1, "total": 3, "throttled": 0}}}}
    child = {"name": "copy_model_to_target", "instanceId": "copy-a~2:west", "runtimeStatus": "Completed"}
    rows = [r for r in (runs.run_row(s, "uri") for s in (copy_failed, copy_ok, running, child)) if r]
    assert [r["instanceId"] for r in runs.select(rows)] == ["sync-src~1", "copy-a~2", "copy-a~1"]
    assert [r["instanceId"] for r in runs.select(rows, failed=True)] == ["copy-a~2"]
    assert runs.select(rows, failed=True)[0]["error"] == {"code": "2024", "message": "m", "hint": "h",
                                                          "target": "west"}
    assert [r["kind"] for r in runs.select(rows, kind="sync")] == ["sync"]
    assert runs.select(rows, since=datetime(2026, 6, 1, 9, 30, tzinfo=UTC))[-1]["instanceId"] == "copy-a~2"
    assert rows[2]["progress"]["progress"]["west"]["total"] == 3 and "outcome" not in rows[2]
    attempts, mapping = runs.last_attempts([copy_failed, copy_ok], "src")
    assert attempts[("a", "west")].ok is False and attempts[("a", "east")].ok is True
    assert mapping == {"west": {"a": "a"}, "east": {"a": "a"}}


@pytest.mark.parametrize(("text", "expected"), [("24h", NOW - timedelta(hours=24)), ("7d", NOW - timedelta(days=7)),
                                                ("30m", NOW - timedelta(minutes=30)),
                                                ("2026-05-01T00:00:00Z", datetime(2026, 5, 1, tzinfo=UTC)),
                                                ("", None)])
def test_since(text: str, expected: datetime | None) -> None:
    assert runs.parse_since(text, NOW) == expected


@pytest.mark.parametrize(("fn", "args"), [(runs.parse_since, ("yesterday", NOW)), (runs.parse_kind, ("batch",)),
                                          (runs.parse_flag, ("failed", "perhaps"))])
def test_bad_run_queries_say_what_is_accepted(fn, args) -> None:
    with pytest.raises(runs.RunQueryError):
        fn(*args)


def classifier(cid: str, modified: str, description: str = "d") -> dict:
    return {"classifierId": cid, "createdDateTime": modified, "modifiedDateTime": modified,
            "expirationDateTime": "2028-01-01T00:00:00Z", "apiVersion": "2024-11-30", "description": description,
            "docTypes": {"invoice": {"kind": "azureBlob"}}}


def test_classifier_states() -> None:
    def with_cls(alias: str, cls: list[dict] | None, region: str = "westus2") -> Inventory:
        base = inv(alias, [] if cls is not None or alias != "src" else None, region=region)
        return Inventory(**{**base.__dict__, "classifiers": None if cls is None else tuple(cls)})

    source = with_cls("src", [classifier("same", T2), classifier("old", T2), classifier("other", T1)],
                      region="eastus")
    west = with_cls("west", [classifier("same", T2), classifier("old", T1), classifier("other", T2, "mine")])
    far = with_cls("far", [], region="northeurope")
    cat = catalog.build_catalog(source=source, targets=[west, far], now=NOW)
    states = {(r["id"], r["kind"]): {a: c["state"] for a, c in r["targets"].items()} for r in cat["replicas"]}
    assert states[("same", "classifier")] == {"west": "current", "far": "missing"}
    assert states[("old", "classifier")]["west"] == "stale"
    assert states[("other", "classifier")]["west"] == "conflict"
    far_cell = next(r for r in cat["replicas"] if r["id"] == "same")["targets"]["far"]
    assert "westus2" in far_cell["reason"]  # classifier copy is refused in that region: said, not hidden
    down = catalog.build_catalog(source=with_cls("src", None, region="eastus"), targets=[west, far], now=NOW,
                                 previous=cat)
    assert {r["id"] for r in down["replicas"] if r["kind"] == "classifier"} == {"same", "old", "other"}
    assert next(r for r in down["replicas"] if r["id"] == "same")["targets"]["west"]["state"] == "current"


def test_finished_after() -> None:
    done = {"name": "sync_estate", "runtimeStatus": "Completed", "lastUpdatedTime": "2026-06-01T10:00:05Z",
            "output": {"source": "src"}}
    assert runs.finished_after([done], "src", "2026-06-01T10:00:00Z") is True
    assert runs.finished_after([done], "src", "2026-06-01T10:00:05Z") is False
    assert runs.finished_after([done], "other", "2026-06-01T10:00:00Z") is False
    assert runs.finished_after([dict(done, runtimeStatus="Running")], "src", "2026-06-01T10:00:00Z") is False
