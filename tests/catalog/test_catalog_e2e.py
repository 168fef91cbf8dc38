"""`/api/replicas`, `/api/replicas/{id}` end to end: HTTP in, states read from what the emulated targets hold.

One estate holds every state at once: a copied model (current), a copy of an older version (stale, recognised
by its provenance tags), a model only on the source (missing), a model created by hand under the same id on a
target (conflict) and a copy whose run failed (failed); then the source region goes down and the catalog keeps
answering from the targets.
"""

from __future__ import annotations

import pytest

from tests.operator_stack import Stack, unique


def cell(catalog: dict, artifact: str, target: str) -> dict:
    row = next((r for r in catalog["replicas"] if r["id"] == artifact), None)
    assert row is not None, f"{artifact} not in the catalog: {[r['id'] for r in catalog['replicas']]}"
    return row["targets"][target]


@pytest.fixture(scope="module")
def estate(stack: Stack) -> dict[str, str]:
    ids = {name: unique(name) for name in ("current", "stale", "missing", "conflict", "failed")}
    for model_id in ids.values():
        stack.seed("src", model_id)
    done = stack.copy({"modelId": ids["current"]})
    assert done["output"]["status"] == "succeeded", done["output"]
    # stale: the target holds a ModelFerry copy of an OLDER version of the source model (provenance tags say so)
    old = stack.provenance("src", ids["stale"]) | {"modelferry.sourceCreated": "2024-01-01T00:00:00Z"}
    stack.seed("west", ids["stale"], tags=old)
    stack.seed("europe", ids["stale"], tags=stack.provenance("src", ids["stale"]))  # and a current one
    # conflict: someone built another model under the same id on the target
    stack.seed("west", ids["conflict"], description="built by hand")
    # failed: the copy to west fails (copy behaviour), europe succeeds
    stack.resource("src").set_copy_behaviour("fail", 3, code="2024")
    failed = stack.copy({"modelId": ids["failed"], "targets": ["west"]})
    assert failed["output"]["targets"]["west"]["status"] == "failed", failed["output"]
    return ids


def test_every_state_at_once(ops: Stack, estate: dict[str, str]) -> None:
    resp = ops.get("replicas", refresh="true")
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["source"]["alias"] == "src" and got["source"]["reachable"] is True
    assert set(got["targets"]) == {"west", "europe"} and got["refreshed"] is True and got["ageSeconds"] >= 0
    current = cell(got, estate["current"], "west")
    assert current["state"] == "current" and current["modelId"] == estate["current"]
    assert current["region"] == "westus2" and current["endpoint"] == ops.cloud.resource("west").endpoint
    assert current["apiVersion"] == "2024-11-30" and current["verifiedAt"] and current["expiresAt"]
    assert cell(got, estate["current"], "europe")["state"] == "current"
    assert cell(got, estate["stale"], "west")["state"] == "stale"
    assert cell(got, estate["stale"], "europe")["state"] == "current"
    assert cell(got, estate["missing"], "west")["state"] == "missing"
    assert cell(got, estate["missing"], "west")["modelId"] is None
    conflict = cell(got, estate["conflict"], "west")
    assert conflict["state"] == "conflict" and "not a copy" in conflict["reason"]
    failed = cell(got, estate["failed"], "west")
    assert failed["state"] == "failed" and failed["error"]["code"] == "2024" and failed["error"]["hint"]
    assert cell(got, estate["failed"], "europe")["state"] == "missing"  # never attempted


def test_answers_from_the_last_known_state_and_says_how_old(ops: Stack, estate: dict[str, str]) -> None:
    assert ops.get("replicas", refresh="true").status_code == 200
    before = len(ops.resource("west").request_log())

    def cached() -> dict | None:
        body = ops.get("replicas").json()
        return body if body.get("refreshed") is False else None

    from tests.operator_stack import wait_http
    body = wait_http(cached, what="the catalog entity to hold the refreshed catalog")
    assert body["ageSeconds"] >= 0 and body["generatedAt"]
    assert cell(body, estate["current"], "west")["state"] == "current"
    assert [e for e in ops.resource("west").request_log()[before:] if e["operation"] == "listModels"] == []


def test_filter_by_id_pattern_and_unknown_source(ops: Stack, estate: dict[str, str]) -> None:
    body = ops.get("replicas", id=estate["stale"][:6] + "*").json()
    assert body["replicas"] and all(r["id"].startswith("stale-") for r in body["replicas"])
    bad = ops.get("replicas", source="nowhere")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "UnknownResource" and "src" in error["hint"]
    assert ops.get("replicas", format="xml").status_code == 400
    assert ops.get("replicas", refresh="maybe").status_code == 400


def test_failover_export(ops: Stack, estate: dict[str, str]) -> None:
    export = ops.get("replicas", format="failover", refresh="true").json()
    west, europe = ops.cloud.resource("west").endpoint, ops.cloud.resource("europe").endpoint
    assert export[estate["current"]] == {"westus2": {"endpoint": west, "modelId": estate["current"]},
                                         "westeurope": {"endpoint": europe, "modelId": estate["current"]}}
    assert export[estate["stale"]] == {"westeurope": {"endpoint": europe, "modelId": estate["stale"]}}
    assert estate["missing"] not in export and estate["conflict"] not in export


