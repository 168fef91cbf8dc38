"""The one place where the emulator's error codes and texts live (Azurite's "error factory" idea).

Each factory returns a ``ServiceError`` (an exception carrying status, JSON body and header style) or,
for failures reported inside a copy operation, a ``CopyFailure``. Texts taken from real traffic or the
docs say where they come from (see ``docs/service-facts.md``); everything marked **inferred** is our most plausible
wording where no real sample was found, kept here so it can be corrected in one place.

Two body shapes exist: v2 ``{"error":{"code":"1022","message":...}}`` (numeric-string codes) and v3+/v4
``{"error":{"code":"NotFound","message":...,"innererror":{"code":...,"message":...}}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GATEWAY = "gateway"  # APIM-produced: no envoy header, Content-Type without charset
SERVICE = "service"  # produced behind the gateway: full header set

ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)  # real: tests/recordings/2023-02-28-preview…bad_key_401.json
MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API."
)  # APIM's standard text for an absent key (inferred: not in the saved recordings)
COULD_NOT_RETRIEVE_AUTH = (
    "Could not retrieve authorization metadata. If this issue persists use a different target model to copy into."
)  # real: recorded failed v2 copy (code 2024)
INVALID_CLAIMS = "Authorization failure due to missing or invalid authorization claims."  # docs error table
DEGRADE = (
    "Data transfer request isn't allowed as it downgrades to a less secure data protection scheme. Refer "
    "documentation or contact your service administrator for details."
)  # docs (disaster recovery: x-ms-forms-copy-degrade)
TIMEOUT_3013 = "Operation exceeded maximum processing time."  # as reported in public SDK issues


@dataclass
class ServiceError(Exception):
    """An HTTP error response: status, body, header style and extra headers."""

    status: int
    body: dict[str, Any]
    style: str = SERVICE
    headers: dict[str, str] = field(default_factory=dict)
    charset: bool = True  # v2 service errors say "application/json; charset=utf-8", v3+ ones don't

    def __str__(self) -> str:
        return f"{self.status} {self.body}"

    @property
    def code(self) -> str:
        return str(self.body.get("error", {}).get("code"))


@dataclass
class CopyFailure:
    """Why a copy operation ended ``failed``; rendered per generation by the wire module."""

    v2_code: str
    v3_code: str
    message: str
    inner_code: str | None = None
    inner_message: str | None = None

    def v2_error(self, request_id: str) -> dict[str, Any]:
        # real key order: code, innerError, message (recorded)
        return {"code": self.v2_code, "innerError": {"requestId": request_id}, "message": self.message}

    def v3_error(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.v3_code, "message": self.message}
        if self.inner_code:
            err["innererror"] = {"code": self.inner_code, "message": self.inner_message or self.message}
        return err


def _v2(status: int, code: str, message: str, **kw: Any) -> ServiceError:
    return ServiceError(status, {"error": {"code": code, "message": message}}, charset=True, **kw)


def _v3(status: int, code: str, message: str, inner_code: str | None, inner_message: str | None,
        **kw: Any) -> ServiceError:
    err: dict[str, Any] = {"code": code, "message": message}
    if inner_code:
        err["innererror"] = {"code": inner_code, "message": inner_message or message}
    return ServiceError(status, {"error": err}, charset=False, **kw)


# ---------------------------------------------------------------- gateway (APIM) errors
def unauthorized(missing: bool = False) -> ServiceError:
    """401 from the gateway: only apim-request-id, Content-Type (no charset), Content-Length, Date."""
    return ServiceError(401, {"error": {"code": "401", "message": MISSING_KEY if missing else ACCESS_DENIED}},
                        style=GATEWAY, charset=False)


def route_not_found(detail: str) -> ServiceError:
    """404 for a path no API matches (real body: tests/recordings/2024-07-31-preview…empty_model_id.json).

    The body stays byte-identical to the real one; ``x-ms-emulator-detail`` says what did not match.
    """
    return ServiceError(404, {"error": {"code": "404", "message": "Resource not found"}}, style=GATEWAY,
                        charset=False, headers={"x-ms-emulator-detail": detail})


def unsupported_api_version(version: str | None, prefix: str, supported: list[str]) -> ServiceError:
    """Unknown/missing api-version: the gateway has no API for it → its 404 (inferred) + a detail header."""
    what = f"api-version '{version}'" if version else "a missing api-version query parameter"
    detail = f"{what} is not supported on {prefix}; supported: {', '.join(supported)}"
    return route_not_found(detail)


def rate_limited(operation_name: str, api_label: str, tier: str, retry_after: int) -> ServiceError:
    """429 with Retry-After and apim-operation-name (real: tests/recordings/2024-02-29-preview…with_429s.json).

    The S0 tail sentence is inferred (the recording is F0, which suggests switching to a paid tier).
    """
    tail = ("To increase your rate limit switch to a paid tier." if tier.upper() == "F0" else
            "Please contact Azure support service if you would like to further increase the default rate limit.")
    message = (f"Requests to the {operation_name} Operation under {api_label} have exceeded call rate limit of "
               f"your current FormRecognizer {tier} pricing tier. Please retry after {retry_after} seconds. {tail}")
    return ServiceError(429, {"error": {"code": "429", "message": message}}, style=GATEWAY, charset=False,
                        headers={"Retry-After": str(retry_after),
                                 "apim-operation-name": operation_name.replace(" ", "+")})


def injected_server_error(status: int) -> ServiceError:
    """An injected 5xx (fault injection). Wording inferred from common Azure AI services 500/503 bodies."""
    if status == 503:
        return ServiceError(503, {"error": {"code": "ServiceUnavailable",
                                            "message": "The service is temporarily unavailable. Please retry."}},
                            charset=False)
    return ServiceError(status, {"error": {"code": "InternalServerError",
                                           "message": "An unexpected error occurred."}}, charset=False)


# ---------------------------------------------------------------- v2 errors
def v2_model_not_found(model_id: str) -> ServiceError:
    # real: tests/recordings/v2.1-preview.3…fail_bad_model_id.yaml
    return _v2(404, "1022", f"Model with 'id={model_id}' not found.")


def v2_copy_result_not_found(result_id: str) -> ServiceError:
    return _v2(404, "1022", f"Copy result with 'id={result_id}' not found.")  # inferred


def v2_bad_request(message: str) -> ServiceError:
    """400 code 1002: validation error / badly formed request (docs error table); message inferred."""
    return _v2(400, "1002", message)


def v2_authorization_expired() -> ServiceError:
    return v2_bad_request("Copy authorization has expired (expirationDateTimeTicks is in the past); "
                          "request a new copyAuthorization from the target resource.")  # inferred wording


def v2_model_not_ready(model_id: str, status: str) -> ServiceError:
    return _v2(400, "1002", f"Model with 'id={model_id}' is not ready (status '{status}').")  # inferred


def v2_model_limit(limit: int) -> ServiceError:
    return _v2(400, "1018", f"The number of models has reached the limit of {limit} for this resource. "
                            "Delete unused models before creating new ones.")  # inferred code and text


# ---------------------------------------------------------------- v3+ errors
def v3_model_not_found() -> ServiceError:
    # real: tests/recordings/2022-08-31…fail_bad_model_id.json
    return _v3(404, "NotFound", "Resource not found.", "ModelNotFound", "The requested model was not found.")


def v3_operation_not_found() -> ServiceError:
    return _v3(404, "NotFound", "Resource not found.", "OperationNotFound",
               "The requested operation was not found. The identifier may be invalid or the operation may "
               "have expired.")  # inferred text


def v3_model_exists(model_id: str) -> ServiceError:
    return _v3(409, "Conflict", "Resource already exists.", "ModelExists",
               f"A model with the provided name already exists: '{model_id}'.")  # inferred text


def v3_invalid(message: str, inner_code: str = "InvalidParameter") -> ServiceError:
    """400 for a malformed request body/parameter; names the field (inferred wording)."""
    return _v3(400, "InvalidRequest", "Invalid request.", inner_code, message)


def v3_authorization_expired() -> ServiceError:
    """Expired authorization: 400 code 1002 as in the docs' copy error table (inner code inferred)."""
    return _v3(400, "1002", "Copy authorization has expired; request a new authorization from the target "
                            "resource.", "AuthorizationExpired", "The expirationDateTime of the copy "
                            "authorization is in the past.")


