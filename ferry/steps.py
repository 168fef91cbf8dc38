"""The copy steps, as the activities call them: aliases and ids in, typed contracts (`ferry.contracts`) out.

Every function takes plain arguments (aliases, model ids, the operation URL) plus the validated
`ferry.settings.Settings`; endpoints and credentials come only from settings. Service failures raise
`ferry.errors.FerryError` (its `kind` tells the orchestration what to do).

What the orchestration relies on:
- `check_source_model`: a missing model is kind "not_found" code "ModelNotFound"; a v2 model whose training
  failed is "terminal" "ModelInvalid"; a v2 model still training comes back with status "creating".
- `authorize_and_start_copy`: one step, so the authorization (it holds an access token) is neither returned,
  logged nor put into an exception. v3+ passes the source's description/tags to authorizeCopy (a copy takes
  them from the authorization, not from the source). Both calls wait for the rate-budget slot the orchestration
  got (`not_before`, `hold_until`). An unpaced 429 on the copy POST is retried inline with the SAME
  authorization (a gateway 429 did not consume it), up to `COPY_POST_ATTEMPTS` times (a paced one is not: the
  orchestration takes a new slot); a 409 on authorize is
  kind "model_exists" (decide with `get_target_model` + `is_copy_of`). Any failure of the copy POST carries the
  authorized target id in `FerryError.target_model_id`: after a lost answer (kind "transient") a copy into that
  id may be running, and in v2 a re-issue gets a NEW id, so the orchestration must remember it.
- `poll_copy`: pass the target id from the start (v2.0 may omit it in the final result); "canceled"/"skipped"
  read as failed with code Canceled/Skipped.
- `get_target_model`: status "ready" | "creating" | "invalid" ("invalid": a leftover of a failed copy, e.g. after
  3013: delete it) and the fingerprint (None when the model does not exist).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from ferry import auth as ferry_auth
from ferry import generations
from ferry.contracts import CopyPoll, CopyStarted, Deleted, SourceModel, TargetCopies, TargetModel
from ferry.docintel import DocIntelClient, V3Client, client_for, is_copy_of
from ferry.docintel.fingerprint import normalize_time
from ferry.errors import HINTS, FerryError
from ferry.generations import validate_model_id
from ferry.kinds import Kind, composed, kind_named
from ferry.provenance import provenance_tags
from ferry.settings import Resource, Settings, UnknownResourceError

log = logging.getLogger("modelferry.steps")

COPY_POST_ATTEMPTS = 3
MAX_INLINE_WAIT = 10.0
MAX_HOLD_SECONDS = 1.0
_sleep = time.sleep  # replaced in tests
_now = time.time  # replaced in tests


def hold_until(not_before: str | None) -> float:
    """Wait until `not_before` (ISO-8601) if it is at most MAX_HOLD_SECONDS away; returns the seconds held.

    Why: the orchestration wakes a calling activity slightly before its rate-budget slot (a durable timer and
    an activity dispatch take a variable time), and the activity sends the rate-limited calls at the slot
    itself, so calls from many orchestrations keep the spacing the budget gave them. Anything further away is
    not this activity's business (clocks that disagree, a replayed input): it does not wait at all."""
    when = _instant(not_before)
    if when is None:
        return 0.0
    wait = when - _now()
    if 0 < wait <= MAX_HOLD_SECONDS:
        _sleep(wait)
        return wait
    return 0.0


def late_by(not_before: str | None) -> float:
    """Seconds the wall clock is past `not_before` (0 when it is not, or when there is no readable instant)."""
    when = _instant(not_before)
    return max(_now() - when, 0.0) if when is not None else 0.0


def _instant(not_before: str | None) -> float | None:
    if not not_before:
        return None
    try:
        when = datetime.fromisoformat(not_before.replace("Z", "+00:00"))
    except ValueError:
        log.warning("ignoring an unreadable not-before instant %r", not_before)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


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


def _invalid_id(resource: Resource, model_id: Any, operation: str, role: str, kind: Kind | None = None
                ) -> FerryError | None:
    """Why `model_id` cannot be copied from/to `resource` (an id the API version refuses, or a kind this API
    version or region cannot copy, e.g. a composed model's classifier outside the classifier-copy regions)."""
    what = kind.name if kind else "model"
    problem = validate_model_id(resource.api_version, model_id, what)
    if problem is not None:
        return FerryError(kind="terminal", code="InvalidModelId", message=f"{role} {problem}",
                          hint=f"Use a {what} ID that the {role} resource {resource.alias!r} "
                               f"(apiVersion {resource.api_version}) can have.",
                          operation=operation, api_version=resource.api_version, resource=resource.alias)
    refusal = kind.copy_refusal(resource.api_version, resource.region) if kind else None
    if refusal is None:
        return None
    return FerryError(kind="terminal", code=f"{what.capitalize()}CopyNotSupported",
                      message=f"{role} {resource.alias!r}: {refusal}",
                      hint=f"Copy {what}s between resources at apiVersion {' or '.join(kind.api_versions or ())}"
                           + (f" in the regions {', '.join(kind.regions)}" if kind.regions else "") + ".",
                      operation=operation, api_version=resource.api_version, resource=resource.alias)


