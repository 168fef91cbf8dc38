"""The v2 and v3+ clients on the wire, fed with the recorded service responses (tests/recordings/).

The emulator tests cover behaviour; these pin down byte-level facts the emulator cannot prove on its own: the
authorization is forwarded verbatim, URLs and methods per version, v2.0-preview's empty copyResult, headers.
"""

from __future__ import annotations

import json

import pytest
from ferry_testkit import KeyRing, load_json_recording, load_yaml_recording, resource_entry

from ferry.docintel import V2Client, V3Client, client_for
from ferry.docintel.base import decode_v2_expiry
from ferry.errors import FerryError
from ferry.settings import parse

REC_V21_OK = "v2.1-preview.3__test_copy_model.test_copy_model_successful.yaml"
REC_V21_FAIL = "v2.1-preview.3__test_copy_model.test_copy_model_fail.yaml"
REC_V20_OK = "v2.0-preview__test_copy_model.test_copy_model_successful.yaml"
REC_V3_OK = "2023-02-28-preview__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_model_successful.json"
REC_V3_AUTH = "2023-07-31__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_authorization.json"
REC_V4_429 = ("2024-02-29-preview__documentintelligence__test_dmac_copy_model.pyTestCopyModelAsynctest_copy_model_"
              "successful_with_429s.json")


def resources(url: str, api_version: str):
    s = parse({"FERRY_RESOURCES": json.dumps({
        "src": resource_entry(url, api_version, "src", region="eastus"),
        "dst": resource_entry(url, api_version, "dst", region="westus2"),
    })})
    return s.resource("src"), s.resource("dst")


def exchange(recording, method, fragment, status=None, nth=0):
    loader = load_yaml_recording if recording.endswith(".yaml") else load_json_recording
    found = [e for e in loader(recording) if e.method == method and fragment in e.uri
             and (status is None or e.status == status)]
    return found[nth]


# --------------------------------------------------------------------------------------------------- v2
@pytest.mark.parametrize("api_version", ["v2.0", "v2.1"])
def test_v2_authorize_copy_poll_get_with_recorded_bodies(fake_service, api_version):
    auth_ex = exchange(REC_V21_OK, "POST", "copyAuthorization")
    polls = [e for e in load_yaml_recording(REC_V21_OK) if "/copyresults/" in e.uri]
    model_ex = exchange(REC_V21_OK, "GET", "2a766146", nth=0)
    raw_auth = ' {"modelId": "2a766146-bb85-4907-b438-23e6a35cb114", "accessToken": "tok-123",\n' \
               '  "expirationDateTimeTicks": 1616265795} '
    assert json.loads(raw_auth)["modelId"] == auth_ex.json()["modelId"]
    prefix = f"/formrecognizer/{api_version}/custom/models"
    src_id = "c24fc91e-214d-40a8-b252-1583653a2be2"
    fake_service.on("POST", f"{prefix}/copyAuthorization$",
                    (201, {"Location": f"{{base}}{prefix}/2a766146-bb85-4907-b438-23e6a35cb114",
                           "Content-Type": "application/json; charset=utf-8"}, raw_auth))
    fake_service.on("POST", f"{prefix}/{src_id}/copy$",
                    (202, {"Operation-Location": f"{{base}}{prefix}/{src_id}/copyresults/b8d842d5"}, None))
    fake_service.on("GET", "/copyresults/b8d842d5$", *[(200, {}, p.json()) for p in polls])
    fake_service.on("GET", r"/2a766146-bb85-4907-b438-23e6a35cb114\?includeKeys=true$", (200, {}, model_ex.json()))
    src, dst = resources(fake_service.url, api_version)
    target_client = client_for(dst, KeyRing("dst-key"))
    source_client = client_for(src, KeyRing("src-key"))
    assert isinstance(source_client, V2Client)

    authorization = target_client.authorize_copy(model_id=None)
    assert authorization.target_model_id == "2a766146-bb85-4907-b438-23e6a35cb114"
    assert authorization.expires_at == "2021-03-20T18:43:15Z"
    assert "tok-123" not in repr(authorization)
    url = source_client.start_copy(src_id, authorization, target=dst, degrade=True)
    assert url == f"{fake_service.url}{prefix}/{src_id}/copyresults/b8d842d5"

    authorize_req, copy_req = fake_service.requests[:2]
    assert authorize_req.body == b"" and authorize_req.headers["Ocp-Apim-Subscription-Key"] == "dst-key"
    assert copy_req.headers["Ocp-Apim-Subscription-Key"] == "src-key"
    assert copy_req.headers["x-ms-forms-copy-degrade"] == "true"
    assert copy_req.headers["Content-Type"] == "application/json"
    sent = json.loads(copy_req.body)
    assert list(sent) == ["targetResourceId", "targetResourceRegion", "copyAuthorization"]
    assert sent["targetResourceId"] == dst.resource_id and sent["targetResourceRegion"] == "westus2"
    assert raw_auth.strip().encode() in copy_req.body  # the authorization bytes, unmodified

    states = [source_client.get_copy_status(url) for _ in polls]
    assert [s.status for s in states] == ["notStarted"] * (len(polls) - 1) + ["succeeded"]
    assert states[-1].target_model_id == authorization.target_model_id and states[-1].error is None
    model = target_client.get_model(authorization.target_model_id)
    assert target_client.model_status(model) == "ready"


