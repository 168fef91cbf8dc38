"""The copy flow on the SOURCE resource, both generations (docs/service-facts.md, "Copy and poll").

Synchronous checks (HTTP 4xx at POST): unknown source model, malformed body, malformed target id,
a region name no Azure region has, expired authorization (or behaviour ``expire_authorization``).
Everything the target must confirm becomes a *failed copy*
(HTTP 200 poll bodies): unknown target resource (ResourceResolverError); a genuine authorization that
was already used, or is presented to another resource or — v2, as recorded — another real region (2024);
a token no resource issued, or any field of the authorization changed (AuthorizationError; in v3+ the
region is one of those fields); CMK → non-CMK
without ``x-ms-forms-copy-degrade: true`` (DataProtectionTransformServiceError).

An authorization is consumed when the copy is accepted for processing (so a retry after a failed
*validation* can reuse it; after a success, a 3013 or a copy that never finishes it cannot).
The target model appears only when the job finishes (``World.tick``).

Classifiers (2024-11-30) follow the same rules with their own authorization (a model's token copies no
classifier), plus the documented region restriction. A 2024-11-30 composed model copies only if its source
resource accepts it (option ``composed_copy``) and fails when the target lacks its classifier or a component.
"""

from __future__ import annotations

import uuid
from typing import Any

from . import errors
from .backend import ResourceBackend
from .errors import CopyFailure
from .settings import CLASSIFIER_COPY_REGIONS, REGION_NAMES
from .state import Classifier, Job, Model, decode_ticks, parse_iso
from .validate import REGION, RESOURCE_ID, Checker
from .versions import ApiVersion


def start_v2_copy(source: ResourceBackend, api: ApiVersion, model_id: str, body: Any, degrade: bool) -> Job:
    model = source.get_model(api, model_id)
    if model.status != "ready":
        raise errors.v2_model_not_ready(model_id, model.status)
    check = Checker("v2")
    body = check.body(body)
    check.allowed(body, {"targetResourceId", "targetResourceRegion", "copyAuthorization"})
    target_id = check.string(body, "targetResourceId", pattern=RESOURCE_ID, max_len=1024)
    region = check.string(body, "targetResourceRegion", pattern=REGION)
    auth = check.obj(body, "copyAuthorization", required=True)
    assert auth is not None and target_id is not None and region is not None
    check.allowed(auth, {"modelId", "accessToken", "expirationDateTimeTicks"}, "copyAuthorization.")
    target_model_id = check.string(auth, "modelId", where="copyAuthorization.")
    token = check.string(auth, "accessToken", where="copyAuthorization.")
    _known_region(source, region, check)
    ticks = auth.get("expirationDateTimeTicks")
    if not isinstance(ticks, int) or isinstance(ticks, bool):
        raise check.fail("The parameter 'copyAuthorization.expirationDateTimeTicks' must be an integer.")
    now = source.world.now()
    if decode_ticks(ticks) <= now or _expiry_forced(source, target_id):
        raise errors.v2_authorization_expired()
    failure, target = _resolve(source, target_id, region, token or "", auth, "v2")
    return _start(source, api, model, target, target_model_id or "", token or "", failure, degrade, None)


MODEL_FIELDS = ("targetResourceId", "targetResourceRegion", "targetModelId", "targetModelLocation",
                "accessToken", "expirationDateTime")
CLASSIFIER_FIELDS = ("targetResourceId", "targetResourceRegion", "targetClassifierId", "targetClassifierLocation",
                     "accessToken", "expirationDateTime")


def start_v3_copy(source: ResourceBackend, api: ApiVersion, model_id: str, body: Any, degrade: bool) -> Job:
    model = source.get_model(api, model_id)
    values = _v3_authorization(source, body, MODEL_FIELDS)
    if model.classifier_id is not None and source.composed_copy == "refuse":
        raise errors.composed_copy_refused(model.model_id)  # emulator option (inferred answer)
    failure, target = _resolve(source, values["targetResourceId"], values["targetResourceRegion"],
                               values["accessToken"], body, "v3")
    return _start(source, api, model, target, values["targetModelId"], values["accessToken"], failure, degrade,
                  values["targetModelLocation"])


