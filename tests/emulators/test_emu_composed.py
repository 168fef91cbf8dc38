"""Composed models: v2.1 and 2023-07-31 copy in one operation carrying their components; 2024-11-30 compose
with a classifier, and its copy under the per-resource option (accept / refuse, inferred)."""

from __future__ import annotations

import requests
from emu_helpers import client, v2_authorize, v2_copy, v3_authorize, v3_copy


def _v4_composed(res, model_id: str = "both", **extra) -> str:
    for part in ("part-a", "part-b"):
        if res.model(part) is None:
            res.seed_model("v3", part, api_version="2024-11-30")
    if res.classifier("router") is None:
        res.seed_classifier("router", doc_types=["a", "b"])
    return res.seed_composed(model_id, components={"a": "part-a", "b": "part-b"}, api_version="2024-11-30",
                             classifier_id="router", **extra)


def test_v2_1_composed_model_copies_in_one_operation_with_its_components(cloud, src, west) -> None:
    parts = [src.seed_model("v2") for _ in range(2)]
    composed = src.seed_composed(components=parts, api_version="v2.1", model_name="both")
    source, target = client(src, "v2.1"), client(west, "v2.1")
    auth = v2_authorize(target)
    op = v2_copy(source, composed, west, auth).headers["Operation-Location"]
    cloud.advance(3)
    assert source.poll(op).json()["status"] == "succeeded"
    copied = target.get(f"/custom/models/{auth['modelId']}").json()
    assert copied["modelInfo"]["attributes"] == {"isComposed": True} and copied["modelInfo"]["modelName"] == "both"
    assert [r["modelId"] for r in copied["composedTrainResults"]] == parts  # the source's component ids
    assert west.model(parts[0]) is None  # the components themselves were not copied


def test_2023_07_31_composed_model_copies_in_one_operation_with_its_doc_types(cloud, src, west) -> None:
    src.seed_model("v3", "part-a")
    src.seed_model("v3", "part-b")
    src.seed_composed("both", components=["part-a", "part-b"], api_version="2023-07-31", description="d")
    source, target = client(src, "2023-07-31"), client(west, "2023-07-31")
    op = v3_copy(source, "both", v3_authorize(target, "both")).headers["Operation-Location"]
    cloud.advance(3)
    done = source.poll(op).json()
    assert done["status"] == "succeeded" and sorted(done["result"]["docTypes"]) == ["part-a", "part-b"]
    assert target.get("/documentModels/both").json() == done["result"]


def test_v4_compose_checks_its_classifier_components_and_fields(cloud, src) -> None:
    c = client(src, "2024-11-30")
    src.seed_model("v3", "part-a")
    body = {"modelId": "both", "classifierId": "router", "docTypes": {"a": {"modelId": "part-a"}}}
    missing = c.post("/documentModels:compose", body)
    assert missing.status_code == 400 and "Classifier 'router'" in missing.json()["error"]["innererror"]["message"]
    src.seed_classifier("router")
    for bad, text in (({"docTypes": {"a": {"modelId": "ghost"}}}, "'ghost'"),
                      ({"docTypes": {"a": {"modelId": "part-a", "extra": 1}}}, "docTypes['a'].extra"),
                      ({"docTypes": {"a": {"modelId": "part-a", "confidenceThreshold": 2}}}, "between 0 and 1"),
                      ({"docTypes": {"a": {}}}, "docTypes['a'].modelId"),
                      ({"split": "sometimes"}, "'split'"),
                      ({"componentModels": [{"modelId": "part-a"}]}, "'componentModels'")):
        r = c.post("/documentModels:compose", {**body, **bad})
        assert r.status_code == 400 and text in r.json()["error"]["innererror"]["message"], (bad, r.text)
    ok = c.post("/documentModels:compose", {**body, "docTypes": {"a": {
        "modelId": "part-a", "confidenceThreshold": 0.5, "features": ["queryFields"], "queryFields": ["Total"],
        "maxDocumentsToAnalyze": 3, "description": "type a"}}})
    assert ok.status_code == 202
    cloud.advance(1)
    got = c.get("/documentModels/both").json()
    assert (got["classifierId"], got["split"]) == ("router", "none")
    doc_type = got["docTypes"]["a"]
    assert doc_type["modelId"] == "part-a" and doc_type["confidenceThreshold"] == 0.5
    assert doc_type["queryFields"] == ["Total"] and doc_type["maxDocumentsToAnalyze"] == 3
    assert doc_type["fieldSchema"] == c.get("/documentModels/part-a").json()["docTypes"]["part-a"]["fieldSchema"]
    assert "buildMode" not in got  # a composed model has no build mode of its own
    summary = next(m for m in c.get("/documentModels").json()["value"] if m["modelId"] == "both")
    assert summary["classifierId"] == "router" and "docTypes" not in summary


