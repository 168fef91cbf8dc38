"""Every copy failure users meet, reproduced on purpose over HTTP (issue #2), both API generations."""

from __future__ import annotations

import pytest
from emu_helpers import SUB, client, v2_authorize, v2_copy, v3_authorize, v3_copy

from emulators.docintel import errors


def _v2_finish(cloud, source, response) -> tuple[dict, dict]:
    assert response.status_code == 202, response.text
    cloud.advance(3)
    polled = source.poll(response.headers["Operation-Location"])
    assert polled.status_code == 200
    return polled.json(), dict(polled.headers)


def _v3_finish(cloud, source, response) -> dict:
    assert response.status_code == 202, response.text
    cloud.advance(3)
    polled = source.poll(response.headers["Operation-Location"])
    assert polled.status_code == 200
    return polled.json()


# ---------------------------------------------------------------- single use
def test_v2_reused_authorization_fails_with_2024(cloud, src, west, v2) -> None:
    source, target = client(src, v2), client(west, v2)
    model_id = src.seed_model("v2")
    auth = v2_authorize(target)
    first, _ = _v2_finish(cloud, source, v2_copy(source, model_id, west, auth))
    assert first["status"] == "succeeded"
    again = v2_copy(source, model_id, west, auth)
    body, headers = _v2_finish(cloud, source, again)
    assert body["status"] == "failed" and headers["ms-azure-ai-errorcode"] == "2024"
    error = body["copyResult"]["errors"][0]
    assert list(error) == ["code", "innerError", "message"]
    assert error["code"] == "2024" and error["message"] == errors.COULD_NOT_RETRIEVE_AUTH
    assert error["innerError"]["requestId"] == headers["apim-request-id"]


def test_v3_reused_authorization_fails_with_2024(cloud, src, west, v3) -> None:
    source, target = client(src, v3), client(west, v3)
    src.seed_model("v3", "mdl")
    auth = v3_authorize(target, "m-copy")
    assert _v3_finish(cloud, source, v3_copy(source, "mdl", auth))["status"] == "succeeded"
    body = _v3_finish(cloud, source, v3_copy(source, "mdl", auth))
    assert body["status"] == "failed" and "result" not in body
    assert body["error"]["code"] == "2024" and body["error"]["message"] == errors.COULD_NOT_RETRIEVE_AUTH
    assert "innererror" in body["error"]


# ---------------------------------------------------------------- modified authorization
@pytest.mark.parametrize("field", ["modelId", "expirationDateTimeTicks"])
def test_v2_changed_authorization_fails_with_authorization_error(cloud, src, west, field) -> None:
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    auth = v2_authorize(target)
    auth[field] = "00000000-0000-0000-0000-000000000000" if field == "modelId" else auth[field] + 60
    body, headers = _v2_finish(cloud, source, v2_copy(source, model_id, west, auth))
    assert body["copyResult"]["errors"][0]["code"] == "AuthorizationError"
    assert "missing or invalid authorization claims" in body["copyResult"]["errors"][0]["message"]
    assert headers["ms-azure-ai-errorcode"] == "AuthorizationError"


@pytest.mark.parametrize("field", ["targetModelId", "targetModelLocation", "targetResourceRegion",
                                   "expirationDateTime"])
def test_v3_changed_authorization_fails_with_authorization_error(cloud, src, west, v3, field) -> None:
    source, target = client(src, v3), client(west, v3)
    src.seed_model("v3", "mdl")
    auth = v3_authorize(target, "m-copy")
    auth[field] = {"targetModelId": "other-id", "targetModelLocation": "http://127.0.0.1:1/x",
                   "targetResourceRegion": "eastus", "expirationDateTime": "2099-01-01T00:00:00Z"}[field]
    body = _v3_finish(cloud, source, v3_copy(source, "mdl", auth))
    assert body["status"] == "failed"
    assert body["error"]["code"] == "AuthorizationError"
    assert body["error"]["message"] == errors.INVALID_CLAIMS
    assert client(west, v3).get("/documentModels/other-id").status_code == 404


