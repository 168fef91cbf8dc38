"""ModelFerry's error taxonomy: every failure of a service call becomes one `FerryError` with a `kind`.

The orchestration acts on `kind` (and `retryable` / `retry_after`), people act on `hint`. There is exactly one
classification function, `classify`, from what a call produced (HTTP status, headers, body, or the exception
raised by the transport) plus the API version and the operation, to a FerryError; the REST clients call it for
every non-success response and for failed copy operations, so the same service error always means the same
thing whatever API generation produced it.

Kinds (`KINDS`):
- "throttled"        429: retry after `retry_after` seconds (Retry-After / retry-after-ms / message).
- "transient"        5xx, 408, connection errors, client timeouts: retry with backoff.
- "authorization"    the copy authorization is expired, reused, lost or was modified: re-authorize on the target
                     and re-issue the copy (bounded by FERRY_MAX_AUTHORIZATION_ATTEMPTS).
- "model_exists"     409 on authorize: the target model id is taken (earlier copy or a dangling authorization).
- "not_found"        the model or operation does not exist (source model missing, operation expired).
- "not_ready"        the source model is still being built.
- "unauthorized"     401/403: wrong key, wrong endpoint, missing role or firewall.
- "quota"            out of call volume (F0 monthly quota) or the target's model-count limit is reached.
- "degrade_required" CMK → non-CMK copy without x-ms-forms-copy-degrade.
- "timeout"          the service gave up (3013) or our deadline passed; an invalid target model needs cleanup.
- "terminal"         anything else: do not retry, report code, message and hint.
- "invalid_request"  a copy request (HTTP body, event, orchestration input) that cannot be run: answer 400.
- "invalid_settings" the app settings are invalid: fix the named setting and restart.
- "internal"         a bug inside ModelFerry (an activity raised): see the host log.
- "missed_slot"      a rate-paced call's activity started too long after its budget slot: nothing was sent; the
                     orchestration takes a new slot (a late call would crowd the next window into a 429).

Request and settings errors use the same shape as service errors, so every caller reads one dict
(`to_dict()` / `from_dict()`); what a person sees is `public()`: code, message, hint.

`retryable` means "the same request may succeed if simply repeated later"; only "throttled", "transient",
"not_ready" and "missed_slot" are. Messages and hints never contain keys or tokens: they are built from the
service's error code/message (which never echo credentials) and from names, never from request headers or
bodies.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

KINDS: tuple[str, ...] = ("throttled", "transient", "authorization", "model_exists", "not_found", "not_ready",
                          "unauthorized", "quota", "degrade_required", "timeout", "terminal", "invalid_request",
                          "invalid_settings", "internal", "missed_slot")
RETRYABLE_KINDS = frozenset({"throttled", "transient", "not_ready", "missed_slot"})
MAX_MESSAGE_CHARS = 1000

# Fragments of service messages that identify an error independently of its code (codes differ per generation).
_MSG_QUOTA = "out of call volume quota"
_MSG_AUTH_METADATA = ("could not retrieve authorization metadata", "couldn't retrieve authorization metadata")
_MSG_AUTH_CLAIMS = "authorization claims"
_MSG_DEGRADE = "less secure data protection scheme"
_MSG_RESOLVER = ("fetch information for cognitive resource", "fetch information for the cognitive resource",
                 "retrieve information for the cognitive resource")
_MSG_MAX_TIME = "exceeded maximum processing time"
_RETRY_IN_MESSAGE = re.compile(r"retry after (\d+(?:\.\d+)?) second", re.IGNORECASE)
_SECRETISH = re.compile(r'("?(?:accessToken|access_token|Ocp-Apim-Subscription-Key|Authorization)"?\s*[:=]\s*)'
                        r'("[^"]*"|(?:Bearer\s+)?[^\s,}]+)', re.IGNORECASE)


class FerryError(Exception):
    """A classified failure of a Document Intelligence / Form Recognizer call (or of a copy operation)."""

    def __init__(self, *, kind: str, code: str, message: str, hint: str, status: int | None = None,
                 retry_after: float | None = None, retryable: bool | None = None, operation: str | None = None,
                 api_version: str | None = None, resource: str | None = None, request_id: str | None = None,
                 inner_code: str | None = None, target_model_id: str | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown FerryError kind {kind!r}; use one of {', '.join(KINDS)}")
        self.kind = kind
        self.code = str(code)
        self.message = redact(message)[:MAX_MESSAGE_CHARS]
        self.hint = hint
        self.status = status
        self.retry_after = retry_after
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.operation = operation
        self.api_version = api_version
        self.resource = resource
        self.request_id = request_id
        self.inner_code = inner_code
        # The target model id a failed copy POST had been authorized for (not secret): when the answer was lost
        # the copy may be running anyway, and in v2 a re-issue gets a new id, so the caller must remember it.
        self.target_model_id = target_model_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" [{self.operation} on {self.resource}]" if self.operation and self.resource else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.kind}: {self.code}{status}{where}: {self.message} Hint: {self.hint}"

    def __reduce__(self):  # keep the fields across pickling (process pools, durable serialisers)
        return (_rebuild, (self.to_dict(),))

    def public(self) -> dict[str, str]:
        """What a caller of the app sees (results, HTTP error bodies): code, message, hint; nothing internal."""
        return {"code": self.code, "message": self.message or "the service reported a failure without a message",
                "hint": self.hint}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (what activities return and the orchestration reports). Contains no secrets."""
        return {"kind": self.kind, "code": self.code, "message": self.message, "hint": self.hint,
                "status": self.status, "retryable": self.retryable, "retryAfter": self.retry_after,
                "operation": self.operation, "apiVersion": self.api_version, "resource": self.resource,
                "requestId": self.request_id, "innerCode": self.inner_code,
                "targetModelId": self.target_model_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FerryError:
        """Inverse of to_dict (e.g. for an orchestrator that received an activity's error dict).

        Tolerant of partial dicts (a public `{code, message, hint}`): a missing or unknown kind reads "terminal"."""
        data = data or {}
        kind = data.get("kind") if data.get("kind") in KINDS else "terminal"
        return cls(kind=kind, code=str(data.get("code") or "Unknown"),
                   message=str(data.get("message") or ""), hint=str(data.get("hint") or ""),
                   status=data.get("status"),
                   retry_after=data.get("retryAfter"), retryable=data.get("retryable"),
                   operation=data.get("operation"), api_version=data.get("apiVersion"),
                   resource=data.get("resource"), request_id=data.get("requestId"),
                   inner_code=data.get("innerCode"), target_model_id=data.get("targetModelId"))


def _rebuild(data: dict[str, Any]) -> FerryError:
    return FerryError.from_dict(data)


def settings_error(setting: str | None, message: str) -> FerryError:
    """The app settings are invalid; `setting` names the first offending one."""
    where = f"the app setting {setting}" if setting else "the app settings"
    return FerryError(kind="invalid_settings", code="InvalidSettings", message=message,
                      hint=f"Fix {where} and restart the Function App.")


def internal_error(exc: BaseException) -> FerryError:
    """A bug inside ModelFerry (an activity raised, bad input): the exception's first line, never a traceback."""
    text = str(exc).strip()
    return FerryError(kind="internal", code="InternalError",
                      message=text.splitlines()[0][:300] if text else type(exc).__name__, hint=HINTS["internal"])


def redact(text: str) -> str:
    """Blank anything shaped like a credential assignment; a last line of defence for service-echoed text."""
    return _SECRETISH.sub(lambda m: m.group(1) + '"***"', str(text))


# --------------------------------------------------------------------------------------------------------------
# helpers


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date), retry-after-ms or x-ms-retry-after-ms."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = _header(headers, name)
        if value is not None:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _body_json(body: Any) -> Any:
    if body is None or isinstance(body, dict | list):
        return body
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return body
    return None


