"""The emulator's responses against real recorded traffic (tests/recordings/).

Compared: status codes, field names and their order, the header set that matters (names; values where
they are not per-request), exact error bodies. Recorded values that the test sanitizers rewrote
(endpoints, resource ids, tokens, an injected "accessToken" in 2020 bodies) are not compared.
"""

from __future__ import annotations

import re
from datetime import datetime

import requests
from emu_helpers import (
    client,
    load_json_recording,
    load_yaml_recording,
    ordered_subset,
    v2_authorize,
    v2_copy,
    v3_authorize,
)

VOLATILE = {"date", "content-length", "transfer-encoding", "server"}


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