def test_a_changed_access_token_is_an_authorization_error_a_foreign_one_2024(cloud, src, west, cmk) -> None:
    source, target = client(src, "2023-07-31"), client(west, "2023-07-31")
    src.seed_model("v3", "mdl")
    auth = v3_authorize(target, "m-copy")
    tampered = {**auth, "accessToken": auth["accessToken"][::-1]}
    assert _v3_finish(cloud, source, v3_copy(source, "mdl", tampered))["error"]["code"] == "AuthorizationError"
    other = v3_authorize(client(cmk, "2023-07-31"), "m-copy")  # genuine, but issued by another resource
    foreign = {**auth, "accessToken": other["accessToken"]}
    assert _v3_finish(cloud, source, v3_copy(source, "mdl", foreign))["error"]["code"] == "2024"


# ---------------------------------------------------------------- expiry
def test_v2_expired_authorization_is_400_1002(cloud, src, west) -> None:
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    auth = v2_authorize(target)
    cloud.advance(24 * 3600 - 5)
    assert v2_copy(source, model_id, west, auth).status_code == 202
    auth = v2_authorize(target)
    cloud.advance(24 * 3600 + 1)
    expired = v2_copy(source, model_id, west, auth)
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "1002"
    assert "expired" in expired.json()["error"]["message"]


def test_v3_authorization_expires_after_one_hour(cloud, src, west, v3) -> None:
    source, target = client(src, v3), client(west, v3)
    src.seed_model("v3", "mdl")
    auth = v3_authorize(target, "m-copy")
    cloud.advance(3601)
    expired = v3_copy(source, "mdl", auth)
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "1002"
    assert expired.json()["error"]["innererror"]["code"] == "AuthorizationExpired"


# ---------------------------------------------------------------- wrong target
def test_v2_other_real_region_fails_2024_as_recorded(cloud, src, west) -> None:
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    body, _ = _v2_finish(cloud, source, v2_copy(source, model_id, west, v2_authorize(target), region="eastus"))
    assert body["copyResult"]["errors"][0]["code"] == "2024"


@pytest.mark.parametrize("api", ["v2.1", "2024-11-30"])
def test_malformed_or_unsupported_target_is_400(src, west, api) -> None:
    source, target = client(src, api), client(west, api)
    if api == "v2.1":
        model_id = src.seed_model("v2")
        auth = v2_authorize(target)
        bad_region = v2_copy(source, model_id, west, auth, region="moon1")
        bad_id = v2_copy(source, model_id, west, auth, resource_id="/not/a/resource/id")
        assert bad_region.json()["error"]["code"] == bad_id.json()["error"]["code"] == "1002"
    else:
        src.seed_model("v3", "mdl")
        auth = v3_authorize(target, "m-copy")
        bad_region = v3_copy(source, "mdl", {**auth, "targetResourceRegion": "moon1"})
        bad_id = v3_copy(source, "mdl", {**auth, "targetResourceId": "/not/a/resource/id"})
    assert bad_region.status_code == bad_id.status_code == 400
    assert "targetResourceRegion" in bad_region.text and "targetResourceId" in bad_id.text


@pytest.mark.parametrize("api", ["v2.0", "2022-08-31"])
def test_unknown_target_resource_fails_with_resource_resolver_error(cloud, src, west, api) -> None:
    source, target = client(src, api), client(west, api)
    ghost = f"{SUB}/does-not-exist"
    if api == "v2.0":
        model_id = src.seed_model("v2")
        body, _ = _v2_finish(cloud, source, v2_copy(source, model_id, west, v2_authorize(target), resource_id=ghost))
        error = body["copyResult"]["errors"][0]
    else:
        src.seed_model("v3", "mdl")
        error = _v3_finish(cloud, source, v3_copy(source, "mdl", {**v3_authorize(target, "x1"),
                                                                  "targetResourceId": ghost}))["error"]
    assert error["code"] == "ResourceResolverError" and ghost in error["message"]


