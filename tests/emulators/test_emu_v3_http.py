"""2022-08-31, 2023-07-31 and 2024-11-30 over plain HTTP: lifecycle, operations, the copy flow's states."""

from __future__ import annotations

import re

from emu_helpers import client, v3_authorize, v3_copy

WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
BUILD = {"buildMode": "template", "azureBlobSource": {"containerUrl": "https://example.blob.core.windows.net/c"}}


def _prefix(api: str) -> str:
    return "documentintelligence" if api == "2024-11-30" else "formrecognizer"


def test_build_is_an_operation_and_the_model_appears_when_it_succeeds(cloud, src, v3) -> None:
    c = client(src, v3)
    r = c.post("/documentModels:build", {"modelId": "invoices", "description": "d", **BUILD})
    assert r.status_code == 202 and r.content == b""
    op = r.headers["Operation-Location"]
    assert re.fullmatch(rf"{src.endpoint}/{_prefix(v3)}/operations/\d{{11}}_[0-9a-f-]{{36}}\?api-version={v3}", op)
    first = c.poll(op).json()
    assert first["status"] == "notStarted" and first["kind"] == "documentModelBuild"
    assert c.get("/documentModels/invoices").status_code == 404
    cloud.advance(1.0)
    done = c.poll(op).json()
    assert done["status"] == "succeeded" and done["percentCompleted"] == 100
    assert done["result"]["modelId"] == "invoices" and "invoices" in done["result"]["docTypes"]
    assert all(WHOLE_SECONDS.match(done[k]) for k in ("createdDateTime", "lastUpdatedDateTime"))
    model = c.get("/documentModels/invoices").json()
    assert model == done["result"]
    assert ("expirationDateTime" in model) == (v3 != "2022-08-31")
    assert ("apiVersion" in done) == (v3 == "2024-11-30")


def test_build_rejects_bad_input_and_existing_ids(src, v3) -> None:
    c = client(src, v3)
    bad_id = c.post("/documentModels:build", {"modelId": "x", **BUILD})
    assert bad_id.status_code == 400 and "'modelId'" in bad_id.json()["error"]["innererror"]["message"]
    no_source = c.post("/documentModels:build", {"modelId": "abc", "buildMode": "template"})
    assert no_source.status_code == 400 and no_source.json()["error"]["innererror"]["code"] == "ParameterMissing"
    src.seed_model("v3", "taken")
    conflict = c.post("/documentModels:build", {"modelId": "taken", **BUILD})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "Conflict"
    assert conflict.json()["error"]["innererror"]["code"] == "ModelExists"


def test_compose_in_v3_and_v4_shapes(cloud, src, v3) -> None:
    c = client(src, v3)
    src.seed_model("v3", "part-a")
    src.seed_model("v3", "part-b")
    if v3 == "2024-11-30":
        src.seed_classifier("splitter")
        body = {"modelId": "both", "classifierId": "splitter",
                "docTypes": {"a": {"modelId": "part-a"}, "b": {"modelId": "part-b"}}}
    else:
        body = {"modelId": "both", "componentModels": [{"modelId": "part-a"}, {"modelId": "part-b"}]}
    r = c.post("/documentModels:compose", body)
    assert r.status_code == 202, r.text
    cloud.advance(1.0)
    done = c.poll(r.headers["Operation-Location"]).json()
    assert done["kind"] == "documentModelCompose" and done["status"] == "succeeded"
    expected = {"a", "b"} if v3 == "2024-11-30" else {"part-a", "part-b"}
    assert set(done["result"]["docTypes"]) == expected


def test_list_pages_info_counts_and_delete(cloud, src, v3) -> None:
    src.settings.page_size = 2
    c = client(src, v3)
    names = [src.seed_model("v3", f"model-{i}") for i in range(5)]
    seen, url = [], c.url("/documentModels")
    while url:
        body = c.poll(url).json()
        assert all("docTypes" not in m for m in body["value"])  # summaries
        seen += [m["modelId"] for m in body["value"]]
        url = body.get("nextLink")
    assert seen == names
    info = c.get("/info").json()
    assert info["customDocumentModels"] == {"count": 5, "limit": 5000}
    assert ("customNeuralDocumentModelBuilds" in info) == (v3 == "2023-07-31")
    assert c.delete("/documentModels/model-0").status_code == 204
    missing = c.get("/documentModels/model-0")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "NotFound", "message": "Resource not found.", "innererror": {
        "code": "ModelNotFound", "message": "The requested model was not found."}}}