# --------------------------------------------------------------------------------------------------------------
# steps


def check_source_model(settings: Settings, source: str, model_id: str, kind_name: str | None = None
                       ) -> SourceModel:
    """Does the source model (or artifact of kind `kind_name`) exist, and is it ready to be copied? Returns its
    fingerprint and what must be copied before it (`ferry.kinds`)."""
    op = "check_source_model"
    kind = kind_named(kind_name)
    resource = _resource(settings, source, op)
    invalid = _invalid_id(resource, model_id, op, "source", kind)
    if invalid:
        raise invalid
    client = _client(settings, resource)
    model = client.get_model(model_id, kind=kind)
    if model is None and isinstance(client, V3Client):
        building = _being_built(client, resource, source, model_id, kind)
        if building is not None:
            return building
    if model is None:
        raise FerryError(kind="not_found", code="ModelNotFound" if kind.name == "model" else "ClassifierNotFound",
                         message=f"{kind.name} {model_id!r} does not exist on source {source!r}",
                         hint=f"Check the {kind.name} ID and the source alias; the {kind.name} must exist (and have "
                              "finished training) on the source resource.", status=404, operation=op,
                         api_version=resource.api_version, resource=source)
    status = client.model_status(model)
    if status == "invalid":
        raise FerryError(kind="terminal", code="ModelInvalid",
                         message=f"{kind.name} {model_id!r} on source {source!r} is invalid (its training failed)",
                         hint=f"Train the {kind.name} again on the source and copy the new one.", operation=op,
                         api_version=resource.api_version, resource=source)
    v3_plus = not resource.is_v2
    return SourceModel(model_id=model_id, source=source, api_version=resource.api_version, status=status,
                       ready=status == "ready", fingerprint=client.fingerprint(model, kind),
                       description=model.get("description") if v3_plus else None,
                       tags=model.get("tags") if v3_plus else None,
                       dependencies=[d.to_dict() for d in kind.dependencies(model)] if v3_plus else [],
                       created=model.get("createdDateTime") if v3_plus else None)


def _being_built(client: V3Client, resource: Resource, source: str, model_id: str, kind: Kind
                 ) -> SourceModel | None:
    """A v3+ model that does not exist yet: "creating" while its build/compose runs; its build's error if the
    build failed; None if no build of it is known (so: ModelNotFound)."""
    build = client.find_build(model_id, kind)
    status = str((build or {}).get("status") or "")
    if status in ("notStarted", "running"):
        log.info("%s %s on %s is still being built (%s %s)", kind.name, model_id, source, build.get("kind"), status)
        return SourceModel(model_id=model_id, source=source, api_version=resource.api_version, status="creating",
                           ready=False)
    if status != "failed":
        return None
    error = client.build_error(str(build.get("operationId") or ""))
    inner = error.get("innererror") if isinstance(error.get("innererror"), dict) else {}
    detail = inner.get("message") or error.get("message") or "no details"
    raise FerryError(kind="terminal", code=str(error.get("code") or "ModelBuildFailed"),
                     message=f"model {model_id!r} does not exist on source {source!r}: its build failed: {detail}",
                     hint="Fix what the build's error names (training data, its container and access), build the "
                          "model again on the source, then copy it.", operation="check_source_model",
                     api_version=resource.api_version, resource=source, inner_code=inner.get("code"))


