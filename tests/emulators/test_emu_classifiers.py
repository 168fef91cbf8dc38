"""Custom classifiers over plain HTTP: build/get/list/delete (2023-07-31, 2024-11-30) and copy (2024-11-30).

Frozen clock: every state change happens on ``cloud.advance``. src = eastus, west = westus2 (both allowed for
classifier copy), a fourth resource in northeurope (not allowed) where a test needs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from emu_helpers import FrozenClock, client, resource, three_regions

from emulators import LocalCloud
from emulators.docintel.state import iso_z

BLOB = "https://example.blob.core.windows.net/classes"
TYPES = {"invoice": {"azureBlobSource": {"containerUrl": BLOB, "prefix": "invoice/train"}},
         "receipt": {"azureBlobSource": {"containerUrl": BLOB, "prefix": "receipt/train"}}}
OP_ID = r"\d{11}_[0-9a-f-]{36}"
ROUTE_404 = {"error": {"code": "404", "message": "Resource not found"}}


def build(c, classifier_id: str, **extra):
    return c.post("/documentClassifiers:build", {"classifierId": classifier_id, "docTypes": TYPES, **extra})


def authorize(c, classifier_id: str, **extra) -> dict:
    r = c.post("/documentClassifiers:authorizeCopy", {"classifierId": classifier_id, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def copy_to(c, classifier_id: str, auth: dict):
    return c.post(f"/documentClassifiers/{classifier_id}:copyTo", auth)


@pytest.fixture
def four_regions() -> Iterator[LocalCloud]:
    config = three_regions()
    config["resources"].append(resource("north", "northeurope", rateLimits={"manage": None, "get": None,
                                                                            "list": None}))
    with LocalCloud.from_config(config, clock=FrozenClock()) as running:
        yield running


# ---------------------------------------------------------------------------------------------- lifecycle
def test_build_is_an_operation_and_the_classifier_appears_when_it_succeeds(cloud, src) -> None:
    c = client(src, "2024-11-30")
    r = build(c, "splitter", description="routes documents")
    assert r.status_code == 202 and r.content == b""
    op = r.headers["Operation-Location"]
    assert re.fullmatch(rf"{src.endpoint}/documentintelligence/operations/{OP_ID}\?api-version=2024-11-30", op)
    first = c.poll(op).json()
    assert (first["kind"], first["status"]) == ("documentClassifierBuild", "notStarted")
    assert first["resourceLocation"] == f"{src.endpoint}/documentintelligence/documentClassifiers/splitter" \
                                        "?api-version=2024-11-30"
    assert c.get("/documentClassifiers/splitter").status_code == 404  # only once the build succeeds
    cloud.advance(0.5)
    running = c.poll(op).json()
    assert running["status"] == "running" and running["percentCompleted"] == 0  # as recorded
    cloud.advance(0.5)
    done = c.poll(op).json()
    assert done["status"] == "succeeded" and done["percentCompleted"] == 100
    classifier = c.get("/documentClassifiers/splitter").json()
    assert classifier == done["result"]
    assert list(classifier) == ["classifierId", "createdDateTime", "modifiedDateTime", "expirationDateTime",
                                "apiVersion", "docTypes", "description"]
    assert classifier["docTypes"]["invoice"] == {"kind": "azureBlob", **TYPES["invoice"]}
    assert classifier["createdDateTime"] == classifier["modifiedDateTime"] == iso_z(cloud.now())
    assert classifier["expirationDateTime"] == iso_z(cloud.now() + 2 * 365 * 24 * 3600)
    assert "tags" not in classifier


def test_build_accepts_kind_and_source_kind_and_refuses_what_the_service_would(cloud, src) -> None:
    c = client(src, "2024-11-30")
    spec_style = {"invoice": {"sourceKind": "azureBlob", **TYPES["invoice"]},
                  "list": {"kind": "azureBlobFileList",
                           "azureBlobFileListSource": {"containerUrl": BLOB, "fileList": "list.jsonl"}}}
    assert c.post("/documentClassifiers:build", {"classifierId": "both", "docTypes": spec_style}).status_code == 202
    cloud.advance(1)
    got = c.get("/documentClassifiers/both").json()["docTypes"]
    assert got["list"] == {"kind": "azureBlobFileList",
                           "azureBlobFileListSource": {"containerUrl": BLOB, "fileList": "list.jsonl"}}
    assert got["invoice"]["kind"] == "azureBlob"

    def refused(body: dict, inner: str, text: str) -> None:
        r = c.post("/documentClassifiers:build", body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["innererror"]["code"] == inner and text in r.json()["error"]["innererror"]["message"]

    refused({"classifierId": "x1", "docTypes": TYPES, "tags": {"a": "b"}}, "InvalidParameter", "'tags'")
    refused({"classifierId": "x1", "docTypes": {"a": {"kind": "azureBlobFileList", **TYPES["invoice"]}}},
            "InvalidParameter", "'docTypes['a'].kind' must be 'azureBlob'")
    refused({"classifierId": "x1", "docTypes": {"a": {}}}, "ParameterMissing", "Exactly one of")
    refused({"classifierId": "x1", "docTypes": {"a": {"azureBlobSource": {"containerUrl": BLOB, "x": 1}}}},
            "InvalidParameter", "'docTypes['a'].azureBlobSource.x'")
    refused({"classifierId": "x1", "docTypes": {}}, "InvalidParameter", "at least one")
    refused({"classifierId": "-bad", "docTypes": TYPES}, "InvalidParameter", "'classifierId'")
    conflict = build(c, "both")
    assert conflict.status_code == 409 and conflict.json()["error"]["innererror"]["code"] == "ModelExists"
    assert build(c, "both", allowOverwrite=True).status_code == 202


def test_list_pages_and_delete(cloud, src) -> None:
    src.settings.page_size = 2
    c = client(src, "2024-11-30")
    ids = [src.seed_classifier(f"cls-{i}") for i in range(5)]
    src.seed_model("v3", "not-a-classifier")
    seen, url = [], c.url("/documentClassifiers")
    while url:
        body = c.poll(url).json()
        assert all("docTypes" in item for item in body["value"])  # full details, docTypes is required
        seen += [item["classifierId"] for item in body["value"]]
        url = body.get("nextLink")
    assert seen == ids
    assert c.delete("/documentClassifiers/cls-0").status_code == 204
    missing = c.get("/documentClassifiers/cls-0")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"
    assert missing.json()["error"]["innererror"]["code"] == "ModelNotFound"
    assert c.delete("/documentClassifiers/cls-0").status_code == 404
    assert c.get("/documentModels/cls-1").status_code == 404  # classifiers are not models


def test_2023_07_31_has_classifiers_but_no_classifier_copy(cloud, src, west) -> None:
    c = client(src, "2023-07-31")
    r = build(c, "legacy", description="old")
    assert r.status_code == 202
    assert "/formrecognizer/operations/" in r.headers["Operation-Location"]
    cloud.advance(1)
    got = c.get("/documentClassifiers/legacy").json()
    assert list(got) == ["classifierId", "description", "createdDateTime", "expirationDateTime", "apiVersion",
                         "docTypes"]
    assert got["docTypes"]["invoice"] == TYPES["invoice"]  # no "kind" in 2023-07-31
    assert [x["classifierId"] for x in c.get("/documentClassifiers").json()["value"]] == ["legacy"]
    for method, path in (("POST", "/documentClassifiers:authorizeCopy"),
                         ("POST", "/documentClassifiers/legacy:copyTo")):
        refused = c.call(method, path, {"classifierId": "x"})
        assert (refused.status_code, refused.json()) == (404, ROUTE_404)
        assert "no classifier copy" in refused.headers["x-ms-emulator-detail"]
    assert c.delete("/documentClassifiers/legacy").status_code == 204
    older = client(src, "2022-08-31").get("/documentClassifiers")
    assert (older.status_code, older.json()) == (404, ROUTE_404)
    assert build(client(src, "2023-07-31"), "k", allowOverwrite=True).status_code == 400  # a 2024 field


# ---------------------------------------------------------------------------------------------- copy
def test_authorize_copy_gives_the_six_fields_for_one_hour(cloud, west) -> None:
    c = client(west, "2024-11-30")
    auth = authorize(c, "copy-1", tags={"testkey": "testvalue"})
    assert list(auth) == ["targetResourceId", "targetResourceRegion", "targetClassifierId",
                          "targetClassifierLocation", "accessToken", "expirationDateTime"]
    assert auth["targetResourceId"] == west.resource_id and auth["targetResourceRegion"] == "westus2"
    assert auth["targetClassifierLocation"] == (f"{west.endpoint}/documentintelligence/documentClassifiers/"
                                                "copy-1?api-version=2024-11-30")
    assert auth["expirationDateTime"] == iso_z(cloud.now() + 3600)
    west.seed_classifier("taken")
    conflict = c.post("/documentClassifiers:authorizeCopy", {"classifierId": "taken"})
    assert conflict.status_code == 409 and conflict.json()["error"]["innererror"]["code"] == "ModelExists"
    unknown = c.post("/documentClassifiers:authorizeCopy", {"classifierId": "x2", "modelId": "x2"})
    assert unknown.status_code == 400 and "'modelId'" in unknown.json()["error"]["innererror"]["message"]


def test_copy_is_an_operation_and_the_copy_keeps_what_the_service_keeps(cloud, src, west) -> None:
    source, target = client(src, "2024-11-30"), client(west, "2024-11-30")
    src.seed_classifier("splitter", description="IRS document classifier")
    original = source.get("/documentClassifiers/splitter").json()
    cloud.advance(600)
    auth = authorize(target, "splitter-dr", tags={"ignored": "yes"})
    r = copy_to(source, "splitter", auth)
    assert r.status_code == 202 and r.content == b"" and "Retry-After" not in r.headers
    op = r.headers["Operation-Location"]
    assert re.fullmatch(rf"{src.endpoint}/documentintelligence/operations/{OP_ID}\?api-version=2024-11-30", op)
    first = source.poll(op).json()
    assert (first["kind"], first["status"]) == ("documentClassifierCopyTo", "notStarted")
    assert first["resourceLocation"] == auth["targetClassifierLocation"] and "tags" not in first
    assert target.get("/documentClassifiers/splitter-dr").status_code == 404
    cloud.advance(2)
    done = source.poll(op).json()
    assert done["status"] == "succeeded"
    copied = done["result"]
    assert copied == target.get("/documentClassifiers/splitter-dr").json()
    assert copied["classifierId"] == "splitter-dr"
    assert copied["createdDateTime"] == done["createdDateTime"] != original["createdDateTime"]  # new: copy time
    for kept in ("modifiedDateTime", "expirationDateTime", "description", "docTypes", "apiVersion"):
        assert copied[kept] == original[kept], kept
    assert "tags" not in copied
    assert src.classifier("splitter") is not None  # the source stays


def test_authorize_description_replaces_the_source_description(cloud, src, west) -> None:
    src.seed_classifier("c1", description="source text")
    auth = authorize(client(west, "2024-11-30"), "c1-dr", description="target text")
    copy_to(client(src, "2024-11-30"), "c1", auth)
    cloud.advance(3)
    assert west.classifier("c1-dr")["description"] == "target text"


def test_classifier_copy_only_between_the_three_regions(four_regions) -> None:
    src, north = four_regions.resource("src"), four_regions.resource("north")
    src.seed_classifier("c1")
    north.seed_classifier("n1")
    to_north = copy_to(client(src, "2024-11-30"), "c1", authorize(client(north, "2024-11-30"), "c1-dr"))
    assert to_north.status_code == 400
    error = to_north.json()["error"]
    assert error["code"] == "InvalidRequest" and error["innererror"]["code"] == "UnsupportedRegion"
    assert "eastus, westus2, westeurope" in error["innererror"]["message"]
    from_north = copy_to(client(north, "2024-11-30"), "n1", authorize(client(src, "2024-11-30"), "n1-dr"))
    assert from_north.status_code == 400 and from_north.json()["error"]["innererror"]["code"] == "UnsupportedRegion"
    assert north.operations() == [] and src.operations() == []  # nothing started
    # models are not restricted
    north.seed_model("v3", "m1")
    ok = client(north, "2024-11-30").post("/documentModels/m1:copyTo", client(src, "2024-11-30").post(
        "/documentModels:authorizeCopy", {"modelId": "m1-dr"}).json())
    assert ok.status_code == 202


def test_failed_copies_behave_as_model_copies(cloud, src, west, cmk) -> None:
    source, target = client(src, "2024-11-30"), client(west, "2024-11-30")
    src.seed_classifier("c1")
    auth = authorize(target, "c1-dr")
    ok = copy_to(source, "c1", auth).headers["Operation-Location"]
    cloud.advance(3)
    assert source.poll(ok).json()["status"] == "succeeded"
    reused = copy_to(source, "c1", auth).headers["Operation-Location"]  # single use
    cloud.advance(3)
    assert source.poll(reused).json()["error"]["code"] == "2024"

    tampered = authorize(target, "c1-dr2")
    tampered["targetClassifierId"] = "elsewhere"
    failed = copy_to(source, "c1", tampered).headers["Operation-Location"]
    model_auth = target.post("/documentModels:authorizeCopy", {"modelId": "m-dr"}).json()
    as_classifier = {**{k.replace("Model", "Classifier"): v for k, v in model_auth.items()}}
    wrong_kind = copy_to(source, "c1", as_classifier).headers["Operation-Location"]
    cloud.advance(3)
    assert source.poll(failed).json()["error"]["code"] == "AuthorizationError"
    assert source.poll(wrong_kind).json()["error"]["code"] == "2024"  # a model's token copies no classifier
    assert sorted(c["classifierId"] for c in west.classifiers()) == ["c1-dr"]

    cmk.seed_classifier("secret")
    degrade = copy_to(client(cmk, "2024-11-30"), "secret", authorize(target, "secret-dr"))
    cloud.advance(3)
    assert client(cmk, "2024-11-30").poll(degrade.headers["Operation-Location"]).json()["error"]["code"] == \
        "DataProtectionTransformServiceError"

    missing = copy_to(source, "ghost", authorize(target, "ghost-dr"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"


def test_copy_behaviours_apply_to_classifier_copies(cloud, src, west) -> None:
    source, target = client(src, "2024-11-30"), client(west, "2024-11-30")
    src.seed_classifier("c1")
    src.set_copy_behaviour("expire_authorization")
    auth = authorize(target, "c1-dr")
    expired = copy_to(source, "c1", auth)
    assert expired.status_code == 400 and expired.json()["error"]["innererror"]["code"] == "AuthorizationExpired"

    src.set_copy_behaviour("fail_3013")
    op = copy_to(source, "c1", auth).headers["Operation-Location"]  # not consumed by the expiry above
    cloud.advance(3)
    error = source.poll(op).json()["error"]
    assert (error["code"], error["innererror"]["code"]) == ("Timeout", "3013")
    leftover = target.get("/documentClassifiers/c1-dr").json()
    assert leftover["docTypes"] == {} and leftover["warnings"][0]["code"] == "ClassifierCopyIncomplete"
    assert target.post("/documentClassifiers:authorizeCopy", {"classifierId": "c1-dr"}).status_code == 409
    assert target.delete("/documentClassifiers/c1-dr").status_code == 204

    west.set_copy_behaviour("never_finish")  # the target's queue when the source has none
    stuck = copy_to(source, "c1", authorize(target, "c1-dr")).headers["Operation-Location"]
    cloud.advance(3600)
    assert source.poll(stuck).json()["status"] == "running"
    assert target.get("/documentClassifiers/c1-dr").status_code == 404

    src.set_copy_behaviour("fail", code="AuthorizationError")
    failed = copy_to(source, "c1", authorize(target, "c1-other")).headers["Operation-Location"]
    cloud.advance(3)
    assert source.poll(failed).json()["error"]["code"] == "AuthorizationError"


def test_rate_limits_and_faults_cover_classifier_operations(cloud, src, west) -> None:
    c = client(src, "2024-11-30")
    src.set_rate_limits(manage=1)
    src.seed_classifier("c1")
    assert build(c, "c2").status_code == 202
    throttled = copy_to(c, "c1", authorize(client(west, "2024-11-30"), "c1-dr"))
    assert throttled.status_code == 429
    assert throttled.headers["apim-operation-name"] == "Manage+-+Copy+classifier"
    assert "Manage - Copy classifier" in throttled.json()["error"]["message"]
    cloud.advance(1)
    src.fail_next("getClassifier", kind="5xx", status=503)
    assert c.get("/documentClassifiers/c1").status_code == 503
    assert c.get("/documentClassifiers/c1").status_code == 200
    counts = src.request_counts()
    assert counts["buildClassifier"] == 1 and counts["copyClassifier"] == 1 and counts["getClassifier"] == 2


def test_control_api_seeds_and_lists_classifiers(src) -> None:
    import requests

    control = f"{src.endpoint}/_emulator/classifiers"
    made = requests.post(control, json={"classifierId": "fixture", "description": "d", "docTypes": ["a", "b"]},
                         timeout=5)
    assert made.status_code == 200 and made.json()["classifierId"] == "fixture"
    assert sorted(made.json()["docTypes"]) == ["a", "b"]
    listed = requests.get(control, timeout=5).json()["classifiers"]
    assert [c["classifierId"] for c in listed] == ["fixture"]
    bad = requests.post(control, json={"classifierId": "fixture"}, timeout=5)
    assert bad.status_code == 400 and "already exists" in bad.json()["error"]
    unknown = requests.post(control, json={"tags": {}}, timeout=5)
    assert unknown.status_code == 400 and "unknown field" in unknown.json()["error"]
    got = client(src, "2024-11-30").get("/documentClassifiers/fixture").json()
    assert got["description"] == "d" and got["docTypes"]["a"]["kind"] == "azureBlob"


def test_a_dropped_answer_still_starts_the_classifier_copy(cloud, src, west) -> None:
    """Lost answers: the copy POST takes effect although the client sees the connection cut."""
    import requests

    source = client(src, "2024-11-30")
    src.seed_classifier("c1")
    auth = authorize(client(west, "2024-11-30"), "c1-dr")
    src.fail_next("copyClassifier", kind="drop")
    with pytest.raises(requests.exceptions.RequestException):
        copy_to(source, "c1", auth)
    ops = source.get("/operations").json()["value"]
    assert [o["kind"] for o in ops] == ["documentClassifierCopyTo"]
    cloud.advance(3)
    assert west.classifier("c1-dr") is not None
    again = copy_to(source, "c1", auth).headers["Operation-Location"]  # a blind retry: the authorization is spent
    cloud.advance(3)
    assert source.poll(again).json()["error"]["code"] == "2024"


def test_a_classifier_created_on_the_target_meanwhile_fails_the_copy(cloud, src, west) -> None:
    source = client(src, "2024-11-30")
    src.seed_classifier("c1")
    op = copy_to(source, "c1", authorize(client(west, "2024-11-30"), "c1-dr")).headers["Operation-Location"]
    west.seed_classifier("c1-dr", description="made meanwhile")
    cloud.advance(3)
    error = source.poll(op).json()["error"]
    assert (error["code"], error["innererror"]["code"]) == ("Conflict", "ModelExists")
    assert "A classifier with the provided name" in error["message"]
    assert west.classifier("c1-dr")["description"] == "made meanwhile"  # untouched