# ---------------------------------------------------------------- customer-managed keys
@pytest.mark.parametrize("api", ["v2.1", "2023-07-31"])
def test_cmk_to_plain_needs_the_degrade_header(cloud, cmk, west, api) -> None:
    source, target = client(cmk, api), client(west, api)
    if api == "v2.1":
        model_id = cmk.seed_model("v2")
        auth = v2_authorize(target)
        refused, headers = _v2_finish(cloud, source, v2_copy(source, model_id, west, auth))
        assert headers["ms-azure-ai-errorcode"] == "DataProtectionTransformServiceError"
        again, _ = _v2_finish(cloud, source, v2_copy(source, model_id, west, auth,
                                                     headers={"x-ms-forms-copy-degrade": "true"}))
        assert again["status"] == "succeeded"  # the refused copy did not use up the authorization
    else:
        model_id = cmk.seed_model("v3", "secret-model")
        auth = v3_authorize(target, "plain-copy")
        refused = _v3_finish(cloud, source, v3_copy(source, model_id, auth))
        assert refused["error"]["code"] == "DataProtectionTransformServiceError"
        again = _v3_finish(cloud, source, v3_copy(source, model_id, auth, headers={"x-ms-forms-copy-degrade": "true"}))
        assert again["status"] == "succeeded"


def test_plain_to_cmk_needs_no_header(cloud, src, cmk) -> None:
    source, target = client(src, "2024-11-30"), client(cmk, "2024-11-30")
    src.seed_model("v3", "mdl")
    assert _v3_finish(cloud, source, v3_copy(source, "mdl", v3_authorize(target, "m-copy")))["status"] == "succeeded"


# ---------------------------------------------------------------- unknown model / limits
def test_unknown_source_model_is_404(src, west) -> None:
    v2s, v2t = client(src, "v2.1"), client(west, "v2.1")
    ghost = "00000000-0000-0000-0000-000000000000"
    missing = v2_copy(v2s, ghost, west, v2_authorize(v2t))
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "1022", "message": f"Model with 'id={ghost}' not found."}}
    v3s, v3t = client(src, "2022-08-31"), client(west, "2022-08-31")
    missing3 = v3_copy(v3s, ghost, v3_authorize(v3t, "abc"))
    assert missing3.status_code == 404
    assert missing3.json()["error"]["innererror"]["code"] == "ModelNotFound"
    assert missing3.headers["Content-Type"] == "application/json"


def test_model_count_limit_on_authorize_and_at_copy_completion(cloud, src, west) -> None:
    west.settings.model_limit = 1
    v3t = client(west, "2023-07-31")
    src.seed_model("v3", "mdl")
    auth = v3_authorize(v3t, "first")  # room for one
    west.seed_model("v3", "filler")  # …taken before the copy finishes
    body = _v3_finish(cloud, client(src, "2023-07-31"), v3_copy(client(src, "2023-07-31"), "mdl", auth))
    assert body["error"]["code"] == "QuotaExceeded"
    full = v3t.post("/documentModels:authorizeCopy", {"modelId": "second"})
    assert full.status_code == 400 and full.json()["error"]["innererror"]["code"] == "ModelCountLimitExceeded"
    v2_full = client(west, "v2.1").post("/custom/models/copyAuthorization")
    assert v2_full.status_code == 400 and "limit of 1" in v2_full.json()["error"]["message"]
    assert client(west, "v2.1").post("/custom/models", {"source": "https://x/y"}).status_code == 400


# ---------------------------------------------------------------- behaviours: 3013, never, chosen codes
def test_v2_3013_leaves_an_invalid_model_on_the_target(cloud, src, west) -> None:
    src.set_copy_behaviour("fail_3013")
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    auth = v2_authorize(target)
    body, headers = _v2_finish(cloud, source, v2_copy(source, model_id, west, auth))
    assert headers["ms-azure-ai-errorcode"] == "3013"
    assert body["copyResult"]["errors"][0]["message"] == "Operation exceeded maximum processing time."
    leftover = target.get(f"/custom/models/{auth['modelId']}").json()
    assert leftover["modelInfo"]["status"] == "invalid"
    assert [m["status"] for m in west.models()] == ["invalid"]
    body, _ = _v2_finish(cloud, source, v2_copy(source, model_id, west, auth))
    assert body["copyResult"]["errors"][0]["code"] == "2024"  # that authorization is spent


