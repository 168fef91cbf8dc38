"""The emulator's responses against real recorded traffic (tests/recordings/).

Compared: status codes, field names and their order, the header set that matters (names; values where
they are not per-request), exact error bodies. Recorded values that the test sanitizers rewrote
(endpoints, resource ids, tokens, an injected "accessToken" in 2020 bodies) are not compared.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import requests
from emu_helpers import (
    client,
    load_json_recording,
    load_yaml_recording,
    ordered_subset,
    recordings_dir,
    v2_authorize,
    v2_copy,
    v3_authorize,
)

VOLATILE = {"date", "content-length", "transfer-encoding", "server"}
OP_ID = r"\d{11}_[0-9a-f-]{36}"


def names(headers) -> set[str]:
    return {k.lower() for k in headers} - VOLATILE


def keys(body) -> list[str]:
    return [k for k in body if k != "accessToken"] if isinstance(body, dict) else []


def test_v2_1_successful_copy_matches_the_recorded_exchange(cloud, src, west) -> None:
    rec = load_yaml_recording("v2.1-preview.3__test_copy_model.test_copy_model_successful.yaml")
    source, target = client(src, "v2.1"), client(west, "v2.1")
    ours = []
    train = source.post("/custom/models", {"source": "https://x/y", "sourceFilter": {"prefix": "",
                                                                                      "includeSubFolders": False},
                                           "useLabelFile": False})
    ours.append(train)
    ours.append(source.poll(train.headers["Location"] + "?includeKeys=true"))
    cloud.advance(1)
    ours.append(source.poll(train.headers["Location"] + "?includeKeys=true"))
    model_id = train.headers["Location"].rsplit("/", 1)[1]
    auth_response = target.post("/custom/models/copyAuthorization")
    ours.append(auth_response)
    copy = v2_copy(source, model_id, west, auth_response.json())
    ours.append(copy)
    ours.append(source.poll(copy.headers["Operation-Location"]))
    cloud.advance(3)
    ours.append(source.poll(copy.headers["Operation-Location"]))
    ours.append(target.poll(f"{target.base}/custom/models/{auth_response.json()['modelId']}?includeKeys=true"))

    recorded = [rec[0], rec[1], rec[4], rec[5], rec[6], rec[7], rec[9], rec[10]]
    for mine, real in zip(ours, recorded, strict=True):
        assert mine.status_code == real["status"], real["uri"]
        assert names(real["headers"]) <= names(mine.headers), (real["uri"], names(mine.headers))
        if isinstance(real["body"], dict):
            body = mine.json()
            assert ordered_subset(keys(real["body"]), list(body)), (real["uri"], keys(real["body"]), list(body))
            if "modelInfo" in real["body"]:
                assert ordered_subset(list(real["body"]["modelInfo"]), list(body["modelInfo"]))
        else:
            assert mine.content == b""
    # Location / Operation-Location forms and the compact 36-char-token authorization (Content-Length 140)
    assert re.search(r"/custom/models/[0-9a-f-]{36}/copyresults/[0-9a-f-]{36}$", ours[4].headers["Operation-Location"])
    assert ours[3].headers["Location"].endswith(f"/custom/models/{auth_response.json()['modelId']}")
    assert ours[3].headers["Content-Length"] == real_len(rec[5]) == "140"
    assert ours[5].headers["Content-Length"] == real_len(rec[7]) == "173"  # notStarted copyResults, compact


def real_len(entry) -> str:
    return entry["headers"]["content-length"]


def test_v2_1_failed_copy_matches_the_recording(cloud, src, west) -> None:
    rec = load_yaml_recording("v2.1-preview.3__test_copy_model.test_copy_model_fail.yaml")
    real = rec[-1]
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    copy = v2_copy(source, model_id, west, v2_authorize(target), region="eastus")  # as recorded: wrong region
    cloud.advance(3)
    mine = source.poll(copy.headers["Operation-Location"])
    assert mine.status_code == real["status"] == 200
    assert names(real["headers"]) <= names(mine.headers)
    assert mine.headers["ms-azure-ai-errorcode"] == real["headers"]["ms-azure-ai-errorcode"] == "2024"
    body, expected = mine.json(), real["body"]
    assert keys(body) == keys(expected)
    assert list(body["copyResult"]) == list(expected["copyResult"])
    mine_error, real_error = body["copyResult"]["errors"][0], expected["copyResult"]["errors"][0]
    assert list(mine_error) == list(real_error) and mine_error["message"] == real_error["message"]
    assert list(mine_error["innerError"]) == list(real_error["innerError"]) == ["requestId"]


def test_v2_unknown_model_404_matches(src, west) -> None:
    rec = load_yaml_recording("v2.1-preview.3__test_copy_model.test_copy_model_fail_bad_model_id.yaml")
    real = next(e for e in rec if e["status"] == 404)
    ghost = "00000000-0000-0000-0000-000000000000"
    mine = v2_copy(client(src, "v2.1"), ghost, west, v2_authorize(client(west, "v2.1")))
    assert (mine.status_code, mine.json()) == (real["status"], real["body"])
    assert names(real["headers"]) <= names(mine.headers)
    assert mine.headers["Content-Type"] == real["headers"]["content-type"]


def test_2022_08_31_build_authorize_and_404_match(cloud, src, west) -> None:
    rec = load_json_recording(
        "2022-08-31__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_model_fail_bad_model_id.json")
    source, target = client(src, "2022-08-31"), client(west, "2022-08-31")
    build = source.post("/documentModels:build", {"modelId": "built", "buildMode": "template",
                                                  "azureBlobSource": {"containerUrl": "https://x/y"}})
    cloud.advance(2)
    op = source.poll(build.headers["Operation-Location"])
    auth = target.post("/documentModels:authorizeCopy", {"modelId": "cd6f12fa"})
    missing = source.post("/documentModels/00000000-0000-0000-0000-000000000000:copyTo", auth.json())
    for mine, real in zip([build, op, auth, missing], rec, strict=True):
        assert mine.status_code == real["status"]
        assert names(real["headers"]) <= names(mine.headers), real["uri"]
    assert keys(op.json()) == keys(rec[1]["body"])
    assert list(op.json()["result"]) == list(rec[1]["body"]["result"])  # docTypes, modelId, createdDateTime, apiVersion
    assert list(op.json()["result"]["docTypes"]["built"]) == list(rec[1]["body"]["result"]["docTypes"][
        "5abcacc9-4cf3-49dc-ba17-bf85230876bc"])
    assert list(auth.json()) == list(rec[2]["body"])
    assert missing.json() == rec[3]["body"]
    assert missing.headers["Content-Type"] == rec[3]["headers"]["Content-Type"] == "application/json"


def test_v3_copy_operation_bodies_match_the_2023_recording(cloud, src, west) -> None:
    rec = load_json_recording(
        "2023-02-28-preview__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_model_successful.json")
    real_copy, real_start, real_done = rec[4], rec[5], rec[6]
    source, target = client(src, "2023-07-31"), client(west, "2023-07-31")
    src.seed_model("v3", "source-model")
    auth = v3_authorize(target, "target-model", tags={"testkey": "testvalue"})
    copy = source.post("/documentModels/source-model:copyTo", auth)
    assert copy.status_code == real_copy["status"] == 202
    assert names(real_copy["headers"]) <= names(copy.headers)
    started = source.poll(copy.headers["Operation-Location"])
    cloud.advance(3)
    done = source.poll(copy.headers["Operation-Location"])
    assert list(started.json()) == list(real_start["body"])
    assert list(done.json()) == list(real_done["body"])
    assert list(done.json()["result"]) == list(real_done["body"]["result"])
    assert done.json()["result"]["tags"] == real_done["body"]["result"]["tags"]
    assert re.fullmatch(r"\d{11}_[0-9a-f-]{36}", done.json()["operationId"])
    assert names(real_done["headers"]) <= names(done.headers)


def test_2023_07_31_authorization_is_one_hour_like_the_recording(clock, west) -> None:
    real = load_json_recording(
        "2023-07-31__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_authorization.json")[0]
    issued = datetime.strptime(real["headers"]["Date"], "%a, %d %b %Y %H:%M:%S GMT").timestamp()
    expires = datetime.strptime(real["body"]["expirationDateTime"], "%Y-%m-%dT%H:%M:%SZ").timestamp()
    assert abs(expires - issued - 3600) <= 2
    response = client(west, "2023-07-31").post("/documentModels:authorizeCopy", {"modelId": "abc"})
    mine = response.json()
    assert list(mine) == list(real["body"])
    mine_expires = datetime.strptime(mine["expirationDateTime"], "%Y-%m-%dT%H:%M:%SZ").timestamp()
    mine_date = datetime.strptime(response.headers["Date"], "%a, %d %b %Y %H:%M:%S GMT").timestamp()
    assert mine_expires - mine_date == 3600  # the Date header follows the emulator clock too
    assert names(real["headers"]) <= names(response.headers)


def test_429_matches_the_recorded_throttle(src, west) -> None:
    rec = load_json_recording("2024-02-29-preview__documentintelligence__test_dmac_copy_model."
                              "pyTestCopyModelAsynctest_copy_model_successful_with_429s.json")
    real = next(e for e in rec if e["status"] == 429)
    src.set_rate_limits(manage=1)
    src.seed_model("v3", "mdl")
    auth = v3_authorize(client(west, "2024-11-30"), "dst")
    c = client(src, "2024-11-30")
    assert c.post("/documentModels/mdl:copyTo", auth).status_code == 202
    mine = c.post("/documentModels/mdl:copyTo", auth)
    assert mine.status_code == 429
    assert names(mine.headers) == names(real["headers"])
    assert mine.headers["apim-operation-name"] == real["headers"]["apim-operation-name"] == "Manage+-+Copy+model"
    pattern = (r"Requests to the (.+) Operation under (.+) have exceeded call rate limit of your current "
               r"FormRecognizer (F0|S0) pricing tier\. Please retry after (\d+) seconds\. .+")
    assert re.fullmatch(pattern, real["body"]["error"]["message"])
    found = re.fullmatch(pattern, mine.json()["error"]["message"])
    assert found and found.group(1) == "Manage - Copy model" and found.group(4) == mine.headers["Retry-After"]
    assert mine.headers["Content-Type"] == real["headers"]["Content-Type"] == "application/json"


def test_v4_operation_body_carries_api_version_last_like_the_recording(cloud, src, west) -> None:
    rec = load_json_recording("2024-02-29-preview__documentintelligence__test_dmac_copy_model."
                              "pyTestCopyModelAsynctest_copy_model_successful_with_429s.json")
    real = next(e for e in rec if isinstance(e["body"], dict) and e["body"].get("kind") == "documentModelCopyTo")
    src.seed_model("v3", "mdl")
    c = client(src, "2024-11-30")
    op = c.post("/documentModels/mdl:copyTo", v3_authorize(client(west, "2024-11-30"), "dst"))
    cloud.advance(3)
    done = c.poll(op.headers["Operation-Location"]).json()
    assert list(done) == list(real["body"])
    assert done["apiVersion"] == "2024-11-30"


def test_route_404_and_401_are_byte_faithful(src) -> None:
    route = load_json_recording("2024-07-31-preview__documentintelligence__test_dmac_copy_model."
                                "pyTestCopyModelAsynctest_copy_model_empty_model_id.json")[0]
    mine = client(src, "2024-11-30").post("/documentModels/:copyTo", {})
    assert (mine.status_code, mine.json()) == (route["status"], route["body"])
    # the recorded gateway 404 is one byte longer than its compact JSON (55); which byte is not recorded
    assert int(mine.headers["Content-Length"]) == int(route["headers"]["Content-Length"]) - 1
    assert names(mine.headers) - {"x-ms-emulator-detail"} == names(route["headers"])
    bad_key = load_json_recording("2023-02-28-preview__formrecognizer__test_dac_analyze_prebuilts."
                                  "pyTestDACAnalyzePrebuiltstest_authentication_bad_key_401.json")[0]
    denied = requests.get(f"{src.endpoint}/formrecognizer/documentModels?api-version=2023-07-31",
                          headers={"Ocp-Apim-Subscription-Key": "nope"}, timeout=5)
    assert (denied.status_code, denied.json()) == (401, bad_key["body"])
    assert denied.headers["Content-Length"] == bad_key["headers"]["Content-Length"] == "224"
    assert names(denied.headers) == names(bad_key["headers"])


CLASSIFIER_RECORDING = ("2024-11-30__documentintelligence__test_dmac_copy_classifier."
                        "pyTestCopyClassifiertest_copy_classifier_successful.json")
COMPOSE_RECORDING = ("2024-07-31-preview__net-documentintelligence__DocumentModelAdministrationLiveTests."
                     "ComposeModel.excerpt.json")


def request_bodies(name: str) -> list:
    return [e["RequestBody"] for e in json.loads((recordings_dir() / name).read_text(encoding="utf-8"))["Entries"]]


def http_date(value: str) -> float:
    return datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC).timestamp()


def iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_classifier_build_copy_and_gets_match_the_2024_11_30_recording(cloud, src, west) -> None:
    rec, sent = load_json_recording(CLASSIFIER_RECORDING), request_bodies(CLASSIFIER_RECORDING)
    real_build, real_start, real_running, real_done, real_get = rec[0], rec[1], rec[2], rec[16], rec[17]
    real_auth, real_copy, real_copy_start, real_copy_done, real_copy_get = rec[18:23]
    assert real_get["body"] == real_done["body"]["result"]  # the recording's own relations, checked on ours below
    assert real_copy_done["body"]["result"]["createdDateTime"] == real_copy_done["body"]["createdDateTime"]
    for kept in ("modifiedDateTime", "expirationDateTime", "description", "docTypes"):
        assert real_copy_get["body"][kept] == real_get["body"][kept]
    assert real_copy_get["body"]["createdDateTime"] != real_get["body"]["createdDateTime"]
    source, target = client(src, "2024-11-30"), client(west, "2024-11-30")

    build = source.post("/documentClassifiers:build", sent[0])  # the recorded request body
    assert build.status_code == real_build["status"] == 202 and build.content == b""
    assert names(real_build["headers"]) <= names(build.headers)
    op = build.headers["Operation-Location"]
    assert re.search(rf"/operations/{OP_ID}\?api-version=2024-11-30$", real_build["headers"]["operation-location"])
    assert re.search(rf"/operations/{OP_ID}\?api-version=2024-11-30$", op)
    started = source.poll(op)
    cloud.advance(0.5)
    running = source.poll(op)
    cloud.advance(1)
    done = source.poll(op)
    for mine, real in ((started, real_start), (running, real_running), (done, real_done)):
        assert mine.status_code == real["status"] == 200
        assert list(mine.json()) == list(real["body"]), real["body"]["status"]
        assert {k: mine.json()[k] for k in ("kind", "status")} == {k: real["body"][k] for k in ("kind", "status")}
        assert names(real["headers"]) <= names(mine.headers)
    assert running.json()["percentCompleted"] == real_running["body"]["percentCompleted"] == 0
    result, real_result = done.json()["result"], real_done["body"]["result"]
    assert list(result) == list(real_result)
    assert list(result["docTypes"]) == list(real_result["docTypes"])
    assert result["docTypes"] == real_result["docTypes"]  # kind + azureBlobSource, values as sent
    assert result["description"] == real_result["description"]
    assert iso(result["expirationDateTime"]) - iso(result["createdDateTime"]) == \
        iso(real_result["expirationDateTime"]) - iso(real_result["createdDateTime"])  # two years
    got = source.get(f"/documentClassifiers/{sent[0]['classifierId']}")
    assert got.json() == result and names(real_get["headers"]) <= names(got.headers)

    cloud.advance(60)
    auth = target.post("/documentClassifiers:authorizeCopy", sent[18])
    assert auth.status_code == real_auth["status"] == 200
    assert list(auth.json()) == list(real_auth["body"])
    assert names(real_auth["headers"]) <= names(auth.headers)
    for headers, body in ((auth.headers, auth.json()), (real_auth["headers"], real_auth["body"])):
        issued = http_date(headers["Date"])
        assert iso(body["expirationDateTime"]) - issued == 3600
        assert body["targetClassifierLocation"].endswith(
            f"/documentintelligence/documentClassifiers/{body['targetClassifierId']}?api-version=2024-11-30")

    copy = source.post(f"/documentClassifiers/{sent[0]['classifierId']}:copyTo", auth.json())
    assert copy.status_code == real_copy["status"] == 202 and copy.content == b""
    assert names(real_copy["headers"]) <= names(copy.headers)
    assert "retry-after" not in names(real_copy["headers"]) | names(copy.headers)
    copy_op = copy.headers["Operation-Location"]
    assert re.search(rf"/operations/{OP_ID}\?api-version=2024-11-30$", copy_op)
    copy_started = source.poll(copy_op)
    cloud.advance(3)
    copy_done = source.poll(copy_op)
    for mine, real in ((copy_started, real_copy_start), (copy_done, real_copy_done)):
        assert list(mine.json()) == list(real["body"]) and mine.json()["kind"] == "documentClassifierCopyTo"
        assert mine.json()["status"] == real["body"]["status"]
    copied = copy_done.json()["result"]
    assert list(copied) == list(real_copy_done["body"]["result"])
    assert copied["createdDateTime"] == copy_done.json()["createdDateTime"] != result["createdDateTime"]
    for kept in ("modifiedDateTime", "expirationDateTime", "description", "docTypes"):
        assert copied[kept] == result[kept], kept
    copy_get = target.get(f"/documentClassifiers/{sent[18]['classifierId']}")
    assert list(copy_get.json()) == list(real_copy_get["body"]) and copy_get.json() == copied
    assert names(real_copy_get["headers"]) <= names(copy_get.headers)


def test_v4_compose_matches_the_recorded_composed_model(cloud, src) -> None:
    rec, sent = load_json_recording(COMPOSE_RECORDING), request_bodies(COMPOSE_RECORDING)
    real_post, real_start, real_done, real_delete, real_delete_classifier = rec
    body = sent[0]
    src.seed_model("v3", "1798338483", api_version="2024-11-30")
    cloud.advance(4)
    src.seed_model("v3", "1040070331", api_version="2024-11-30")
    src.seed_classifier(body["classifierId"], doc_types=["IRS-1040-A", "IRS-1040-B"])
    c = client(src, "2024-11-30")
    post = c.post("/documentModels:compose", body)
    assert post.status_code == real_post["status"] == 202 and post.content == b""
    assert names(real_post["headers"]) <= names(post.headers)
    started = c.poll(post.headers["Operation-Location"])
    cloud.advance(1)
    done = c.poll(post.headers["Operation-Location"])
    for mine, real in ((started, real_start), (done, real_done)):
        assert list(mine.json()) == list(real["body"]), real["body"]["status"]
        assert mine.json()["tags"] == real["body"]["tags"] == body["tags"]
        assert names(real["headers"]) <= names(mine.headers)
    result, real_result = done.json()["result"], real_done["body"]["result"]
    assert list(result) == list(real_result)
    assert list(result["docTypes"]) == list(real_result["docTypes"]) == ["model0", "model1"]
    for doc_type in ("model0", "model1"):
        assert list(result["docTypes"][doc_type]) == list(real_result["docTypes"][doc_type])
        assert result["docTypes"][doc_type]["modelId"] == real_result["docTypes"][doc_type]["modelId"]
    for field in ("classifierId", "split", "modelId", "description", "tags"):
        assert result[field] == real_result[field], field
    first_component = c.get("/documentModels/1798338483").json()
    assert result["expirationDateTime"] == first_component["expirationDateTime"]  # the earliest component's
    assert c.get("/documentModels/1113921229").json() == result
    deleted = c.delete("/documentModels/1113921229")
    assert deleted.status_code == real_delete["status"] == 204
    assert names(real_delete["headers"]) <= names(deleted.headers)
    deleted = c.delete(f"/documentClassifiers/{body['classifierId']}")
    assert deleted.status_code == real_delete_classifier["status"] == 204