def extract_service_error(body: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(code, message, inner_code, inner_message) from any of the service's error shapes.

    Shapes: v2/v3/v4 `{"error": {code, message, innererror?}}`; v2 failed copy `{"status": "failed",
    "copyResult": {"errors": [{code, message, innerError}]}}`; v3/v4 failed operation
    `{"status": "failed", "error": {code, message, innererror}}`; also a bare error object.
    """
    data = _body_json(body)
    if not isinstance(data, dict):
        text = data.strip()[:MAX_MESSAGE_CHARS] if isinstance(data, str) and data.strip() else None
        return None, text, None, None
    err: Any = data.get("error")
    if err is None and isinstance(data.get("copyResult"), dict):
        errors = data["copyResult"].get("errors") or []
        err = errors[0] if errors and isinstance(errors[0], dict) else None
    if err is None and ("code" in data and "message" in data):
        err = data
    if not isinstance(err, dict):
        return None, None, None, None
    code = err.get("code")
    message = err.get("message")
    inner = err.get("innererror") or err.get("innerError")
    inner_code = inner_message = None
    # Walk nested innererrors: the deepest code is the most specific (e.g. NotFound → ModelNotFound).
    while isinstance(inner, dict) and (inner.get("code") or inner.get("message")):
        inner_code = inner.get("code") or inner_code
        inner_message = inner.get("message") or inner_message
        inner = inner.get("innererror") or inner.get("innerError")
    if not inner_code and isinstance(err.get("details"), list) and err["details"]:
        first = err["details"][0]
        if isinstance(first, dict):
            inner_code, inner_message = first.get("code"), first.get("message")
    return (None if code is None else str(code), None if message is None else str(message),
            None if inner_code is None else str(inner_code), inner_message)


# --------------------------------------------------------------------------------------------------------------
# hints (one per situation; say what to do)

HINTS = {
    "missed_slot": "The host started the call's activity after its rate-limit slot, so nothing was sent and "
                   "ModelFerry takes a new slot. If this is frequent, raise FERRY_PACING_LEAD_MS.",
    "unauthorized": "Check the resource's key and endpoint in FERRY_RESOURCES: the key in its Key Vault secret "
                    "(keySecretName) must be a current key of that resource (ModelFerry re-reads it once after "
                    "a 401, so a rotated key is picked up), and the endpoint must be that resource's endpoint. "
                    "Without keySecretName, give the Function App's managed identity the 'Cognitive Services "
                    "User' role on the resource.",
    "forbidden": "The resource refused the caller: give the Function App's identity the 'Cognitive Services "
                 "User' role, or allow its outbound addresses in the resource's network rules.",
    "quota": "The resource is out of its call volume quota (F0 monthly limit): wait for the quota to reset or "
             "move the resource to a paid tier (S0). Retrying now will not help.",
    "model_limit": "The target resource has reached its maximum number of custom models: delete unused models "
                   "on the target (or use another target resource), then run the copy again.",
    "throttled": "The service is rate-limiting this resource; ModelFerry waits for Retry-After and retries. "
                 "If it persists, the resource's tier/managementRate in FERRY_RESOURCES is above its real limit, or "
                 "another client shares the resource: lower the rate given to ModelFerry.",
    "transient": "A temporary service or network failure; ModelFerry retries with backoff. If it persists, "
                 "check the resource's health in the Azure portal and the endpoint in FERRY_RESOURCES.",
    "not_found_model": "The model does not exist on this resource: check the model ID and the source alias "
                       "(FERRY_SOURCE / the request's source), and that the model finished training.",
    "not_found_operation": "The copy operation is no longer known to the service (operations are kept for "
                           "24 h): check whether the model exists on the target, and start the copy again.",
    "route": "The service has no such route: check the endpoint and apiVersion of this resource in "
             "FERRY_RESOURCES (a Form Recognizer v2 resource path, or an empty model ID, also gives this).",
    "model_exists": "A model with this ID already exists on the target (an earlier copy, another model, or an "
                    "unfinished authorization holding the name). If it is not the copy of this source model, "
                    "delete it on the target or copy under another target model ID.",
    "authorization": "The copy authorization is expired, already used, or was changed: ModelFerry requests a "
                     "fresh authorization on the target and re-issues the copy (up to "
                     "FERRY_MAX_AUTHORIZATION_ATTEMPTS times). If it persists, copy into a different target "
                     "model ID.",
    "resolver": "The service could not find the target resource: check the target's resourceId and region in "
                "FERRY_RESOURCES (they must be the target resource's ARM id and its region, lower case).",
    "region": "The target region is not valid: set the target's region in FERRY_RESOURCES to its Azure region "
              "name in lower case (e.g. westus2), the region of the target resource.",
    "resource_id": "The target resource id is malformed: set resourceId in FERRY_RESOURCES to "
                   "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/"
                   "accounts/<name> of the target resource.",
    "validation": "The service rejected the request as invalid: check the model ID and the source/target "
                  "settings in FERRY_RESOURCES (endpoint, region, resourceId, apiVersion).",
    "degrade_required": "The source resource uses a customer-managed key (CMK) and the target does not: the "
                        "copy must be sent with x-ms-forms-copy-degrade: true. Set FERRY_ALLOW_CMK_DEGRADE=true "
                        "if storing the copy under the target's weaker protection is acceptable, or copy to a "
                        "CMK-encrypted target.",
    "timeout": "The service stopped the copy after its maximum processing time; the target may hold an invalid "
               "model with this ID: delete it on the target (ModelFerry does this on cleanup) and copy again.",
    "not_ready": "The source model is not ready yet (still training): wait until its status is ready and start "
                 "the copy again.",
    "retired": "This API version has been retired by the service: set apiVersion of this resource in "
               "FERRY_RESOURCES to a supported version (v2.1, 2023-07-31 or 2024-11-30).",
    "canceled": "The copy operation was canceled on the service side: start the copy again.",
    "tls": "The TLS connection failed: check the endpoint's host name in FERRY_RESOURCES (and, locally, the CA "
           "bundle of the loopback service).",
    "terminal": "The service rejected the request; see the code and message, fix the cause, and start the copy "
                "again.",
    "invalid_request": "Correct the request (aliases are keys of FERRY_RESOURCES) and send it again.",
    "invalid_settings": "Fix the app setting named in the message and restart the Function App.",
    "internal": "Unexpected failure inside ModelFerry; see the host log for this instance.",
}


def _lower(*parts: str | None) -> str:
    return " ".join(p for p in parts if p).lower()


def classify(*, status: int | None, headers: Mapping[str, str] | None = None, body: Any = None,
             api_version: str | None = None, operation: str | None = None, resource: str | None = None,
             exc: BaseException | None = None) -> FerryError:
    """Classify one failed call (or a failed copy operation) into a FerryError.

    `status`/`headers`/`body` are the response (a failed copy poll is HTTP 200 with the failure in the body);
    `exc` is the transport exception when no response arrived (status None). `operation` names the call
    ("authorize_copy", "copy", "poll_copy", "get_model", "delete_model", ...), `resource` the alias.
    """
    ctx = {"operation": operation, "api_version": api_version, "resource": resource}
    request_id = _header(headers, "apim-request-id")

    if exc is not None and status is None:
        return _classify_exception(exc, ctx)

    code, message, inner_code, inner_message = extract_service_error(body)
    header_code = _header(headers, "ms-azure-ai-errorcode")
    code = code or header_code or (str(status) if status is not None else "Unknown")
    message = message or inner_message or f"HTTP {status} from {operation or 'the service'}"
    text = _lower(code, message, inner_code, inner_message)
    codes = {c.lower() for c in (code, inner_code, header_code) if c}
    retry_after = parse_retry_after(headers)
    if retry_after is None and status == 429:
        found = _RETRY_IN_MESSAGE.search(message)
        retry_after = float(found.group(1)) if found else None

    def make(kind: str, hint_key: str | None = None, **extra: Any) -> FerryError:
        return FerryError(kind=kind, code=code, message=message, hint=HINTS[hint_key or kind], status=status,
                          retry_after=extra.pop("retry_after", None), request_id=request_id,
                          inner_code=inner_code, **ctx, **extra)

    # Message-identified errors first: the same condition comes with different codes per generation/status.
    if _MSG_QUOTA in text:
        return make("quota")
    if any(m in text for m in _MSG_AUTH_METADATA) or "2024" in codes:
        return make("authorization")
    if _MSG_AUTH_CLAIMS in text or "authorizationerror" in codes:
        return make("authorization")
    if _MSG_DEGRADE in text or "dataprotectiontransformserviceerror" in codes:
        return make("degrade_required")
    if any(m in text for m in _MSG_RESOLVER) or "resourceresolvererror" in codes:
        return make("terminal", "resolver")
    if _MSG_MAX_TIME in text or "3013" in codes:
        return make("timeout")
    if "modelnotready" in codes or (status == 400 and "not ready" in text):
        return make("not_ready", retry_after=retry_after)
    if _is_model_limit(text):
        return make("quota", "model_limit")

    if status == 429:
        return make("throttled", retry_after=retry_after)
    if status == 401:
        return make("unauthorized")
    if status == 403:
        return make("unauthorized", "forbidden")
    if status == 409 or codes & {"modelexists", "conflict"} or "already exists" in text:
        return make("model_exists")
    if status == 410:
        return make("terminal", "retired")
    if status == 404:
        if code == "404":  # APIM gateway: no route matched (wrong path / empty id), not "model missing"
            return make("terminal", "route")
        if operation == "poll_copy" or "operationnotfound" in codes:
            # v3+ OperationNotFound, v2 1022 "Copy result … not found": the operation expired (24 h) or never was
            return make("not_found", "not_found_operation")
        return make("not_found", "not_found_model")
    if status is not None and (status >= 500 or status == 408):
        return make("transient", retry_after=retry_after)
    if status == 400 or "1002" in codes:
        if "expire" in text or "authoriz" in text or "access token" in text:
            return make("authorization")
        if "region" in text:
            return make("terminal", "region")
        if "resourceid" in text or "resource id" in text:
            return make("terminal", "resource_id")
        return make("terminal", "validation")
    if "canceled" in codes or "cancelled" in codes:
        return make("terminal", "canceled")
    return make("terminal")


_MODEL_LIMIT = re.compile(
    r"(max(imum)?|limit (on|of)( the)?) (number|count) of (custom |document )?models"
    r"|number of (custom |document )?models (has )?(reached|exceeded)"
    r"|model(s)? (count|number) (limit|quota)|model (count|quota|limit) (exceeded|reached)"
    r"|(custom|document) models? (limit|quota|count) (exceeded|reached)|modelquotaexceeded|modelcountlimit")


def _is_model_limit(text: str) -> bool:
    """The target's cap on custom models (F0 500 / S0 5000 template); never the per-second *rate* limit."""
    return "rate limit" not in text and _MODEL_LIMIT.search(text) is not None


def _classify_exception(exc: BaseException, ctx: dict[str, Any]) -> FerryError:
    import requests  # here, not at the top: ferry.orchestration imports this module and must load no HTTP client

    # The exception text names the URL (no secrets: keys and tokens only ever travel in headers/bodies).
    name = f"{type(exc).__name__}: {str(exc)[:300]}"
    if isinstance(exc, requests.exceptions.SSLError):
        return FerryError(kind="terminal", code="TlsError", message=f"TLS handshake failed ({name})",
                          hint=HINTS["tls"], **ctx)
    if isinstance(exc, requests.exceptions.Timeout):
        return FerryError(kind="transient", code="Timeout", message=f"the service did not answer in time ({name})",
                          hint=HINTS["transient"], **ctx)
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
                  | ConnectionError):
        return FerryError(kind="transient", code="ConnectionError",
                          message=f"could not reach the service ({name})", hint=HINTS["transient"], **ctx)
    return FerryError(kind="terminal", code=type(exc).__name__, message=f"the request failed ({name})",
                      hint=HINTS["terminal"], **ctx)


def canceled_error(*, api_version: str | None, operation: str | None, resource: str | None,
                   status_text: str = "canceled") -> FerryError:
    """A copy operation that ended `canceled` (or `skipped`) without an error object."""
    return FerryError(kind="terminal", code="Canceled" if status_text == "canceled" else "Skipped",
                      message=f"the copy operation ended with status {status_text!r}", hint=HINTS["canceled"],
                      api_version=api_version, operation=operation, resource=resource)