def test_v3_3013_leaves_an_incomplete_model_the_client_must_delete(cloud, src, west, v3) -> None:
    west.set_copy_behaviour("fail_3013")  # queued on the target: applies when the source has none
    source, target = client(src, v3), client(west, v3)
    src.seed_model("v3", "mdl")
    body = _v3_finish(cloud, source, v3_copy(source, "mdl", v3_authorize(target, "m-copy")))
    assert body["error"] == {"code": "Timeout", "message": "Operation exceeded maximum processing time.",
                             "innererror": {"code": "3013", "message": "Operation exceeded maximum processing time."}}
    leftover = target.get("/documentModels/m-copy").json()
    assert leftover["docTypes"] == {}
    assert target.post("/documentModels:authorizeCopy", {"modelId": "m-copy"}).status_code == 409
    assert target.delete("/documentModels/m-copy").status_code == 204
    retry = v3_authorize(target, "m-copy")
    assert _v3_finish(cloud, source, v3_copy(source, "mdl", retry))["status"] == "succeeded"


def test_a_copy_that_never_finishes_stays_running_until_it_expires(cloud, src, west) -> None:
    src.set_copy_behaviour("never_finish")
    source, target = client(src, "2023-07-31"), client(west, "2023-07-31")
    src.seed_model("v3", "mdl")
    op = v3_copy(source, "mdl", v3_authorize(target, "m-copy")).headers["Operation-Location"]
    cloud.advance(12 * 3600)
    assert source.poll(op).json()["status"] == "running"
    assert target.get("/documentModels/m-copy").status_code == 404
    cloud.advance(12 * 3600)
    assert source.poll(op).status_code == 404


@pytest.mark.parametrize("code", ["2024", "AuthorizationError", "ResourceResolverError"])
def test_next_copies_fail_with_a_chosen_code_then_return_to_normal(cloud, src, west, code) -> None:
    src.set_copy_behaviour("fail", count=2, code=code)
    source, target = client(src, "v2.1"), client(west, "v2.1")
    model_id = src.seed_model("v2")
    codes = []
    for _ in range(3):
        body, _ = _v2_finish(cloud, source, v2_copy(source, model_id, west, v2_authorize(target)))
        codes.append(body["copyResult"]["errors"][0]["code"] if body["status"] == "failed" else "ok")
    assert codes == [code, code, "ok"]


def test_build_and_compose_respect_the_limit_and_name_missing_components(cloud, src) -> None:
    src.settings.model_limit = 2
    c = client(src, "2023-07-31")
    src.seed_model("v3", "one")
    refused = c.post("/documentModels:compose", {"modelId": "both", "componentModels": [{"modelId": "one"},
                                                                                        {"modelId": "ghost"}]})
    assert refused.status_code == 400 and "'ghost'" in refused.json()["error"]["innererror"]["message"]
    build = {"buildMode": "template", "azureBlobSource": {"containerUrl": "https://x/y"}}
    assert c.post("/documentModels:build", {"modelId": "two", **build}).status_code == 202  # reserves a slot
    full = c.post("/documentModels:build", {"modelId": "three", **build})
    assert full.status_code == 400 and full.json()["error"]["code"] == "QuotaExceeded"
    cloud.advance(2)
    assert c.get("/info").json()["customDocumentModels"] == {"count": 2, "limit": 2}


@pytest.mark.parametrize("api", ["v2.1", "2023-07-31"])
def test_expire_authorization_behaviour_answers_the_next_copy_post_as_expired(cloud, src, west, api) -> None:
    west.set_copy_behaviour("expire_authorization", count=1)  # on the target: applies when the source has none
    source, target = client(src, api), client(west, api)
    if api.startswith("v2"):
        model_id = src.seed_model("v2")
        auth = v2_authorize(target)
        stale = v2_copy(source, model_id, west, auth)
        expected = errors.v2_authorization_expired()
    else:
        model_id = src.seed_model("v3", "mdl")
        auth = v3_authorize(target, "m-copy")
        stale = v3_copy(source, model_id, auth)
        expected = errors.v3_authorization_expired()
    assert stale.status_code == 400 == expected.status
    assert stale.json() == expected.body
    assert west.copy_behaviours() == [] and not src.operations()  # consumed; nothing started
    # the authorization itself was not consumed: the same one is accepted once the behaviour is used up
    again = v2_copy(source, model_id, west, auth) if api.startswith("v2") else v3_copy(source, model_id, auth)
    assert again.status_code == 202, again.text