def test_v2_0_preview_empty_copy_result_falls_back_to_the_authorization_model_id(fake_service):
    final = [e for e in load_yaml_recording(REC_V20_OK) if "copyresults" in e.uri.lower()][-1].json()
    assert final["status"] == "succeeded" and final["copyResult"] == {}
    path = "/formrecognizer/v2.0/custom/models/11111111-1111-1111-1111-111111111111/copyresults/r1"
    fake_service.on("GET", path, (200, {}, final))
    src, _ = resources(fake_service.url, "v2.0")
    state = client_for(src, KeyRing("k")).get_copy_status(fake_service.url + path,
                                                          target_model_id="22222222-2222-2222-2222-222222222222")
    assert state.status == "succeeded" and state.target_model_id == "22222222-2222-2222-2222-222222222222"


def test_v2_failed_poll_recording(fake_service):
    failed = [e for e in load_yaml_recording(REC_V21_FAIL) if "/copyresults/" in e.uri][-1]
    path = "/formrecognizer/v2.1/custom/models/11111111-1111-1111-1111-111111111111/copyResults/r1"
    fake_service.on("GET", path, (200, failed.headers | {"Content-Type": "application/json"}, failed.body))
    src, _ = resources(fake_service.url, "v2.1")
    state = client_for(src, KeyRing("k")).get_copy_status(fake_service.url + path)
    assert state.status == "failed" and state.target_model_id == "b293de0b-b71c-4778-9fce-212134b01fe7"
    assert state.error.kind == "authorization" and state.error.code == "2024"


def test_v2_expiry_decoding():
    assert decode_v2_expiry(1616265795) == "2021-03-20T18:43:15Z"
    assert decode_v2_expiry(637251001221004515) == "2020-05-15T00:42:02Z"  # .NET ticks (v2.0 preview)
    assert decode_v2_expiry("soon") is None


# --------------------------------------------------------------------------------------------------- v3+
@pytest.mark.parametrize("api_version, prefix", [("2022-08-31", "/formrecognizer"),
                                                 ("2023-07-31", "/formrecognizer"),
                                                 ("2024-11-30", "/documentintelligence")])
