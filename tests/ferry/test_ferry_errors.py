"""ferry.errors.classify on every error the service returns (real recordings first, then documented bodies)."""

from __future__ import annotations

import email.utils
import json
import pickle
import time

import pytest
import requests
from ferry_testkit import load_json_recording, load_yaml_recording

from ferry.errors import HINTS, KINDS, FerryError, classify, extract_service_error, parse_retry_after, redact

GATEWAY_401 = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
               "key for an active subscription and use a correct regional API endpoint for your resource.")


def err(code, message, inner=None):
    body = {"error": {"code": code, "message": message}}
    if inner:
        body["error"]["innererror"] = {"code": inner[0], "message": inner[1]}
    return body


# ----------------------------------------------------------------------------------------------- real recordings
def test_v2_bad_model_id_recording_is_not_found():
    (ex,) = [e for e in load_yaml_recording("v2.1-preview.3__test_copy_model.test_copy_model_fail_bad_model_id.yaml")
             if e.status == 404]
    assert ex.uri.endswith("/copy")
    e = classify(status=ex.status, headers=ex.headers, body=ex.body, api_version="v2.1", operation="copy",
                 resource="src")
    assert (e.kind, e.code, e.status, e.retryable) == ("not_found", "1022", 404, False)
    assert "not found" in e.message and e.hint == HINTS["not_found_model"]
    assert e.request_id == ex.headers["apim-request-id"]


def test_v2_failed_copy_poll_recording_is_an_authorization_error():
    polls = [e for e in load_yaml_recording("v2.1-preview.3__test_copy_model.test_copy_model_fail.yaml")
             if "/copyresults/" in e.uri]
    failed = [e for e in polls if e.json()["status"] == "failed"]
    assert failed and failed[-1].status == 200 and failed[-1].headers["ms-azure-ai-errorcode"] == "2024"
    e = classify(status=200, headers=failed[-1].headers, body=failed[-1].body, api_version="v2.1",
                 operation="poll_copy")
    assert (e.kind, e.code, e.retryable) == ("authorization", "2024", False)
    assert "Could not retrieve authorization metadata" in e.message
    assert "fresh authorization" in e.hint


def test_v2_failed_poll_classified_from_header_alone():
    e = classify(status=200, headers={"ms-azure-ai-errorcode": "2024"}, body={"status": "failed"},
                 api_version="v2.1", operation="poll_copy")
    assert e.kind == "authorization" and e.code == "2024"


def test_v3_bad_model_id_recording_is_not_found_with_inner_code():
    (ex,) = [e for e in load_json_recording(
        "2022-08-31__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_model_fail_bad_model_id.json")
        if e.status == 404]
    e = classify(status=404, headers=ex.headers, body=ex.body, api_version="2022-08-31", operation="copy")
    assert (e.kind, e.code, e.inner_code) == ("not_found", "NotFound", "ModelNotFound")


def test_401_recording_is_unauthorized_with_key_hint():
    (ex,) = load_json_recording(
        "2023-02-28-preview__formrecognizer__test_dac_analyze_prebuilts.pyTestDACAnalyzePrebuiltstest_authentication_"
        "bad_key_401.json")
    e = classify(status=ex.status, headers=ex.headers, body=ex.body, api_version="2023-07-31", operation="get_model")
    assert (e.kind, e.code, e.status, e.retryable) == ("unauthorized", "401", 401, False)
    assert e.message == GATEWAY_401
    assert "key" in e.hint and "endpoint" in e.hint and "Key Vault" in e.hint


def test_429_recordings_are_throttled_with_their_retry_after():
    throttled = [e for e in load_json_recording(
        "2024-02-29-preview__documentintelligence__test_dmac_copy_model.pyTestCopyModelAsynctest_copy_model_"
        "successful_with_429s.json") if e.status == 429]
    assert len(throttled) == 3
    for ex in throttled:
        e = classify(status=429, headers=ex.headers, body=ex.body, api_version="2024-11-30", operation="copy")
        assert e.kind == "throttled" and e.retryable
        assert e.retry_after == float(ex.headers["Retry-After"])
        assert e.hint == HINTS["throttled"]


def test_gateway_route_404_recording_is_terminal_not_missing_model():
    (ex,) = load_json_recording(
        "2024-07-31-preview__documentintelligence__test_dmac_copy_model.pyTestCopyModelAsynctest_copy_model_empty_"
        "model_id.json")
    e = classify(status=404, headers=ex.headers, body=ex.body, api_version="2024-11-30", operation="copy")
    assert (e.kind, e.code) == ("terminal", "404")
    assert "route" in e.hint and "apiVersion" in e.hint


# --------------------------------------------------------------------------------------------- documented bodies
QUOTA_MSG = ("Out of call volume quota for FormRecognizer F0 pricing tier. Please retry after 1 day. To increase "
             "your call volume switch to a paid tier.")