def v3_model_limit(limit: int) -> ServiceError:
    return _v3(400, "QuotaExceeded", "Quota exceeded.", "ModelCountLimitExceeded",
               f"The number of custom models has reached the limit of {limit} for this resource. Delete "
               "unused models before creating new ones.")  # inferred


# ---------------------------------------------------------------- classifiers and composed models (v3.1+/v4)
def v3_classifier_not_found() -> ServiceError:
    """Unknown classifier: the models' 404 shape; the inner text is inferred (no recorded classifier 404)."""
    return _v3(404, "NotFound", "Resource not found.", "ModelNotFound", "The requested classifier was not found.")


def v3_classifier_exists(classifier_id: str) -> ServiceError:
    return _v3(409, "Conflict", "Resource already exists.", "ModelExists",
               f"A classifier with the provided name already exists: '{classifier_id}'.")  # inferred text


def classifier_copy_region(source_region: str, target_region: str, allowed: tuple[str, ...]) -> ServiceError:
    """Classifier copy outside East US / West US 2 / West Europe. Documented as unsupported; the service's
    answer is not recorded: code, inner code and text are inferred."""
    return _v3(400, "InvalidRequest", "Invalid request.", "UnsupportedRegion",
               f"Copying a custom classifier is supported only between the regions {', '.join(allowed)}; "
               f"source region '{source_region}', target region '{target_region}'.")