def test_v3_authorize_copy_poll_with_recorded_bodies(fake_service, api_version, prefix):
    auth_body = exchange(REC_V3_AUTH, "POST", "authorizeCopy").json()
    raw_auth = json.dumps(auth_body, indent=1)  # whitespace the client must not touch
    ops = [e for e in load_json_recording(REC_V3_OK) if "/operations/31486927334" in e.uri]
    q = f"api-version={api_version}"
    fake_service.on("POST", rf"{prefix}/documentModels:authorizeCopy\?{q}$", (200, {}, raw_auth))
    fake_service.on("POST", rf"{prefix}/documentModels/source-model:copyTo\?{q}$",
                    (202, {"Operation-Location": f"{{base}}{prefix}/operations/31486927334_1b5b?{q}"}, None))
    fake_service.on("GET", rf"{prefix}/operations/31486927334_1b5b\?{q}$", *[(200, {}, o.json()) for o in ops])
    src, dst = resources(fake_service.url, api_version)
    target_client, source_client = client_for(dst, KeyRing("d")), client_for(src, KeyRing("s"))
    assert isinstance(target_client, V3Client)

    authorization = target_client.authorize_copy(model_id="target-model", description="copied", tags={"k": "v"})
    assert authorization.target_model_id == auth_body["targetModelId"]
    assert authorization.expires_at == auth_body["expirationDateTime"]
    url = source_client.start_copy("source-model", authorization, target=dst)
    authorize_req, copy_req = fake_service.requests[:2]
    assert json.loads(authorize_req.body) == {"modelId": "target-model", "description": "copied", "tags": {"k": "v"}}
    assert copy_req.body == raw_auth.encode()  # verbatim, byte for byte
    assert "x-ms-forms-copy-degrade" not in copy_req.headers

    states = [source_client.get_copy_status(url) for _ in ops]
    assert [s.status for s in states] == ["notStarted", "succeeded"]
    assert states[-1].target_model_id == ops[-1].json()["result"]["modelId"]
    assert states[-1].result["tags"] == {"testkey": "testvalue"}
    assert fake_service.requests[-1].method == "GET"


def test_v3_model_id_from_resource_location_and_canceled(fake_service):
    path = "/documentintelligence/operations/op1?api-version=2024-11-30"
    fake_service.on("GET", r"/operations/op1", (200, {}, {
        "operationId": "op1", "kind": "documentModelCopyTo", "status": "canceled",
        "resourceLocation": f"{fake_service.url}/documentintelligence/documentModels/tgt-1?api-version=2024-11-30"}))
    src, _ = resources(fake_service.url, "2024-11-30")
    state = client_for(src, KeyRing("k")).get_copy_status(fake_service.url + path)
    assert state.status == "failed" and state.service_status == "canceled" and state.target_model_id == "tgt-1"
    assert state.error.code == "Canceled" and state.error.kind == "terminal"


def test_v3_failed_operation_and_retry_after_on_poll(fake_service):
    path = "/formrecognizer/operations/op2?api-version=2023-07-31"
    fake_service.on("GET", r"/operations/op2", (200, {"Retry-After": "2"}, {"status": "running"}), (200, {}, {
        "status": "failed", "error": {"code": "Timeout", "message": "Operation exceeded maximum processing time.",
                                      "innererror": {"code": "3013", "message": "…"}}}))
    src, _ = resources(fake_service.url, "2023-07-31")
    client = client_for(src, KeyRing("k"))
    running = client.get_copy_status(fake_service.url + path, target_model_id="m")
    assert running.status == "running" and running.retry_after == 2.0 and running.target_model_id == "m"
    failed = client.get_copy_status(fake_service.url + path)
    assert failed.status == "failed" and failed.error.kind == "timeout" and failed.error.inner_code == "3013"


def test_v4_429_recording_on_copy_post_is_throttled(fake_service):
    throttled = exchange(REC_V4_429, "POST", ":copyTo", status=429)
    fake_service.on("POST", ":copyTo", (429, throttled.headers, throttled.body))
    fake_service.on("POST", ":authorizeCopy", (200, {}, exchange(REC_V3_AUTH, "POST", "authorizeCopy").json()))
    src, dst = resources(fake_service.url, "2024-11-30")
    authorization = client_for(dst, KeyRing("d")).authorize_copy(model_id="m1")
    with pytest.raises(FerryError) as info:
        client_for(src, KeyRing("s")).start_copy("m1", authorization, target=dst)
    assert info.value.kind == "throttled" and info.value.retry_after == 3.0
    assert fake_service.count("POST", ":copyTo") == 1


def test_missing_operation_location_and_bad_authorization_are_terminal(fake_service):
    fake_service.on("POST", ":authorizeCopy", (200, {}, {"unexpected": True}))
    fake_service.on("POST", ":copyTo", (202, {}, None))
    src, dst = resources(fake_service.url, "2024-11-30")
    with pytest.raises(FerryError) as info:
        client_for(dst, KeyRing("d")).authorize_copy(model_id="m1")
    assert info.value.code == "InvalidAuthorization"
    from ferry.docintel.base import CopyAuthorization

    auth = CopyAuthorization(raw=b"{}", payload={}, target_model_id="m1", expires_at=None)
    with pytest.raises(FerryError) as info:
        client_for(src, KeyRing("s")).start_copy("m1", auth, target=dst)
    assert info.value.code == "MissingOperationLocation"