@pytest.mark.parametrize("status, headers, body, operation, kind, hint", [
    (403, {}, err("403", QUOTA_MSG), "copy", "quota", "quota"),
    (429, {"Retry-After": "86400"}, err("429", QUOTA_MSG), "copy", "quota", "quota"),
    (403, {}, err("PermissionDenied", "Principal does not have access to API/Operation."), "copy",
     "unauthorized", "forbidden"),
    (409, {}, err("Conflict", "Resource already exists.", ("ModelExists", "A model with the provided name already "
                                                              "exists: 'm1'.")), "authorize_copy", "model_exists",
     "model_exists"),
    (400, {}, err("1002", "Copy authorization has expired."), "copy", "authorization", "authorization"),
    (400, {}, err("1002", "Invalid targetResourceRegion: 'West US'."), "copy", "terminal", "region"),
    (400, {}, err("1002", "The targetResourceId is malformed."), "copy", "terminal", "resource_id"),
    (400, {}, err("1002", "The request is invalid."), "copy", "terminal", "validation"),
    (400, {}, err("InvalidRequest", "Invalid request.", ("InvalidParameter", "The parameter modelId is invalid.")),
     "authorize_copy", "terminal", "validation"),
    (200, {}, {"status": "failed", "error": err("AuthorizationError", "Authorization failure due to missing or "
                                                "invalid authorization claims.")["error"]}, "poll_copy",
     "authorization", "authorization"),
    (400, {}, err("AuthorizationError", "Authorization failure due to missing or invalid authorization claims."),
     "copy", "authorization", "authorization"),
    (200, {}, {"status": "failed", "copyResult": {"modelId": "x", "errors": [
        {"code": "DataProtectionTransformServiceError", "message": "Data transfer request isn't allowed as it "
         "downgrades to a less secure data protection scheme. Refer documentation or contact your service "
         "administrator for details."}]}}, "poll_copy", "degrade_required", "degrade_required"),
    (200, {}, {"status": "failed", "copyResult": {"modelId": "x", "errors": [
        {"code": "ResourceResolverError", "message": "Couldn't fetch information for Cognitive resource with ID "
         "'/subscriptions/…'."}]}}, "poll_copy", "terminal", "resolver"),
    (200, {}, {"status": "failed", "error": {"code": "Timeout", "message": "Operation exceeded maximum processing "
                                             "time.", "innererror": {"code": "3013", "message": "…"}}},
     "poll_copy", "timeout", "timeout"),
    (200, {}, {"status": "failed", "copyResult": {"errors": [{"code": "3013", "message": "Operation exceeded "
                                                              "maximum processing time."}]}},
     "poll_copy", "timeout", "timeout"),
    (400, {}, err("1018", "The number of models has reached the limit of 5000 for this resource."), "authorize_copy",
     "quota", "model_limit"),
    (400, {}, err("QuotaExceeded", "Quota exceeded.", ("ModelCountLimitExceeded", "The number of custom models has "
                                                       "reached the limit of 500.")), "authorize_copy", "quota",
     "model_limit"),
    (400, {}, err("1002", "Model with 'id=m' is not ready (status 'creating')."), "copy", "not_ready", "not_ready"),
    (400, {}, err("InvalidRequest", "Invalid request.", ("ModelNotReady", "Model is not ready.")), "copy",
     "not_ready", "not_ready"),
    (410, {}, err("410", "The requested API version has been retired."), "get_model", "terminal", "retired"),
    (404, {}, err("NotFound", "Resource not found.", ("OperationNotFound", "The requested operation was not "
                                                      "found.")), "poll_copy", "not_found", "not_found_operation"),
    (404, {}, err("1022", "Copy result with 'id=r1' not found."), "poll_copy", "not_found", "not_found_operation"),
    (404, {}, err("1022", "Model with 'id=m' not found."), "get_model", "not_found", "not_found_model"),
    (500, {}, err("InternalServerError", "An unexpected error occurred."), "copy", "transient", "transient"),
    (503, {"Retry-After": "7"}, err("ServiceUnavailable", "Please retry."), "get_model", "transient", "transient"),
    (502, {}, "<html>Bad Gateway</html>", "get_model", "transient", "transient"),
    (408, {}, None, "get_model", "transient", "transient"),
    (418, {}, None, "get_model", "terminal", "terminal"),
    (200, {}, {"status": "failed", "error": {"code": "SomethingNew", "message": "New failure."}}, "poll_copy",
     "terminal", "terminal"),
])
def test_service_errors(status, headers, body, operation, kind, hint):
    e = classify(status=status, headers=headers, body=body if not isinstance(body, dict) else json.dumps(body),
                 api_version="2024-11-30", operation=operation, resource="dr")
    assert e.kind == kind, e
    assert e.hint == HINTS[hint]
    assert e.retryable is (kind in {"throttled", "transient", "not_ready"})
    assert e.status == status and e.operation == operation and e.resource == "dr"
    code, message, _, _ = extract_service_error(body)
    if code:
        assert e.code == code
    if message:
        assert e.message == message