def authorize_and_start_copy(settings: Settings, source: str, target: str, source_model_id: str,
                             target_model_id: str | None = None, degrade: bool = False, *,
                             description: str | None = None, tags: dict[str, str] | None = None,
                             not_before: str | None = None, kind_name: str | None = None,
                             source_created: str | None = None, origin: str | None = None) -> CopyStarted:
    """Authorize a copy on the target and start it on the source, in one step (the token stays here); both calls
    go out no earlier than `not_before` (the rate-budget slot, see `hold_until`), and not at all when the
    activity starts more than FERRY_PACING_MARGIN_MS after it (kind "missed_slot": the orchestration takes a new
    slot).

    v3+: the copy's tags are the source's own `tags` with ModelFerry's provenance over them
    (`ferry.provenance.provenance_tags`; `source_created` is the source's createdDateTime as the service wrote it),
    so sync, prune and the replica catalog recognise the copy from the target's model list alone. A relayed copy
    (`origin` given: `source` holds a replica of origin's model) names `origin` there, like a direct copy would."""
    op = "authorize_and_start_copy"
    kind = kind_named(kind_name)
    src = _resource(settings, source, op)
    dst = _resource(settings, target, op)
    if generations.copy_family(src.api_version) != generations.copy_family(dst.api_version):
        raise FerryError(kind="terminal", code="ApiGenerationMismatch",
                         message=f"source {source!r} uses apiVersion {src.api_version} and target {target!r} "
                                 f"uses {dst.api_version}: a v2 authorization cannot be used by a v3+ copy or "
                                 "the other way round",
                         hint="Configure both resources with API versions of the same generation (v2.x, or "
                              "2022-08-31 and later) in FERRY_RESOURCES.", operation=op, resource=target)
    invalid = _invalid_id(src, source_model_id, op, "source", kind)
    if invalid:
        raise invalid
    if dst.is_v2:
        if target_model_id is not None:
            raise FerryError(kind="terminal", code="TargetModelIdNotSupported",
                             message=f"target {target!r} (apiVersion {dst.api_version}) assigns model ids "
                                     f"itself; {target_model_id!r} cannot be chosen",
                             hint="Leave the target model ID out for v2 resources.", operation=op,
                             api_version=dst.api_version, resource=target)
    else:
        target_model_id = target_model_id or source_model_id
        invalid = _invalid_id(dst, target_model_id, op, "target", kind)
        if invalid:
            raise invalid
    if source == target and not dst.is_v2 and target_model_id == source_model_id:
        raise FerryError(kind="terminal", code="SameModel",
                         message=f"copying {source_model_id!r} onto itself on {source!r}",
                         hint="Choose another target resource or another target model ID.", operation=op,
                         resource=target)

    named = _resource(settings, origin, op) if origin else src
    target_client = _client(settings, dst)
    source_client = _client(settings, src)
    hold_until(not_before)
    late = late_by(not_before)
    if late > settings.pacing_margin_ms / 1000.0:
        # Sent now, the calls would land in the window after their slot's and crowd it into a 429: send nothing.
        raise FerryError(kind="missed_slot", code="MissedRateSlot",
                         message=f"the copy's activity started {late * 1000:.0f} ms after its rate-budget slot "
                                 f"(more than FERRY_PACING_MARGIN_MS, {settings.pacing_margin_ms:g} ms); nothing "
                                 "was sent", hint=HINTS["missed_slot"], operation=op, resource=source)
    v3_plus = not dst.is_v2
    authorization = target_client.authorize_copy(
        model_id=target_model_id if v3_plus else None,
        description=description if v3_plus else None,
        # models carry ModelFerry's provenance (classifiers have no tags: recognised by id and the fields kept)
        tags=provenance_tags(source_resource=named.resource_id, source_model_id=source_model_id,
                             source_created=source_created, own_tags=tags)
        if v3_plus and kind.name == "model" else (tags if v3_plus else None), kind=kind)
    operation_url = None
    # A paced call (`not_before` given) is not retried here: a retry after Retry-After would bypass the rate
    # budget and, landing a whole second later, collide with the next paced call; the orchestration waits and
    # takes a new slot instead (at the cost of a fresh authorization on the target, itself paced).
    attempts = 1 if not_before else COPY_POST_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            operation_url = source_client.start_copy(source_model_id, authorization, target=dst, degrade=degrade,
                                                     kind=kind)
            break
        except FerryError as exc:
            if exc.kind != "throttled" or attempt == attempts:
                # The id (never the token) goes with the error: after a lost answer the copy may be running.
                exc.target_model_id = authorization.target_model_id
                raise
            wait = min(exc.retry_after if exc.retry_after is not None else 1.0, MAX_INLINE_WAIT)
            log.warning("copy POST of %s on %s throttled; retrying with the same authorization in %.1f s "
                        "(attempt %d of %d)", source_model_id, source, wait, attempt + 1, COPY_POST_ATTEMPTS)
            _sleep(wait)
    log.info("copy of %s from %s to %s started (target model %s)", source_model_id, source, target,
             authorization.target_model_id)
    return CopyStarted(operation_url=str(operation_url), target_model_id=authorization.target_model_id,
                       authorization_expires_at=authorization.expires_at)