def test_operations_list_get_and_24_hour_retention(cloud, src, v3) -> None:
    c = client(src, v3)
    op = c.post("/documentModels:build", {"modelId": "kept", **BUILD}).headers["Operation-Location"]
    listed = c.get("/operations").json()["value"]
    assert [o["operationId"] for o in listed] == [op.split("/operations/")[1].split("?")[0]]
    assert "result" not in listed[0]
    cloud.advance(24 * 3600 - 1)
    assert c.poll(op).json()["status"] == "succeeded"
    cloud.advance(2)
    gone = c.poll(op)
    assert gone.status_code == 404 and gone.json()["error"]["innererror"]["code"] == "OperationNotFound"
    assert c.get("/operations").json()["value"] == []


def test_authorize_copy_fields_one_hour_and_409_when_the_id_exists(clock, west, v3) -> None:
    c = client(west, v3)
    auth = v3_authorize(c, "target-model", description="copied", tags={"k": "v"})
    assert list(auth) == ["targetResourceId", "targetResourceRegion", "targetModelId", "targetModelLocation",
                          "accessToken", "expirationDateTime"]
    assert auth["targetResourceId"] == west.resource_id and auth["targetResourceRegion"] == "westus2"
    assert auth["targetModelLocation"] == f"{west.endpoint}/{_prefix(v3)}/documentModels/target-model?api-version={v3}"
    assert WHOLE_SECONDS.match(auth["expirationDateTime"])
    from emulators.docintel.state import iso_z

    assert auth["expirationDateTime"] == iso_z(clock.time() + 3600)
    west.seed_model("v3", "existing")
    conflict = c.post("/documentModels:authorizeCopy", {"modelId": "existing"})
    assert conflict.status_code == 409 and conflict.json()["error"]["innererror"]["code"] == "ModelExists"


def test_copy_operation_states_and_result_keep_the_source_fields(cloud, src, west, v3) -> None:
    source, target = client(src, v3), client(west, v3)
    src.seed_model("v3", "source-model", description="orig", tags={"a": "1"}, api_version=v3)
    cloud.advance(100)
    auth = v3_authorize(target, "copy-1", tags={"k": "v"})
    r = v3_copy(source, "source-model", auth)
    assert r.status_code == 202
    op = r.headers["Operation-Location"]
    assert op.startswith(f"{src.endpoint}/{_prefix(v3)}/operations/")
    states = [source.poll(op).json()]
    cloud.advance(1)
    states.append(source.poll(op).json())
    assert target.get("/documentModels/copy-1").status_code == 404
    cloud.advance(1)
    states.append(source.poll(op).json())
    assert [s["status"] for s in states] == ["notStarted", "running", "succeeded"]
    assert all("percentCompleted" not in s for s in states[:2])
    done = states[-1]
    assert list(done)[:6] == ["operationId", "kind", "status", "createdDateTime", "lastUpdatedDateTime",
                              "resourceLocation"]
    assert done["kind"] == "documentModelCopyTo" and done["resourceLocation"] == auth["targetModelLocation"]
    original = source.get("/documentModels/source-model").json()
    assert done["result"]["createdDateTime"] == original["createdDateTime"]
    assert done["result"]["tags"] == {"k": "v"} and done["result"]["description"] == "orig"
    assert target.get("/documentModels/copy-1").json() == done["result"]


def test_sdk_style_millisecond_expiry_is_accepted(cloud, src, west) -> None:
    source, target = client(src, "2023-07-31"), client(west, "2023-07-31")
    src.seed_model("v3", "m1")
    auth = v3_authorize(target, "m1-copy")
    auth["expirationDateTime"] = auth["expirationDateTime"].replace("Z", ".000Z")  # formrecognizer re-serialises
    op = v3_copy(source, "m1", auth).headers["Operation-Location"]
    cloud.advance(3)
    assert source.poll(op).json()["status"] == "succeeded"
