"""The copy steps, as the activities call them: aliases and ids in, JSON-able dicts out.

Every function takes plain JSON-able arguments (aliases, model ids, the operation URL) plus the validated
`ferry.settings.Settings`, and returns a JSON-able dict. Endpoints and credentials come only from settings.
Service failures raise `ferry.errors.FerryError` (see its `kind`, `retryable`, `retry_after`, `to_dict()`).

What the orchestration relies on, beyond the signatures:
- `check_source_model` also returns "status" ("creating" | "ready"), "source", "description" and "tags"; a v2
  model whose training failed ("invalid") raises FerryError kind "terminal" code "ModelInvalid"; a missing model
  raises kind "not_found" code "ModelNotFound".
- `authorize_and_start_copy(..., *, description=None, tags=None)`: v3+ only, passed to authorizeCopy so the
  copy carries the source's description/tags (the service takes them from the authorization, not from the
  source); pass `check_source_model(...)["description"/"tags"]`. A 429 on the copy POST is retried inline
  with the SAME authorization (a gateway 429 did not consume it), up to `COPY_POST_ATTEMPTS` times, sleeping
  Retry-After up to `MAX_INLINE_WAIT` s; other failures raise and leave the authorization unused (the next
  attempt re-authorizes). A 409 from authorize raises kind "model_exists": call `get_target_model` and
  `is_copy_of` to decide between "already done" and a conflict (then `delete_target_model` + retry, or fail).
  A "transient" failure of the copy POST (5xx, connection lost) may still have started the copy (only the
  answer was lost): a re-issued copy then races it and the later one fails with kind "model_exists" (409 on
  authorize, or ModelExists inside the operation); `get_target_model` + `is_copy_of` recognise the copy.
  The result also carries "targetModelIdAssigned" (True for v2: the service chose the id) and "apiVersion".
  A failure of the copy POST carries the authorized target model id in `FerryError.target_model_id`
  (`to_dict()["targetModelId"]`): after a lost answer (kind "transient") a copy into that id may be running, and
  in v2 a re-issue gets a NEW id, so the orchestration remembers it, adopts it if it lands, or deletes it.
- `poll_copy(..., *, target_model_id=None)`: pass the "targetModelId" from `authorize_and_start_copy`; v2.0
  may omit it in the final copy result. The result also has "serviceStatus" (e.g. "canceled" shows as
  status "failed" with error code "Canceled") and, on v3+ success, "fingerprint" (from the operation's result)
  so the target can be checked without another GET.
- `get_target_model` returns "status" ("ready" | "creating" | "invalid"; "invalid" = a leftover of a failed
  copy, e.g. after 3013: delete it) and "fingerprint" (None when the model does not exist).
- `validate_model_id(api_version, model_id) -> str | None` (pure): the HTTP trigger's 400 check.
- `describe_error(exc) -> {code,message,hint,kind}`: the error shape of results and custom status.

The copy authorization (it contains an access token) never leaves `authorize_and_start_copy`: it is neither
returned, logged, nor put into an exception.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ferry import auth as ferry_auth
from ferry.docintel import DocIntelClient, client_for
from ferry.docintel import is_copy_of as _is_copy_of
from ferry.docintel.v2 import MODEL_ID as V2_MODEL_ID
from ferry.docintel.v3 import MODEL_ID as V3_MODEL_ID
from ferry.errors import FerryError
from ferry.settings import API_VERSIONS, V2_API_VERSIONS, Resource, Settings, UnknownResourceError

log = logging.getLogger("ferry.steps")

COPY_POST_ATTEMPTS = 3
MAX_INLINE_WAIT = 10.0
_sleep = time.sleep  # replaced in tests


def validate_model_id(api_version: str, model_id: Any) -> str | None:
    """Why `model_id` cannot be a model id at `api_version` (a sentence for a 400), or None when it can."""
    if api_version not in API_VERSIONS:
        return f"API version {api_version!r} is not supported (use one of {', '.join(API_VERSIONS)})"
    if not isinstance(model_id, str) or not model_id:
        return "modelId must be a non-empty string"
    if api_version in V2_API_VERSIONS:
        if not V2_MODEL_ID.match(model_id):
            return (f"modelId {model_id[:100]!r} is not a model id of API version {api_version}: v2 model ids "
                    "are GUIDs such as 2a766146-bb85-4907-b438-23e6a35cb114")
        return None
    if not V3_MODEL_ID.match(model_id):
        return (f"modelId {model_id[:100]!r} is not a model id of API version {api_version}: 2–64 characters, "
                "letters, digits and . _ ~ -, starting with a letter or digit")
    return None


def is_copy_of(source_fingerprint: dict[str, Any], target_fingerprint: dict[str, Any]) -> bool:
    """Whether the target model (fingerprint) is the copy of the source model (fingerprint). Pure."""
    return _is_copy_of(source_fingerprint, target_fingerprint)


def describe_error(exc: BaseException) -> dict[str, Any]:
    """{code, message, hint, kind} of any exception (FerryError fields, or a generic terminal description)."""
    if isinstance(exc, FerryError):
        return {"code": exc.code, "message": exc.message, "hint": exc.hint, "kind": exc.kind}
    return {"code": type(exc).__name__, "message": str(exc)[:500], "hint": "Unexpected error; see the logs.",
            "kind": "terminal"}


# --------------------------------------------------------------------------------------------------------------
# plumbing


def _resource(settings: Settings, alias: str, operation: str) -> Resource:
    try:
        return settings.resource(alias)
    except UnknownResourceError as exc:
        raise FerryError(kind="terminal", code="UnknownResource", message=str(exc),
                         hint="Name a resource alias defined in FERRY_RESOURCES.", operation=operation,
                         resource=str(alias)) from exc


def _client(settings: Settings, resource: Resource) -> DocIntelClient:
    return client_for(resource, ferry_auth.authenticator(resource, settings))


def _invalid_id(resource: Resource, model_id: Any, operation: str, role: str) -> FerryError | None:
    problem = validate_model_id(resource.api_version, model_id)
    if problem is None:
        return None
    return FerryError(kind="terminal", code="InvalidModelId", message=f"{role} {problem}",
                      hint=f"Use a model ID that the {role} resource {resource.alias!r} "
                           f"(apiVersion {resource.api_version}) can have.",
                      operation=operation, api_version=resource.api_version, resource=resource.alias)


# --------------------------------------------------------------------------------------------------------------
# steps


def check_source_model(settings: Settings, source: str, model_id: str) -> dict[str, Any]:
    """Does the source model exist, and is it ready to be copied? Returns its fingerprint."""
    op = "check_source_model"
    resource = _resource(settings, source, op)
    invalid = _invalid_id(resource, model_id, op, "source")
    if invalid:
        raise invalid
    client = _client(settings, resource)
    model = client.get_model(model_id)
    if model is None:
        raise FerryError(kind="not_found", code="ModelNotFound",
                         message=f"model {model_id!r} does not exist on source {source!r}",
                         hint="Check the model ID and the source alias; the model must exist (and have finished "
                              "training) on the source resource.", status=404, operation=op,
                         api_version=resource.api_version, resource=source)
    status = client.model_status(model)
    if status == "invalid":
        raise FerryError(kind="terminal", code="ModelInvalid",
                         message=f"model {model_id!r} on source {source!r} is invalid (its training failed)",
                         hint="Train the model again on the source and copy the new model.", operation=op,
                         api_version=resource.api_version, resource=source)
    fingerprint = client.fingerprint(model)
    return {"modelId": model_id, "source": source, "apiVersion": resource.api_version, "status": status,
            "ready": status == "ready", "fingerprint": fingerprint,
            "description": model.get("description") if resource.generation == "v3" else None,
            "tags": model.get("tags") if resource.generation == "v3" else None}


def authorize_and_start_copy(settings: Settings, source: str, target: str, source_model_id: str,
                             target_model_id: str | None = None, degrade: bool = False, *,
                             description: str | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Authorize a copy on the target and start it on the source, in one step (the token stays here).

    Returns {"operationUrl", "targetModelId", "authorizationExpiresAt", "apiVersion", "targetModelIdAssigned"}.
    """
    op = "authorize_and_start_copy"
    src = _resource(settings, source, op)
    dst = _resource(settings, target, op)
    if src.generation != dst.generation:
        raise FerryError(kind="terminal", code="ApiGenerationMismatch",
                         message=f"source {source!r} uses apiVersion {src.api_version} and target {target!r} "
                                 f"uses {dst.api_version}: a v2 authorization cannot be used by a v3+ copy or "
                                 "the other way round",
                         hint="Configure both resources with API versions of the same generation (v2.x, or "
                              "2022-08-31 and later) in FERRY_RESOURCES.", operation=op, resource=target)
    invalid = _invalid_id(src, source_model_id, op, "source")
    if invalid:
        raise invalid
    if dst.generation == "v2":
        if target_model_id is not None:
            raise FerryError(kind="terminal", code="TargetModelIdNotSupported",
                             message=f"target {target!r} (apiVersion {dst.api_version}) assigns model ids "
                                     f"itself; {target_model_id!r} cannot be chosen",
                             hint="Leave the target model ID out for v2 resources.", operation=op,
                             api_version=dst.api_version, resource=target)
    else:
        target_model_id = target_model_id or source_model_id
        invalid = _invalid_id(dst, target_model_id, op, "target")
        if invalid:
            raise invalid
    if source == target and dst.generation == "v3" and target_model_id == source_model_id:
        raise FerryError(kind="terminal", code="SameModel",
                         message=f"copying {source_model_id!r} onto itself on {source!r}",
                         hint="Choose another target resource or another target model ID.", operation=op,
                         resource=target)

    target_client = _client(settings, dst)
    source_client = _client(settings, src)
    authorization = target_client.authorize_copy(
        model_id=target_model_id if dst.generation == "v3" else None,
        description=description if dst.generation == "v3" else None,
        tags=tags if dst.generation == "v3" else None)
    operation_url = None
    for attempt in range(1, COPY_POST_ATTEMPTS + 1):
        try:
            operation_url = source_client.start_copy(source_model_id, authorization, target=dst, degrade=degrade)
            break
        except FerryError as exc:
            if exc.kind != "throttled" or attempt == COPY_POST_ATTEMPTS:
                # The id (never the token) goes with the error: after a lost answer the copy may be running.
                exc.target_model_id = authorization.target_model_id
                raise
            wait = min(exc.retry_after if exc.retry_after is not None else 1.0, MAX_INLINE_WAIT)
            log.warning("copy POST of %s on %s throttled; retrying with the same authorization in %.1f s "
                        "(attempt %d of %d)", source_model_id, source, wait, attempt + 1, COPY_POST_ATTEMPTS)
            _sleep(wait)
    log.info("copy of %s from %s to %s started (target model %s)", source_model_id, source, target,
             authorization.target_model_id)
    return {"operationUrl": operation_url, "targetModelId": authorization.target_model_id,
            "authorizationExpiresAt": authorization.expires_at, "apiVersion": src.api_version,
            "targetModelIdAssigned": dst.generation == "v2"}