def compose_on_target(settings: Settings, source: str, target: str, source_model_id: str,
                      target_model_id: str | None = None, *, not_before: str | None = None) -> CopyStarted:
    """Compose a 2024-11-30 composed model again on the target from the source's definition (classifier, doc
    types with their component ids and settable fields, split, description, tags), when the service refused to
    copy it. Its classifier and components must already be on the target under the same ids. Poll the returned
    operation on the TARGET."""
    op = "compose_on_target"
    src = _resource(settings, source, op)
    dst = _resource(settings, target, op)
    client = _client(settings, src)
    details = client.get_model(source_model_id)
    if details is None or not composed.is_composed(details) or not isinstance(client, V3Client):
        raise FerryError(kind="terminal", code="NotAComposedModel",
                         message=f"model {source_model_id!r} on source {source!r} is not a composed model of "
                                 "API 2024-11-30 (or no longer exists)",
                         hint="Start the copy again: it copies the model as it is now.", operation=op,
                         api_version=src.api_version, resource=source)
    target_client = _client(settings, dst)
    if not isinstance(target_client, V3Client):
        raise FerryError(kind="terminal", code="KindNotSupported",
                         message=f"target {target!r} (apiVersion {dst.api_version}) cannot compose models with a "
                                 "classifier", hint="Use a 2024-11-30 target for 2024-11-30 composed models.",
                         operation=op, api_version=dst.api_version, resource=target)
    body = composed.compose_request(details) | {"modelId": target_model_id or source_model_id}
    # like a copy, the composed model carries ModelFerry's provenance over the source's own tags
    body["tags"] = provenance_tags(source_resource=src.resource_id, source_model_id=source_model_id,
                                   source_created=details.get("createdDateTime"), own_tags=details.get("tags"))
    hold_until(not_before)
    operation_url = target_client.compose(body)
    log.info("composed %s again on %s from the definition on %s", body["modelId"], target, source)
    return CopyStarted(operation_url=operation_url, target_model_id=body["modelId"])


def poll_copy(settings: Settings, source: str, operation_url: str, *,
              target_model_id: str | None = None) -> CopyPoll:
    """One read of a started copy operation."""
    op = "poll_copy"
    resource = _resource(settings, source, op)
    client = _client(settings, resource)
    state = client.get_copy_status(operation_url, target_model_id=target_model_id)
    return CopyPoll(status=state.status, target_model_id=state.target_model_id, error=state.error,
                    retry_after=state.retry_after, service_status=state.service_status)


def get_target_model(settings: Settings, target: str, target_model_id: str, kind_name: str | None = None
                     ) -> TargetModel:
    """The model (or artifact of kind `kind_name`) on the target, if any, with its status and fingerprint."""
    op = "get_target_model"
    kind = kind_named(kind_name)
    resource = _resource(settings, target, op)
    invalid = _invalid_id(resource, target_model_id, op, "target", kind)
    if invalid:
        raise invalid
    client = _client(settings, resource)
    model = client.get_model(target_model_id, kind=kind)
    if model is None:
        return TargetModel(exists=False, model_id=target_model_id)
    return TargetModel(exists=True, model_id=target_model_id, fingerprint=client.fingerprint(model, kind),
                       status=client.model_status(model))


def delete_target_model(settings: Settings, target: str, target_model_id: str, kind_name: str | None = None
                        ) -> Deleted:
    """Delete a model (or artifact of kind `kind_name`) on the target (cleanup of a failed/timed-out copy)."""
    op = "delete_target_model"
    kind = kind_named(kind_name)
    resource = _resource(settings, target, op)
    invalid = _invalid_id(resource, target_model_id, op, "target", kind)
    if invalid:
        raise invalid
    deleted = _client(settings, resource).delete_model(target_model_id, kind=kind)
    log.info("target %s %s on %s %s", kind.name, target_model_id, target,
             "deleted" if deleted else "was already absent")
    return Deleted(deleted=deleted)


def list_target_copies(settings: Settings, target: str, fingerprint: dict[str, Any]) -> TargetCopies:
    """The copies of one source model (by fingerprint) on a v2 target, and the target's models still creating.

    Why: a v2 copy gets a new service-assigned id each time it is issued, so an execution of
    `authorize_and_start_copy` killed after its POST leaves a copy under an id nobody recorded; the orchestration
    compares this list before and after its copy to find and delete such copies."""
    op = "list_target_copies"
    resource = _resource(settings, target, op)
    if not resource.is_v2:
        return TargetCopies()  # v3+: the target id is deterministic, a re-run copies into the same id
    client = _client(settings, resource)
    created = fingerprint.get("createdDateTime")
    ready, creating = [], []
    for entry in client.list_models():
        model_id, status = entry.get("modelId"), str(entry.get("status") or "")
        if not isinstance(model_id, str):
            continue
        if status == "creating":
            creating.append(model_id)
        elif status == "ready" and created and normalize_time(entry.get("createdDateTime")) == created:
            model = client.get_model(model_id)  # same creation time: compare the content too
            if model is not None and is_copy_of(fingerprint, client.fingerprint(model)):
                ready.append(model_id)
    return TargetCopies(ready=sorted(ready), creating=sorted(creating))