def composed_copy_refused(model_id: str) -> ServiceError:
    """A 2024-11-30 composed model copy refused (emulator option ``composedCopy: refuse``). Whether the
    service copies composed models in one operation is not documented: the whole answer is inferred."""
    return _v3(400, "InvalidRequest", "Invalid request.", "InvalidModel",
               f"Model '{model_id}' is a composed model and cannot be copied. Copy its classifier and component "
               "models, then compose it on the target resource.")


# ---------------------------------------------------------------- copy failures (inside the operation)
def copy_auth_metadata() -> CopyFailure:
    """Reused / unknown authorization, or the token presented to the wrong target (real, code 2024)."""
    return CopyFailure("2024", "2024", COULD_NOT_RETRIEVE_AUTH, "AuthorizationMetadataNotFound")


def copy_invalid_claims() -> CopyFailure:
    return CopyFailure("AuthorizationError", "AuthorizationError", INVALID_CLAIMS, "InvalidAuthorizationClaims")


def copy_resource_resolver(resource_id: str, region: str) -> CopyFailure:
    return CopyFailure("ResourceResolverError", "ResourceResolverError",
                       f"Unable to retrieve information for the Cognitive resource '{resource_id}'. Ensure the "
                       f"resource is valid and exists in the specified region '{region}'.",
                       "ResourceNotFound")  # wording from the docs' error table, inner code inferred


def copy_degrade() -> CopyFailure:
    return CopyFailure("DataProtectionTransformServiceError", "DataProtectionTransformServiceError", DEGRADE,
                       "DataProtectionDowngrade")


def copy_timeout() -> CopyFailure:
    """3013 mid-way; v3+ has string codes, so the 3013 sits in innererror (representation inferred)."""
    return CopyFailure("3013", "Timeout", TIMEOUT_3013, "3013", TIMEOUT_3013)


def copy_target_full(limit: int) -> CopyFailure:
    return CopyFailure("1018", "QuotaExceeded", f"The number of custom models has reached the limit of {limit} "
                       "for the target resource.", "ModelCountLimitExceeded")  # inferred


def copy_target_exists(model_id: str, noun: str = "model") -> CopyFailure:
    return CopyFailure("1022", "Conflict", f"A {noun} with the provided name already exists: '{model_id}'.",
                       "ModelExists")  # inferred


def copy_dependencies_missing(missing: list[str]) -> CopyFailure:
    """A 2024-11-30 composed model copied to a resource that lacks its classifier or components: the copy
    fails (emulator choice, inferred code and text); nothing is created on the target."""
    return CopyFailure("1022", "InvalidRequest", "The composed model references resources that do not exist "
                       f"on the target resource: {', '.join(missing)}. Copy them first.", "ModelNotFound")


def copy_custom(code: str, message: str | None) -> CopyFailure:
    """A failure chosen by a test (copy behaviour ``fail`` with any code)."""
    known = {"2024": copy_auth_metadata, "AuthorizationError": copy_invalid_claims,
             "DataProtectionTransformServiceError": copy_degrade, "3013": copy_timeout}
    if code in known and message is None:
        return known[code]()
    text = message or f"Copy failed with injected error '{code}'."
    return CopyFailure(code, code, text, code, text)