def test_v4_composed_copy_accepted_when_its_dependencies_are_on_the_target(cloud, src, west) -> None:
    _v4_composed(src, split="perPage", description="routed", tags={"k": "v"})
    source, target = client(src, "2024-11-30"), client(west, "2024-11-30")
    original = source.get("/documentModels/both").json()
    lacking = v3_copy(source, "both", v3_authorize(target, "both")).headers["Operation-Location"]
    cloud.advance(3)
    failed = source.poll(lacking).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "InvalidRequest"
    assert failed["error"]["innererror"]["code"] == "ModelNotFound"
    for name in ("classifier 'router'", "model 'part-a'", "model 'part-b'"):
        assert name in failed["error"]["message"]
    assert target.get("/documentModels/both").status_code == 404  # nothing created

    west.seed_classifier("router")
    west.seed_model("v3", "part-a")
    west.seed_model("v3", "part-b")
    op = v3_copy(source, "both", v3_authorize(target, "both")).headers["Operation-Location"]
    cloud.advance(3)
    done = source.poll(op).json()
    assert done["status"] == "succeeded", done
    copied = target.get("/documentModels/both").json()
    assert copied == done["result"]
    for field in ("classifierId", "split", "docTypes", "createdDateTime", "expirationDateTime", "description"):
        assert copied[field] == original[field], field
    assert [t["modelId"] for t in copied["docTypes"].values()] == ["part-a", "part-b"]


def test_v4_composed_copy_refused_by_option_leaves_the_authorization_usable(cloud, src, west) -> None:
    _v4_composed(src)
    src.seed_model("v3", "plain")
    source, target = client(src, "2024-11-30"), client(west, "2024-11-30")
    src.set_composed_copy("refuse")
    auth = v3_authorize(target, "both")
    refused = v3_copy(source, "both", auth)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["innererror"]["code"]) == ("InvalidRequest", "InvalidModel")
    assert "compose it on the target" in error["innererror"]["message"]
    assert src.operations() == []
    plain = v3_copy(source, "plain", v3_authorize(target, "plain"))  # plain models still copy
    assert plain.status_code == 202
    west.set_composed_copy("refuse")  # the option is read on the source only
    requests.put(f"{src.endpoint}/_emulator/composed-copy", json={"mode": "accept"}, timeout=5).raise_for_status()
    assert requests.get(f"{src.endpoint}/_emulator/composed-copy", timeout=5).json() == {"mode": "accept"}
    west.seed_classifier("router")
    west.seed_model("v3", "part-a")
    west.seed_model("v3", "part-b")
    op = v3_copy(source, "both", auth).headers["Operation-Location"]  # the same authorization, unconsumed
    cloud.advance(3)
    assert source.poll(op).json()["status"] == "succeeded"
    bad = requests.put(f"{src.endpoint}/_emulator/composed-copy", json={"mode": "maybe"}, timeout=5)
    assert bad.status_code == 400 and "accept, refuse" in bad.json()["error"]
    src.reset()
    assert src.composed_copy == "accept"  # the configured mode


def test_composed_copy_mode_from_config_and_composed_fixtures_over_http(clock) -> None:
    from emu_helpers import three_regions

    from emulators import LocalCloud
    from emulators.config import ConfigError, parse

    config = three_regions(composedCopy="refuse")
    with LocalCloud.from_config(config, clock=clock) as cloud:
        src = cloud.resource("src")
        assert src.composed_copy == "refuse" and cloud.state["resources"]["src"]["composedCopy"] == "refuse"
        control = f"{src.endpoint}/_emulator"
        requests.post(f"{control}/models", json={"modelId": "p1", "apiVersion": "2024-11-30"},
                      timeout=5).raise_for_status()
        requests.post(f"{control}/classifiers", json={"classifierId": "r1"}, timeout=5).raise_for_status()
        made = requests.post(f"{control}/models/composed", json={
            "modelId": "c1", "components": {"t": "p1"}, "apiVersion": "2024-11-30", "classifierId": "r1"}, timeout=5)
        assert made.status_code == 200 and made.json()["classifierId"] == "r1" and made.json()["split"] == "none"
        no_classifier = requests.post(f"{control}/models/composed", json={
            "modelId": "c2", "components": ["p1"], "apiVersion": "2024-11-30"}, timeout=5)
        assert no_classifier.status_code == 400 and "existing classifier" in no_classifier.json()["error"]
    bad = three_regions(composedCopy="sometimes")
    try:
        parse(bad)
    except ConfigError as problem:
        assert str(problem).startswith("resources[0].composedCopy:")
    else:
        raise AssertionError("composedCopy 'sometimes' was accepted")