def test_delete_and_get_not_found_shapes(fake_service):
    fake_service.on("DELETE", "/documentModels/gone", (404, {"Content-Type": "application/json"}, {
        "error": {"code": "NotFound", "message": "Resource not found.",
                  "innererror": {"code": "ModelNotFound", "message": "The requested model was not found."}}}))
    fake_service.on("DELETE", "/documentModels/here", (204, {}, None))
    fake_service.on("GET", "/custom/models/", (404, {}, {"error": {"code": "1022", "message": "Model with "
                                                                   "'id=…' not found."}}))
    src, _ = resources(fake_service.url, "2024-11-30")
    client = client_for(src, KeyRing("k"))
    assert client.delete_model("gone") is False and client.delete_model("here") is True
    v2src, _ = resources(fake_service.url, "v2.1")
    assert client_for(v2src, KeyRing("k")).get_model("11111111-1111-1111-1111-111111111111") is None


# --------------------------------------------------------------------------------------------------- classifiers
REC_CLS = ("2024-11-30__documentintelligence__test_dmac_copy_classifier.pyTestCopyClassifiertest_copy_classifier_"
           "successful.json")


def test_classifier_authorize_copy_poll_get_with_recorded_bodies(fake_service):
    from ferry.kinds.classifier import CLASSIFIER

    recording = load_json_recording(REC_CLS)
    auth_body = exchange(REC_CLS, "POST", "documentClassifiers:authorizeCopy").json()
    raw_auth = json.dumps(auth_body, indent=2)
    source_id = "fa7dbcee-8664-4d4e-88dc-6e23ce471280"
    copied_id = auth_body["targetClassifierId"]
    ops = [e for e in recording if "/operations/31432227067_" in e.uri]
    source_get, copied_get = [e for e in recording if e.method == "GET" and "/documentClassifiers/" in e.uri]
    prefix, q = "/documentintelligence", "api-version=2024-11-30"
    fake_service.on("POST", rf"{prefix}/documentClassifiers:authorizeCopy\?{q}$", (200, {}, raw_auth))
    fake_service.on("POST", rf"{prefix}/documentClassifiers/{source_id}:copyTo\?{q}$",
                    (202, {"Operation-Location": f"{{base}}{prefix}/operations/31432227067_87b4?{q}"}, None))
    fake_service.on("GET", rf"{prefix}/operations/31432227067_87b4\?{q}$", *[(200, {}, o.json()) for o in ops])
    fake_service.on("GET", rf"{prefix}/documentClassifiers/{source_id}\?{q}$", (200, {}, source_get.json()))
    fake_service.on("GET", rf"{prefix}/documentClassifiers/{copied_id}\?{q}$", (200, {}, copied_get.json()))
    src, dst = resources(fake_service.url, "2024-11-30")
    target_client, source_client = client_for(dst, KeyRing("d")), client_for(src, KeyRing("s"))

    authorization = target_client.authorize_copy(model_id=copied_id, description="router", kind=CLASSIFIER)
    assert authorization.target_model_id == copied_id
    url = source_client.start_copy(source_id, authorization, target=dst, kind=CLASSIFIER)
    authorize_req, copy_req = fake_service.requests[:2]
    assert json.loads(authorize_req.body) == {"classifierId": copied_id, "description": "router"}
    assert copy_req.body == raw_auth.encode()  # verbatim, byte for byte
    states = [source_client.get_copy_status(url) for _ in ops]
    assert states[-1].status == "succeeded" and states[-1].target_model_id == copied_id

    # the recorded copy has a new createdDateTime and is still recognised as the source's copy
    source = source_client.get_model(source_id, kind=CLASSIFIER)
    copied = target_client.get_model(copied_id, kind=CLASSIFIER)
    assert source["createdDateTime"] != copied["createdDateTime"]
    assert CLASSIFIER.is_copy_of(source_client.fingerprint(source, CLASSIFIER),
                                 target_client.fingerprint(copied, CLASSIFIER))
    assert target_client.model_status(copied) == "ready"