def start_classifier_copy(source: ResourceBackend, api: ApiVersion, classifier_id: str, body: Any,
                          degrade: bool) -> Job:
    """``documentClassifiers/{id}:copyTo`` (2024-11-30 only): the model copy's rules, plus the documented
    region restriction (East US, West US 2, West Europe; the refusal itself is inferred)."""
    classifier = source.get_classifier(classifier_id)
    values = _v3_authorization(source, body, CLASSIFIER_FIELDS)
    target_region = values["targetResourceRegion"].lower()
    if source.settings.region.lower() not in CLASSIFIER_COPY_REGIONS or target_region not in CLASSIFIER_COPY_REGIONS:
        raise errors.classifier_copy_region(source.settings.region, values["targetResourceRegion"],
                                            CLASSIFIER_COPY_REGIONS)
    failure, target = _resolve(source, values["targetResourceId"], values["targetResourceRegion"],
                               values["accessToken"], body, "v3", "classifier")
    return _start(source, api, classifier, target, values["targetClassifierId"], values["accessToken"], failure,
                  degrade, values["targetClassifierLocation"])


def _v3_authorization(source: ResourceBackend, body: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """The synchronous checks of a v3+ copy body (the authorization verbatim): shape, ids, region, expiry."""
    check = Checker("v3")
    body = check.body(body)
    check.allowed(body, set(fields))
    values = {name: check.string(body, name) or "" for name in fields}
    if not RESOURCE_ID.match(values["targetResourceId"]):
        raise check.fail(f"The parameter 'targetResourceId' ('{values['targetResourceId']}') is not a Cognitive "
                         "Services account resource id.")
    if not REGION.match(values["targetResourceRegion"]):
        raise check.fail(f"The parameter 'targetResourceRegion' ('{values['targetResourceRegion']}') is not a "
                         "region name.")
    _known_region(source, values["targetResourceRegion"], check)
    expires = parse_iso(values["expirationDateTime"])
    if expires is None:
        raise check.fail("The parameter 'expirationDateTime' is not a date-time.")
    if expires <= source.world.now() or _expiry_forced(source, values["targetResourceId"]):
        raise errors.v3_authorization_expired()
    return values


def _known_region(source: ResourceBackend, region: str, check: Checker) -> None:
    """An unsupported region name is a 400 (docs: 1002 "invalid or unsupported targetResourceRegion")."""
    known = set(REGION_NAMES) | {b.settings.region.lower() for b in source.world.backends.values()}
    if region.lower() not in known:
        raise check.fail(f"The parameter 'targetResourceRegion' ('{region}') is not a supported region.")


def _same_claims(issued: dict[str, Any], presented: dict[str, Any]) -> bool:
    """Every field must be unchanged; a re-serialised timestamp (…16.000Z) is the same instant."""
    if set(issued) != set(presented):
        return False
    for key, value in issued.items():
        other = presented[key]
        if key == "expirationDateTime" and isinstance(other, str):
            if parse_iso(other) != parse_iso(value):
                return False
        elif other != value:
            return False
    return True


def _resolve(source: ResourceBackend, target_id: str, region: str, token: str, presented: dict[str, Any],
             family: str, artifact: str = "model") -> tuple[CopyFailure | None, ResourceBackend | None]:
    target = source.world.by_resource_id(target_id)
    if target is None:
        return errors.copy_resource_resolver(target_id, region), None
    auth = target.authorizations.get(token)
    if auth is None or auth.family != family or auth.artifact != artifact:
        issued_anywhere = any(token in b.authorizations for b in source.world.backends.values())
        # a genuine token presented to the wrong resource: no metadata there (2024); a token nobody
        # issued has been tampered with: its claims are invalid
        return (errors.copy_auth_metadata() if issued_anywhere else errors.copy_invalid_claims()), target
    if family == "v2" and target.settings.region.lower() != region.lower():
        return errors.copy_auth_metadata(), target  # real: wrong region → 2024 (v2.1 fail recording)
    if not _same_claims(auth.payload, presented):
        return errors.copy_invalid_claims(), target
    if auth.consumed:
        return errors.copy_auth_metadata(), target
    if source.settings.cmk and not target.settings.cmk:
        return None, target  # the degrade check needs the header: done in _start
    return None, target


def _expiry_forced(source: ResourceBackend, target_resource_id: str) -> bool:
    """Behaviour ``expire_authorization`` at the head of the queue (source's first, else the target's): this copy
    POST sees its authorization as expired, as if it had been presented after its expiry. Why a behaviour: inside
    one ModelFerry activity the authorization cannot age between authorize and POST, yet the service's answer to
    a stale one (400 1002, nothing started, nothing consumed) must be reproducible."""
    target = source.world.by_resource_id(target_resource_id)
    for backend in (source, target):
        if backend is not None and backend.copy_behaviours:
            if backend.copy_behaviours[0]["behaviour"] == "expire_authorization":
                backend.copy_behaviours.popleft()
                return True
            return False
    return False


def _next_behaviour(source: ResourceBackend, target: ResourceBackend | None) -> dict[str, Any]:
    """The source's queued behaviour first, else the target's, else normal."""
    for backend in (source, target):
        if backend is not None and backend.copy_behaviours:
            return backend.copy_behaviours.popleft()
    return {"behaviour": "normal"}


def _start(source: ResourceBackend, api: ApiVersion, model: Model | Classifier, target: ResourceBackend | None,
           target_model_id: str, token: str, failure: CopyFailure | None, degrade: bool,
           location: str | None) -> Job:
    """Accept the copy: consume the authorization (unless it already failed) and schedule the outcome."""
    if isinstance(model, Classifier):
        source_id, kind_name = model.classifier_id, "documentClassifierCopyTo"
    else:
        source_id, kind_name = model.model_id, "v2copy" if api.is_v2 else "documentModelCopyTo"
    now = source.world.now()
    if failure is None and target is not None and source.settings.cmk and not target.settings.cmk and not degrade:
        failure = errors.copy_degrade()
    behaviour = {"behaviour": "normal"} if failure is not None else _next_behaviour(source, target)
    kind = behaviour["behaviour"]
    if kind == "fail":
        failure = errors.copy_custom(str(behaviour.get("code", "2024")), behaviour.get("message"))
    duration = source.settings.copy_seconds
    if failure is None and target is not None:
        auth = target.authorizations[token]
        auth.consumed = True
    else:
        auth = None
    result_id = str(uuid.uuid4())
    op_id = result_id if api.is_v2 else source.new_operation_id(str(uuid.uuid4()))
    if location is None:
        location = target.model_url(api, target_model_id) if target is not None else ""
    job = Job(op_id, kind_name, api, now,
              now + min(0.5, duration / 4), None if kind == "never_finish" else now + duration,
              target_model_id, location, source_model_id=source_id,
              info={"sourceResource": source.settings.name,
                    "targetResource": target.settings.name if target else None, "behaviour": kind})
    snapshot = model.clone(target_model_id)

    def finish(done: Job) -> None:
        if failure is not None:
            done.outcome, done.failure = "failed", failure
            return
        assert target is not None
        if isinstance(snapshot, Classifier):
            _finish_classifier(done, target, snapshot, source_id, auth, kind)
            return
        at = done.end_at or now
        if kind == "fail_3013":
            leftover = _target_model(snapshot, source_id, auth, api, target_model_id)
            leftover.last_updated = at
            leftover.status = "invalid" if api.is_v2 else "incomplete"
            if not api.is_v2:
                leftover.doc_types = {}
            target.models[target_model_id] = leftover
            done.outcome, done.failure = "failed", errors.copy_timeout()
            return
        if target_model_id in target.models or target_model_id in target.pending_ids:
            done.outcome, done.failure = "failed", errors.copy_target_exists(target_model_id)
            return
        if len(target.models) + len(target.pending_ids) >= target.settings.model_limit:
            done.outcome, done.failure = "failed", errors.copy_target_full(target.settings.model_limit)
            return
        missing = _missing_dependencies(target, snapshot)
        if missing:
            done.outcome, done.failure = "failed", errors.copy_dependencies_missing(missing)
            return
        copied = _target_model(snapshot, source_id, auth, api, target_model_id)
        target.models[target_model_id] = copied
        done.outcome, done.result = "succeeded", copied

    job.finish = finish
    if api.is_v2:
        source.v2_copies[op_id.lower()] = job
    else:
        source.jobs[op_id] = job
    source.world.tick()
    return job


def _target_model(snapshot: Model, source_id: str, auth: Any, api: ApiVersion, target_model_id: str) -> Model:
    """The copy keeps the source's timestamps and fields (docs/service-facts.md, "What a copy keeps")."""
    copied = snapshot.clone(target_model_id)
    copied.origin = {"kind": "copied", "sourceModelId": source_id, "apiVersion": api.version}
    if copied.family == "v3":
        if auth is not None and auth.description is not None:
            copied.description = auth.description
        if auth is not None and auth.tags is not None:
            copied.tags = dict(auth.tags)
        if api.is_v4 and copied.doc_types and source_id in copied.doc_types:
            # 2024 services rename the docType named after the source model (recorded)
            copied.doc_types = {(target_model_id if k == source_id else k): v
                                for k, v in copied.doc_types.items()}
    return copied


def _missing_dependencies(target: ResourceBackend, composed: Model) -> list[str]:
    """What a 2024-11-30 composed model refers to but the target lacks (emulator choice: such a copy fails;
    the product copies the classifier and the components first)."""
    if composed.classifier_id is None:
        return []
    missing = []
    classifier = target.classifiers.get(composed.classifier_id)
    if classifier is None or classifier.status != "ready":
        missing.append(f"classifier '{composed.classifier_id}'")
    for doc_type in (composed.doc_types or {}).values():
        component_id = doc_type.get("modelId")
        model = target.models.get(component_id or "")
        if component_id and (model is None or model.family != "v3" or model.status != "ready"):
            missing.append(f"model '{component_id}'")
    return missing


def _finish_classifier(done: Job, target: ResourceBackend, snapshot: Classifier, source_id: str, auth: Any,
                       behaviour: str) -> None:
    """A classifier copy lands (or leaves a 3013 leftover) on the target, as a model copy does."""
    target_id = snapshot.classifier_id
    if behaviour == "fail_3013":
        leftover = _target_classifier(snapshot, source_id, auth, done)
        leftover.status, leftover.doc_types = "incomplete", {}
        target.classifiers[target_id] = leftover
        done.outcome, done.failure = "failed", errors.copy_timeout()
        return
    if target_id in target.classifiers or target_id in target.pending_classifier_ids:
        done.outcome, done.failure = "failed", errors.copy_target_exists(target_id, "classifier")
        return
    copied = _target_classifier(snapshot, source_id, auth, done)
    target.classifiers[target_id] = copied
    done.outcome, done.result = "succeeded", copied


def _target_classifier(snapshot: Classifier, source_id: str, auth: Any, done: Job) -> Classifier:
    """Recorded: a copied classifier gets a new createdDateTime (the copy's) and keeps modifiedDateTime,
    expirationDateTime, docTypes and description; a description given at authorizeCopy replaces the
    source's, as for models (inferred)."""
    copied = snapshot.clone(snapshot.classifier_id)
    copied.created = done.created
    copied.origin = {"kind": "copied", "sourceClassifierId": source_id, "apiVersion": done.api.version}
    if auth is not None and auth.description is not None:
        copied.description = auth.description
    return copied
