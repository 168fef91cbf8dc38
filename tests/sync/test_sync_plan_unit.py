"""The pure sync plan (`ferry.orchestration.sync_plan`) on tables of cases: one source model and one target
holding what each row says, and the action/reason the plan must decide. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferry.orchestration import relay
from ferry.orchestration.sync_plan import (
    chunks,
    plan_sync,
    progress_status,
    settle_without_execution,
    sync_output,
    v2_replicas_after,
)
from ferry.orchestration.sync_request import SyncRequest
from ferry.provenance import provenance_tags, read_provenance

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SRC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/src"
OTHER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/other"
CREATED = "2026-11-01T10:00:00Z"
REBUILT = "2026-12-01T10:00:00Z"
EXPIRES = "2028-11-01T10:00:00Z"


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def model(model_id: str, created: str = CREATED, expires: str | None = EXPIRES, api: str = "2024-11-30",
          provenance: dict | None = None, **extra: Any) -> dict[str, Any]:
    item = {"id": model_id, "kind": "model", "created": created, "status": "ready", "apiVersion": api, **extra}
    if expires:
        item["expires"] = expires
    if provenance is not None:
        item["provenance"] = provenance
    return item


def prov(source_id: str, created: str | None = CREATED, resource: str = SRC) -> dict[str, Any]:
    p = read_provenance(provenance_tags(source_resource=resource, source_model_id=source_id, source_created=created))
    assert p is not None
    return p.to_dict()


def inv(items: list[dict], *, generation: str = "v3", count: int | None = None, limit: int | None = 5000,
        resource: str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/t"
        ) -> dict[str, Any]:
    return {"resourceId": resource, "generation": generation, "items": items,
            "count": len(items) if count is None else count, "limit": limit}


def plan(source_items: list[dict], target_items: list[dict], request: SyncRequest | None = None,
         **target: Any) -> dict[str, Any]:
    request = request or SyncRequest(source="src", targets=("dst",))
    return plan_sync(request, inv(source_items, resource=SRC), {"dst": inv(target_items, **target)}, now=NOW)


def only_row(planned: dict[str, Any]) -> dict[str, Any] | None:
    assert len(planned["rows"]) <= 1, planned["rows"]
    return planned["rows"][0] if planned["rows"] else None


# (case, source model, target models, action, reason)
V3_CASES = [
    ("absent on the target", model("a"), [], "copy", None),
    ("our copy of this build", model("a"), [model("a", provenance=prov("a"))], "upToDate", None),
    ("our copy, times written with fractions", model("a", created="2026-11-01T10:00:00.1234567Z"),
     [model("a", provenance=prov("a", "2026-11-01T10:00:00Z"))], "upToDate", None),
    ("our copy of an older build", model("a", created=REBUILT), [model("a", provenance=prov("a"))], "stale", None),
    ("our copy of ANOTHER model on this id", model("a"), [model("a", provenance=prov("b"))], "conflict", None),
    ("a copy from another source resource", model("a"), [model("a", provenance=prov("a", resource=OTHER))],
     "conflict", None),
    ("made by hand, same id, another time", model("a"), [model("a", created=REBUILT)], "conflict", None),
    ("no provenance, verified copy (made before tags)", model("a"), [model("a", verifiedCopy=True)],
     "upToDate", None),
    ("no provenance, not verified", model("a"), [model("a", verifiedCopy=False)], "conflict", None),
    ("source expired", model("a", expires=iso(NOW - timedelta(seconds=1))), [], "skip", "SourceExpired"),
    ("source built on a preview API version", model("a", api="2024-07-31-preview"), [], "skip",
     "PreviewApiVersion"),
    ("source not ready", model("a", status="creating"), [], "skip", "SourceNotReady"),
]


@pytest.mark.parametrize(("case", "source", "target", "action", "reason"), V3_CASES, ids=[c[0] for c in V3_CASES])
def test_v3_decisions(case: str, source: dict, target: list[dict], action: str, reason: str | None) -> None:
    planned = plan([source], target)
    row = only_row(planned)
    assert planned["counts"]["dst"][action] == 1, (case, planned)
    if action == "upToDate":
        assert row is None  # counted, not listed
    else:
        assert row is not None and row["action"] == action and row.get("reason") == reason, (case, row)
        if action in ("skip", "conflict"):
            assert row["hint"]


def test_generation_mismatch_skips_every_model_of_that_target() -> None:
    request = SyncRequest(source="src", targets=("dst",))
    planned = plan_sync(request, inv([model("a"), model("b")], resource=SRC),
                        {"dst": inv([], generation="v2")}, now=NOW)
    assert [(r["id"], r["action"], r["reason"]) for r in planned["rows"]] == [
        ("a", "skip", "ApiGenerationMismatch"), ("b", "skip", "ApiGenerationMismatch")]


@pytest.mark.parametrize(("count", "limit", "copies", "full"), [
    (0, 5000, 3, 0),      # plenty of room
    (3, 5, 2, 1),         # room for 2 of 3: the last in id order is skipped
    (5, 5, 0, 3),         # full
    (7, 5, 0, 3),         # over the limit already
])
def test_capacity_counts_what_the_plan_adds(count: int, limit: int, copies: int, full: int) -> None:
    planned = plan([model("a"), model("b"), model("c")], [], count=count, limit=limit)
    rows = {r["id"]: r for r in planned["rows"]}
    assert planned["counts"]["dst"]["copy"] == copies
    assert sorted(i for i, r in rows.items() if r.get("reason") == "TargetFull") == ["a", "b", "c"][copies:]
    assert sum(1 for r in rows.values() if r.get("reason") == "TargetFull") == full


def test_a_stale_replacement_needs_no_room() -> None:
    planned = plan([model("a", created=REBUILT), model("b")], [model("a", provenance=prov("a"))], count=5, limit=6)
    assert {r["id"]: r["action"] for r in planned["rows"]} == {"a": "stale", "b": "copy"}


def test_prune_only_when_asked_and_only_modelferry_copies_of_this_source() -> None:
    target = [model("gone", provenance=prov("gone")),                  # ModelFerry's, source deleted → prune
              model("renamed-dr", provenance=prov("gone2")),           # copied under another id → prune that id
              model("foreign"),                                        # no provenance: never
              model("theirs", provenance=prov("x", resource=OTHER)),   # another source's copy: never
              model("kept", provenance=prov("kept"))]                  # source still there (filtered out): never
    source = [model("kept")]
    without = plan(source, target, SyncRequest(source="src", targets=("dst",), exclude=("kept",)))
    assert [r for r in without["rows"] if r["action"] == "prune"] == []
    orphans = [w for w in without["warnings"] if w["code"] == "OrphanedReplicas"]
    assert orphans and orphans[0]["ids"] == ["gone", "gone2"]
    pruned = plan(source, target, SyncRequest(source="src", targets=("dst",), prune=True, exclude=("kept",)))
    rows = [(r["id"], r.get("targetModelId")) for r in pruned["rows"] if r["action"] == "prune"]
    assert rows == [("gone", None), ("gone2", "renamed-dr")]
    scoped = plan(source, target, SyncRequest(source="src", targets=("dst",), prune=True, include=("gone2",)))
    assert [r["id"] for r in scoped["rows"] if r["action"] == "prune"] == ["gone2"]


def test_include_exclude_select_source_models() -> None:
    request = SyncRequest(source="src", targets=("dst",), include=("inv-*", "rec-[0-9]"), exclude=("*-test",))
    planned = plan([model("inv-1"), model("inv-test"), model("rec-1"), model("rec-x"), model("other")], [], request)
    assert sorted(r["id"] for r in planned["rows"]) == ["inv-1", "rec-1"]


def test_replicas_expiring_within_30_days_are_warned_about() -> None:
    soon, later = iso(NOW + timedelta(days=29)), iso(NOW + timedelta(days=31))
    planned = plan([model("soon", expires=soon), model("later", expires=later)], [model("soon", expires=soon,
                                                                                      provenance=prov("soon"))])
    warned = [w for w in planned["warnings"] if w["code"] == "ReplicaExpiresSoon"]
    assert [(w["id"], w["targets"], w["expires"]) for w in warned] == [("soon", ["dst"], soon)]


def test_prebuilt_and_kinds_come_from_the_inventory_and_rows_keep_the_kind() -> None:
    planned = plan([model("a")], [])
    assert planned["rows"][0]["kind"] == "model"


# ------------------------------------------------------------------------------------------------------ v2

G1, G2, G3, T1, T2 = (f"00000000-0000-0000-0000-00000000000{i}" for i in range(1, 6))


def v2(model_id: str, created: str = CREATED, updated: str = CREATED, name: str | None = "n",
       status: str = "ready") -> dict[str, Any]:
    return {"id": model_id, "kind": "model", "created": created, "lastUpdated": updated, "name": name,
            "status": status}


def plan_v2(source: list[dict], target: list[dict], mapping: dict[str, str], prune: bool = False) -> dict:
    request = SyncRequest(source="v2src", targets=("v2dst",), prune=prune)
    return plan_sync(request, inv(source, generation="v2", resource=SRC),
                     {"v2dst": inv(target, generation="v2")}, now=NOW, v2_map={"v2dst": mapping})


@pytest.mark.parametrize(("case", "source", "target", "mapping", "action", "target_id", "adopt"), [
    ("not copied yet", v2(G1), [], {}, "copy", None, {}),
    ("mapped, same times", v2(G1), [v2(T1)], {G1: T1}, "upToDate", T1, {}),
    ("mapped, target retrained times differ", v2(G1, updated=REBUILT), [v2(T1)], {G1: T1}, "stale", T1, {}),
    ("mapped but gone from the target", v2(G1), [], {G1: T1}, "copy", None, {}),
    ("an earlier copy is adopted", v2(G1), [v2(T1)], {}, "upToDate", T1, {G1: T1}),
    ("another model's copy is not adopted", v2(G1), [v2(T1, name="other")], {}, "copy", None, {}),
    ("still training", v2(G1, status="creating"), [], {}, "skip", None, {}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_v2_decisions(case, source, target, mapping, action, target_id, adopt) -> None:
    planned = plan_v2([source], target, mapping)
    assert planned["counts"]["v2dst"][action] == 1, (case, planned)
    assert planned["v2Adopt"].get("v2dst", {}) == adopt
    row = only_row(planned)
    if row is not None:
        assert row["action"] == action and row.get("targetModelId") == target_id


def test_v2_prune_uses_the_mapping_and_forgets_pairs_whose_copy_is_gone() -> None:
    planned = plan_v2([v2(G1)], [v2(T1), v2(T2)], {G1: T1, G2: T2, G3: "00000000-0000-0000-0000-0000000000ff"},
                      prune=True)
    assert [(r["id"], r["action"], r["targetModelId"]) for r in planned["rows"]] == [(G2, "prune", T2)]
    assert planned["v2Forget"] == {"v2dst": [G3]}
    assert v2_replicas_after({"v2dst": {G1: T1, G2: T2, G3: "x"}}, planned,
                             [{"id": G2, "target": "v2dst", "result": "pruned"}]) == {"v2dst": {G1: T1}}


# ------------------------------------------------------------------------------------------------ outcome

@pytest.mark.parametrize(("row", "on_stale", "dry_run", "result"), [
    ({"action": "copy"}, "replace", False, None),
    ({"action": "prune"}, "replace", False, None),
    ({"action": "stale"}, "replace", False, None),
    ({"action": "stale"}, "keep", False, "skipped"),
    ({"action": "stale"}, "fail", False, "failed"),
    ({"action": "conflict"}, "replace", False, "conflict"),
    ({"action": "skip", "reason": "TargetFull"}, "replace", False, "skipped"),
    ({"action": "copy"}, "replace", True, "planned"),
    ({"action": "stale"}, "fail", True, "failed"),
    ({"action": "stale"}, "keep", True, "skipped"),
    ({"action": "prune"}, "replace", True, "planned"),
    ({"action": "conflict"}, "replace", True, "conflict"),
])
def test_rows_settled_without_execution(row: dict, on_stale: str, dry_run: bool, result: str | None) -> None:
    full = {"id": "a", "kind": "model", "target": "dst", **row}
    settled = settle_without_execution(full, on_stale=on_stale, dry_run=dry_run)
    assert (settled or {}).get("result") == result
    if result == "failed":
        assert settled["error"]["code"] == "StaleReplica" and settled["error"]["hint"]


def test_output_counts_status_and_compactness() -> None:
    request = SyncRequest(source="src", targets=("dst", "dr2"))
    planned = {"counts": {"dst": {"upToDate": 7}, "dr2": {"upToDate": 1}}, "warnings": []}
    items = [{"id": "a", "kind": "model", "target": "dst", "action": "copy", "result": "copied"},
             {"id": "b", "kind": "model", "target": "dst", "action": "stale", "result": "replaced"},
             {"id": "c", "kind": "model", "target": "dr2", "action": "copy", "result": "failed",
              "error": {"code": "2024", "message": "m", "hint": "h"}}]
    out = sync_output(request, planned, items)
    assert out["status"] == "partial" and out["dryRun"] is False
    assert out["counts"]["dst"] == {"copied": 1, "upToDate": 7, "replaced": 1, "conflict": 0, "skipped": 0,
                                    "pruned": 0, "failed": 0}
    assert out["counts"]["dr2"]["failed"] == 1
    assert sync_output(request, planned, items[:2])["status"] == "succeeded"
    assert sync_output(request, planned, items[2:])["status"] == "failed"
    dry = sync_output(SyncRequest(source="src", targets=("dst",), dry_run=True), planned,
                      [{**items[0], "result": "planned"}, {**items[1], "result": "planned"},
                       {"id": "z", "kind": "model", "target": "dst", "action": "prune", "result": "planned"}])
    assert dry["status"] == "planned"  # the counts say what the sync would do
    assert (dry["counts"]["dst"]["copied"], dry["counts"]["dst"]["replaced"], dry["counts"]["dst"]["pruned"]) == (
        1, 1, 1)


def test_1500_rows_stay_far_below_the_payload_limit_and_chunk_evenly() -> None:
    import json

    rows = [{"id": f"invoices-{i:04d}-eastus-model", "kind": "model", "target": f"region-{i % 3}",
             "action": "copy"} for i in range(1500)]
    items = [{**r, "result": "copied"} for r in rows]
    request = SyncRequest(source="src", targets=("region-0", "region-1", "region-2"))
    out = sync_output(request, {"counts": {}, "warnings": []}, items)
    assert len(json.dumps(out)) < 200_000                    # the Durable Task Scheduler's limit is 1 MB
    routes = relay.assign([*rows, {"id": "x", "kind": "model", "target": "region-0", "action": "prune"}],
                          source="src", peers=(), rates={})
    parts = chunks(routes, 25)
    assert len(parts) == 61 and parts[0][0]["action"] == "prune" and all(len(p) <= 25 for p in parts)
    status = progress_status(stage="copying", source="src",
                             progress={f"region-{i}": {"done": 400, "total": 500, "throttled": 3} for i in range(3)},
                             throughput=123.456)
    assert len(json.dumps(status)) < 16_384 and status["throughput"] == 123.5


# ------------------------------------------------------------------------------------------------ classifiers

def classifier(classifier_id: str, description: str = "d", modified: str = CREATED) -> dict[str, Any]:
    from ferry.inventory import classifier_item

    return classifier_item({"classifierId": classifier_id, "createdDateTime": NOW.isoformat(),
                            "modifiedDateTime": modified, "expirationDateTime": EXPIRES, "apiVersion": "2024-11-30",
                            "description": description, "docTypes": {"invoice": {"kind": "url"}}}).to_dict()


@pytest.mark.parametrize(("case", "target", "refusal", "action", "reason"), [
    ("absent", [], None, "copy", None),
    ("a copy (a copy's createdDateTime is new: not compared)", [classifier("c")], None, "upToDate", None),
    ("another classifier under the id", [classifier("c", description="by hand")], None, "conflict", None),
    ("an older version", [classifier("c", modified=REBUILT)], None, "conflict", None),
    ("a model of the same id is no classifier", [model("c")], None, "copy", None),
    ("a target that cannot receive classifiers", [], "classifier copy needs apiVersion 2024-11-30", "skip",
     "ClassifierCopyNotSupported"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_classifier_decisions(case, target, refusal, action, reason) -> None:
    request = SyncRequest(source="src", targets=("dst",), prune=True)
    planned = plan_sync(request, inv([classifier("c")], resource=SRC),
                        {"dst": {**inv(target, count=0, limit=0), "classifierCopy": refusal}}, now=NOW)
    assert planned["counts"]["dst"][action] == 1, (case, planned)
    row = only_row(planned)
    if row is not None:
        assert (row["kind"], row["action"], row.get("reason")) == ("classifier", action, reason)
    # a classifier never counts against the model limit (0 here) and is never pruned
    assert planned["counts"]["dst"]["prune"] == 0