def test_one_replica_lookup(ops: Stack, estate: dict[str, str]) -> None:
    ops.get("replicas", refresh="true")
    ok = ops.get(f"replicas/{estate['current']}", region="westus2", refresh="true")
    assert ok.status_code == 200, ok.text
    assert ok.json()["modelId"] == estate["current"] and ok.json()["endpoint"] == ops.resource("west").endpoint
    assert set(ok.json()) >= {"endpoint", "modelId", "apiVersion", "verifiedAt"}
    by_alias = ops.get(f"replicas/{estate['current']}", region="europe", refresh="true")
    assert by_alias.json()["region"] == "westeurope"
    stale = ops.get(f"replicas/{estate['stale']}", region="west", refresh="true")
    assert stale.status_code == 404 and stale.json()["error"]["code"] == "ReplicaStale"
    missing = ops.get(f"replicas/{estate['missing']}", region="westus2", refresh="true")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ReplicaNotFound"
    unknown = ops.get(f"replicas/{estate['current']}", region="mars", refresh="true")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "UnknownRegion"
    assert "westus2" in unknown.json()["error"]["message"]


def test_source_region_down(ops: Stack, estate: dict[str, str]) -> None:
    assert ops.get("replicas", refresh="true").status_code == 200  # a last known state with the source up
    ops.resource("src").fail_next("*", 1000, kind="5xx", status=503)
    resp = ops.get("replicas", refresh="true")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["source"]["reachable"] is False and body["source"]["error"]["code"]
    # provenance on the targets still names the replicas; the newest version any target holds counts as current
    assert cell(body, estate["stale"], "europe")["state"] == "current"
    assert cell(body, estate["stale"], "west")["state"] == "stale"
    assert cell(body, estate["current"], "west")["state"] == "current"
    ok = ops.get(f"replicas/{estate['stale']}", region="westeurope")
    assert ok.status_code == 200 and ok.json()["modelId"] == estate["stale"]
    export = ops.get("replicas", format="failover").json()
    assert estate["current"] in export and "westus2" in export[estate["current"]]


def test_v2_replicas_are_named_by_the_mapping(ops: Stack) -> None:
    source_id = ops.seed("v2src")
    done = ops.copy({"modelId": source_id, "source": "v2src", "targets": ["v2dst"]})
    assert done["output"]["status"] == "succeeded", done["output"]
    target_id = done["output"]["targets"]["v2dst"]["targetModelId"]
    assert target_id != source_id
    body = ops.get("replicas", source="v2src", refresh="true").json()
    got = cell(body, source_id, "v2dst")
    assert got["state"] == "current" and got["modelId"] == target_id and got["region"] == "uksouth"
    other = ops.seed("v2src")
    assert cell(ops.get("replicas", source="v2src", refresh="true").json(), other, "v2dst")["state"] == "missing"


def classifier_cell(catalog: dict, artifact: str, target: str) -> dict:
    row = next((r for r in catalog["replicas"] if r["id"] == artifact and r["kind"] == "classifier"), None)
    assert row is not None, f"classifier {artifact} not in the catalog"
    return row["targets"][target]


def test_classifiers_are_in_the_catalog(ops: Stack) -> None:
    copied, lonely, taken = unique("cls-copied"), unique("cls-lonely"), unique("cls-taken")
    for cid in (copied, lonely, taken):
        ops.resource("src").seed_classifier(cid)
        ops.clock.advance(1.0)
    ops.resource("west").seed_classifier(taken, description="another classifier under the same id")
    done = ops.copy({"classifierId": copied})
    assert done["output"]["status"] == "succeeded", done["output"]
    body = ops.get("replicas", refresh="true").json()
    current = classifier_cell(body, copied, "west")
    assert current["state"] == "current" and current["modelId"] == copied and current["expiresAt"]
    assert classifier_cell(body, copied, "europe")["state"] == "current"
    assert classifier_cell(body, lonely, "west")["state"] == "missing"
    assert classifier_cell(body, taken, "west")["state"] == "conflict"
    assert ops.get("replicas", format="failover").json()[copied]["westus2"]["modelId"] == copied


def test_a_finished_run_makes_the_last_known_catalog_read_again(ops: Stack, monkeypatch) -> None:
    import OperatorApi.endpoints as endpoints
    from tests.operator_stack import wait_http
    model_id = ops.seed("src", unique("after-run"))
    assert cell(ops.get("replicas", refresh="true").json(), model_id, "west")["state"] == "missing"
    wait_http(lambda: ops.get("replicas").json().get("refreshed") is False, what="the stored catalog")
    assert ops.copy({"modelId": model_id, "targets": ["west"]})["output"]["status"] == "succeeded"
    assert ops.get("replicas").json()["refreshed"] is False  # younger than AUTO_REFRESH_SECONDS: as stored
    monkeypatch.setattr(endpoints, "AUTO_REFRESH_SECONDS", 0)
    again = ops.get("replicas").json()
    assert again["refreshed"] is True and cell(again, model_id, "west")["state"] == "current"