def test_503_keeps_retry_after_and_429_reads_it_from_the_message_when_no_header():
    assert classify(status=503, headers={"Retry-After": "7"}, body=None).retry_after == 7.0
    body = err("429", "Requests to the Manage - Copy model Operation ... Please retry after 3 seconds. ...")
    assert classify(status=429, headers={}, body=body).retry_after == 3.0
    assert classify(status=429, headers={}, body=None).retry_after is None


def test_retry_after_formats():
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"x-ms-retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "100", "Retry-After": "9"}) == 0.1  # ms wins (more precise)
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"Retry-After": email.utils.formatdate(now - 30, usegmt=True)}, now=now) == 0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("exc, kind, code", [
    (requests.exceptions.ConnectTimeout("connect timed out"), "transient", "Timeout"),
    (requests.exceptions.ReadTimeout("read timed out"), "transient", "Timeout"),
    (requests.exceptions.ConnectionError("Connection refused"), "transient", "ConnectionError"),
    (requests.exceptions.SSLError("certificate verify failed"), "terminal", "TlsError"),
    (requests.exceptions.InvalidURL("bad"), "terminal", "InvalidURL"),
])
def test_transport_exceptions(exc, kind, code):
    e = classify(status=None, exc=exc, api_version="v2.1", operation="copy", resource="src")
    assert (e.kind, e.code, e.status) == (kind, code, None)
    assert e.hint


def test_every_kind_has_a_hint_and_unknown_kinds_are_refused():
    for kind in KINDS:
        key = {"not_found": "not_found_model"}.get(kind, kind)
        assert HINTS[key].strip()
    with pytest.raises(ValueError, match="unknown FerryError kind"):
        FerryError(kind="oops", code="x", message="m", hint="h")


def test_error_round_trips_and_is_json_safe():
    e = classify(status=429, headers={"Retry-After": "3", "apim-request-id": "rid"}, body=err("429", "slow down"),
                 api_version="2023-07-31", operation="copy", resource="src")
    data = e.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = FerryError.from_dict(data)
    assert again.to_dict() == data
    clone = pickle.loads(pickle.dumps(e))  # noqa: S301 - our own bytes
    assert isinstance(clone, FerryError) and clone.to_dict() == data
    assert "throttled" in str(e) and "copy on src" in str(e) and "HTTP 429" in str(e)


def test_chained_from_the_transport_exception():
    cause = requests.exceptions.ConnectionError("refused")
    with pytest.raises(FerryError) as info:
        try:
            raise cause
        except requests.RequestException as exc:
            raise classify(status=None, exc=exc) from exc
    assert info.value.__cause__ is cause


def test_credential_shaped_text_is_redacted():
    body = err("1002", 'Bad copy request {"accessToken": "tok-123456", "modelId": "m"} '
                       "Ocp-Apim-Subscription-Key=abcdef0123")
    e = classify(status=400, headers={}, body=body)
    assert "tok-123456" not in str(e) and "abcdef0123" not in json.dumps(e.to_dict())
    assert redact("Authorization: Bearer eyJ0eXAi.abc") == 'Authorization: "***"'


def test_long_messages_are_capped():
    e = classify(status=400, body=err("1002", "x" * 5000))
    assert len(e.message) == 1000


def test_one_serialisation_round_trips_every_field_and_public_is_what_a_user_sees():
    error = FerryError(kind="transient", code="ConnectionError", message="lost", hint="retry", status=None,
                       retry_after=2.5, operation="copy", api_version="v2.1", resource="east",
                       request_id="r", inner_code="i", target_model_id="11111111-1111-1111-1111-111111111111")
    back = FerryError.from_dict(error.to_dict())
    assert back.to_dict() == error.to_dict() and back.retry_after == 2.5
    assert back.target_model_id == "11111111-1111-1111-1111-111111111111"
    assert error.public() == {"code": "ConnectionError", "message": "lost", "hint": "retry"}
    # a partial (public) dict or an unknown kind still reads, as a terminal error
    partial = FerryError.from_dict({"code": "X", "message": "m", "kind": "no-such-kind"})
    assert partial.kind == "terminal" and partial.code == "X"
    assert "retry_after" not in error.to_dict()  # one spelling on the wire: retryAfter


def test_request_settings_and_internal_errors_speak_the_same_shape():
    from ferry.errors import internal_error, settings_error

    settings = settings_error("FERRY_POLL_MAX_SECONDS", "bad value")
    assert settings.kind == "invalid_settings" and "FERRY_POLL_MAX_SECONDS" in settings.hint
    bug = internal_error(KeyError("oops"))
    assert bug.kind == "internal" and bug.code == "InternalError" and "oops" in bug.message
    for error in (settings, bug):
        assert set(FerryError.from_dict(error.to_dict()).public()) == {"code", "message", "hint"}
