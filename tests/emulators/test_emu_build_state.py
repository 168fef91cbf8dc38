"""A v3+ model being built: invisible (404) until its build succeeds, listed as a running build operation; a
build that fails leaves no model and carries its error in the operation."""

from __future__ import annotations

from emu_helpers import client


def build(c, model_id: str):
    r = c.post("/documentModels:build", {"modelId": model_id, "buildMode": "template",
                                         "azureBlobSource": {"containerUrl": "https://contoso.blob.core.windows.net/t"}})
    assert r.status_code == 202, r.text
    return r.headers["Operation-Location"]


def listed(c, model_id: str) -> list[dict]:
    r = c.get("/operations")
    assert r.status_code == 200, r.text
    return [op for op in r.json()["value"] if op["resourceLocation"].split("?")[0].endswith(f"/{model_id}")]


def test_a_model_being_built_is_404_and_its_build_is_listed_as_running(cloud, src, v3):
    c = client(src, v3)
    build(c, "in-progress")
    cloud.advance(0.6)
    assert c.get("/documentModels/in-progress").status_code == 404
    (op,) = listed(c, "in-progress")
    assert op["kind"] == "documentModelBuild" and op["status"] == "running"
    cloud.advance(120)
    assert c.get("/documentModels/in-progress").status_code == 200
    assert listed(c, "in-progress")[0]["status"] == "succeeded"


def test_a_failed_build_leaves_no_model_and_reports_its_error(cloud, src, v3):
    c = client(src, v3)
    src.fail_next_builds(1)
    location = build(c, "broken")
    cloud.advance(120)
    body = c.poll(location).json()
    assert body["status"] == "failed" and body["error"]["innererror"]["code"] == "TrainingContentMissing"
    assert c.get("/documentModels/broken").status_code == 404
    assert listed(c, "broken")[0]["status"] == "failed"
    build(c, "fine")  # only the next build fails
    cloud.advance(120)
    assert c.get("/documentModels/fine").status_code == 200