def poll_copy(settings: Settings, source: str, operation_url: str, *,
              target_model_id: str | None = None) -> dict[str, Any]:
    """One poll of a started copy: {"status", "targetModelId", "error", "retryAfter", "serviceStatus", ...}."""
    op = "poll_copy"
    resource = _resource(settings, source, op)
    client = _client(settings, resource)
    state = client.get_copy_status(operation_url, target_model_id=target_model_id)
    out: dict[str, Any] = {"status": state.status, "targetModelId": state.target_model_id,
                           "error": describe_error(state.error) if state.error else None,
                           "retryAfter": state.retry_after, "serviceStatus": state.service_status}
    if state.status == "succeeded" and state.result:
        out["fingerprint"] = client.fingerprint(state.result)
    if state.error:
        out["error"]["retryable"] = state.error.retryable
    return out


def get_target_model(settings: Settings, target: str, target_model_id: str) -> dict[str, Any]:
    """The model on the target: {"exists", "modelId", "fingerprint", "status"}."""
    op = "get_target_model"
    resource = _resource(settings, target, op)
    invalid = _invalid_id(resource, target_model_id, op, "target")
    if invalid:
        raise invalid
    client = _client(settings, resource)
    model = client.get_model(target_model_id)
    if model is None:
        return {"exists": False, "modelId": target_model_id, "fingerprint": None, "status": None}
    return {"exists": True, "modelId": target_model_id, "fingerprint": client.fingerprint(model),
            "status": client.model_status(model)}


def delete_target_model(settings: Settings, target: str, target_model_id: str) -> dict[str, Any]:
    """Delete a model on the target (cleanup of a failed/timed-out copy): {"deleted": bool}."""
    op = "delete_target_model"
    resource = _resource(settings, target, op)
    invalid = _invalid_id(resource, target_model_id, op, "target")
    if invalid:
        raise invalid
    deleted = _client(settings, resource).delete_model(target_model_id)
    log.info("target model %s on %s %s", target_model_id, target, "deleted" if deleted else "was already absent")
    return {"deleted": deleted}
