"""v2.0 / v2.1 over plain HTTP: model lifecycle and the copy flow's states, on a frozen clock."""

from __future__ import annotations

import re

from emu_helpers import client, v2_authorize, v2_copy

BLOB = {"source": "https://example.blob.core.windows.net/forms?sig=x"}


def test_train_goes_from_creating_to_ready_on_the_clock(cloud, src, v2) -> None:
    c = client(src, v2)
    r = c.post("/custom/models", {**BLOB, "useLabelFile": True})
    assert r.status_code == 201 and r.content == b""
    location = r.headers["Location"]
    assert re.fullmatch(rf"{src.endpoint}/formrecognizer/{v2}/custom/models/[0-9a-f-]{{36}}", location)
    first = c.poll(location).json()
    assert first["modelInfo"]["status"] == "creating" and set(first) == {"modelInfo"}
    cloud.advance(1.0)
    ready = c.poll(location).json()
    assert ready["modelInfo"]["status"] == "ready"
    assert ready["trainResult"]["fields"] and ready["trainResult"]["averageModelAccuracy"] == 0.96


def test_train_rejects_a_bad_body_naming_the_field(src, v2) -> None:
    c = client(src, v2)
    missing = c.post("/custom/models", {"useLabelFile": True})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "1002" and "'source'" in missing.json()["error"]["message"]
    unknown = c.post("/custom/models", {**BLOB, "sorce": "x"})
    assert unknown.status_code == 400 and "'sorce'" in unknown.json()["error"]["message"]


def test_model_name_only_exists_in_v2_1(src) -> None:
    assert client(src, "v2.0").post("/custom/models", {**BLOB, "modelName": "x"}).status_code == 400
    r = client(src, "v2.1").post("/custom/models", {**BLOB, "modelName": "x"})
    info = client(src, "v2.1").poll(r.headers["Location"]).json()["modelInfo"]
    assert list(info) == ["modelId", "modelName", "attributes", "status", "createdDateTime", "lastUpdatedDateTime"]


def test_list_pages_with_next_link_and_summary_counts(cloud, clock) -> None:
    cloud.resource("src").settings.page_size = 2
    src = cloud.resource("src")
    ids = {src.seed_model("v2") for _ in range(5)}
    c = client(src, "v2.1")
    seen, url, pages = [], c.url("/custom/models?op=full"), 0
    while url:
        body = c.poll(url).json()
        assert list(body) == ["summary", "modelList", "nextLink"]
        assert (body["summary"]["count"], body["summary"]["limit"]) == (5, 5000)
        seen += [m["modelId"] for m in body["modelList"]]
        url, pages = body["nextLink"], pages + 1
    assert set(seen) == ids and len(seen) == 5 and pages == 3
    summary = c.get("/custom/models?op=summary").json()
    assert list(summary) == ["summary"] and summary["summary"]["count"] == 5


def test_compose_is_v2_1_only_and_needs_labeled_ready_models(cloud, src) -> None:
    labeled = [src.seed_model("v2", labeled=True) for _ in range(2)]
    unlabeled = src.seed_model("v2", labeled=False)
    assert client(src, "v2.0").post("/custom/models/compose", {"modelIds": labeled}).status_code == 404
    c = client(src, "v2.1")
    refused = c.post("/custom/models/compose", {"modelIds": [labeled[0], unlabeled]})
    assert refused.status_code == 400 and unlabeled in refused.json()["error"]["message"]
    missing = c.post("/custom/models/compose", {"modelIds": ["00000000-0000-0000-0000-000000000001"]})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "1022"
    r = c.post("/custom/models/compose", {"modelIds": labeled, "modelName": "both"})
    assert r.status_code == 201
    cloud.advance(1)
    body = c.poll(r.headers["Location"]).json()
    assert body["modelInfo"]["attributes"] == {"isComposed": True}
    assert [t["modelId"] for t in body["composedTrainResults"]] == labeled


def test_delete_then_get_is_404_1022(src, v2) -> None:
    c = client(src, v2)
    model_id = src.seed_model("v2")
    assert c.delete(f"/custom/models/{model_id}").status_code == 204
    gone = c.get(f"/custom/models/{model_id}")
    assert gone.status_code == 404
    assert gone.json() == {"error": {"code": "1022", "message": f"Model with 'id={model_id}' not found."}}
    assert c.delete(f"/custom/models/{model_id}").status_code == 404


def test_copy_runs_not_started_running_succeeded_and_the_target_appears_only_then(cloud, src, west, v2) -> None:
    source, target = client(src, v2), client(west, v2)
    model_id = src.seed_model("v2", model_name="invoices")
    cloud.advance(10)
    auth = v2_authorize(target)
    assert list(auth) == ["modelId", "accessToken", "expirationDateTimeTicks"]
    r = v2_copy(source, model_id, west, auth)
    assert r.status_code == 202 and r.content == b""
    op = r.headers["Operation-Location"]
    assert op.startswith(f"{src.endpoint}/formrecognizer/{v2}/custom/models/{model_id}/copyresults/")

    states = [source.poll(op).json()]
    cloud.advance(1.0)
    states.append(source.poll(op).json())
    assert target.get(f"/custom/models/{auth['modelId']}").status_code == 404  # not before success
    cloud.advance(1.0)
    states.append(source.poll(op.replace("copyresults", "copyResults")).json())  # case-insensitive
    assert [s["status"] for s in states] == ["notStarted", "running", "succeeded"]
    assert all(s["copyResult"] == {"modelId": auth["modelId"]} for s in states)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", states[-1]["createdDateTime"])

    copied = target.get(f"/custom/models/{auth['modelId']}").json()
    original = source.get(f"/custom/models/{model_id}").json()
    assert copied["modelInfo"]["status"] == "ready"
    assert copied["modelInfo"]["createdDateTime"] == original["modelInfo"]["createdDateTime"]
    assert copied["modelInfo"]["lastUpdatedDateTime"] == original["modelInfo"]["lastUpdatedDateTime"]
    assert copied["trainResult"] == original["trainResult"]
    if v2 == "v2.1":
        assert copied["modelInfo"]["modelName"] == "invoices"


def test_copy_results_are_kept_24_hours_then_404(cloud, src, west) -> None:
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    op = v2_copy(source, model_id, west, v2_authorize(target)).headers["Operation-Location"]
    cloud.advance(24 * 3600 - 1)
    assert source.poll(op).json()["status"] == "succeeded"
    cloud.advance(2)
    gone = source.poll(op)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "1022"


def test_authorization_lasts_24_hours_and_uses_unix_seconds(cloud, clock, west) -> None:
    auth = v2_authorize(client(west, "v2.1"))
    assert auth["expirationDateTimeTicks"] == int(clock.time()) + 24 * 3600
    assert re.fullmatch(r"[0-9a-f-]{36}", auth["modelId"])
