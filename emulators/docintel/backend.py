"""One emulated Document Intelligence resource: its models, authorizations and operations.

One plain method per service operation; they take parsed JSON and return domain objects (``Model``,
``Authorization``, ``Job``) or raise ``ServiceError``. The wire module turns those into HTTP bodies.
Copying lives in ``copying.py``; the callers hold ``world.lock`` and have called ``world.tick()``.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from . import errors, fixtures
from .settings import ResourceSettings
from .state import SOURCE_KINDS, V3_MODEL_LIFETIME, Authorization, Classifier, Job, Model, iso_z
from .validate import GUID, MODEL_ID, Checker
from .versions import ApiVersion
from .world import World

SPLIT_MODES = ("auto", "none", "perPage")  # 2024-11-30 SplitMode
# DocumentTypeDetails in a 2024-11-30 compose request: modelId plus the settable analysis options; the
# descriptive fields (buildMode, fieldSchema, fieldConfidence) are accepted as the spec allows, and the
# component's own values win
COMPOSE_SETTABLE = ("description", "confidenceThreshold", "features", "queryFields", "maxDocumentsToAnalyze")
COMPOSE_DOC_TYPE_FIELDS = {"modelId", *COMPOSE_SETTABLE, "buildMode", "fieldSchema", "fieldConfidence"}
# "expire_authorization": the copy POST answers as if the authorization had expired (400 1002), see copying.py
COPY_BEHAVIOURS = ("normal", "fail_3013", "never_finish", "fail", "expire_authorization")


class ResourceBackend:
    def __init__(self, settings: ResourceSettings, world: World) -> None:
        self.settings = settings
        self.world = world
        self.endpoint = ""  # http://127.0.0.1:<port>, set when the server listens
        self.keys = list(settings.keys)
        self.models: dict[str, Model] = {}  # by model id (v2 GUIDs and v3 names cannot collide in practice)
        self.authorizations: dict[str, Authorization] = {}  # by access token
        self.jobs: dict[str, Job] = {}  # v3+ operations by operation id
        self.v2_copies: dict[str, Job] = {}  # v2 copy results by result id
        self.pending_ids: set[str] = set()  # v3 model ids being built/composed
        self.classifiers: dict[str, Classifier] = {}  # by classifier id (own namespace)
        self.pending_classifier_ids: set[str] = set()  # classifier ids being built
        self.copy_behaviours: deque[dict[str, Any]] = deque()
        self.build_failures: deque[errors.CopyFailure] = deque()  # the next v3+ builds/composes end failed
        self.composed_copy = settings.composed_copy  # accept | refuse (v4 composed copy, inferred)

    # ------------------------------------------------------------------ housekeeping
    def reset(self) -> None:
        self.keys = list(self.settings.keys)
        self.models.clear()
        self.authorizations.clear()
        self.jobs.clear()
        self.v2_copies.clear()
        self.pending_ids.clear()
        self.classifiers.clear()
        self.pending_classifier_ids.clear()
        self.copy_behaviours.clear()
        self.build_failures.clear()
        self.composed_copy = self.settings.composed_copy

    def all_jobs(self) -> list[Job]:
        return [*self.jobs.values(), *self.v2_copies.values()]

    def promote_models(self, now: float) -> None:
        for model in self.models.values():
            if model.status == "creating" and model.ready_at is not None and now >= model.ready_at:
                model.status = "ready"
                model.last_updated = model.ready_at

    def forget_expired(self, now: float) -> None:
        for store in (self.jobs, self.v2_copies):
            for key in [k for k, job in store.items() if job.expired(now)]:
                del store[key]

    def family_models(self, family: str) -> list[Model]:
        return sorted((m for m in self.models.values() if m.family == family), key=lambda m: m.created)

    def check_capacity(self, api: ApiVersion) -> None:
        if len(self.models) + len(self.pending_ids) >= self.settings.model_limit:
            raise errors.v2_model_limit(self.settings.model_limit) if api.is_v2 else \
                errors.v3_model_limit(self.settings.model_limit)

    def model_url(self, api: ApiVersion, model_id: str) -> str:
        if api.is_v2:
            return f"{self.endpoint}{api.prefix}/custom/models/{model_id}"
        return f"{self.endpoint}{api.prefix}/documentModels/{model_id}{api.query()}"

    def classifier_url(self, api: ApiVersion, classifier_id: str) -> str:
        return f"{self.endpoint}{api.prefix}/documentClassifiers/{classifier_id}{api.query()}"

    def operation_url(self, api: ApiVersion, op_id: str) -> str:
        return f"{self.endpoint}{api.prefix}/operations/{op_id}{api.query()}"

    @staticmethod
    def new_operation_id(request_id: str) -> str:
        return f"{secrets.randbelow(9 * 10**10) + 10**10}_{request_id}"  # <11 digits>_<apim-request-id>

    # ------------------------------------------------------------------ lookups
    def get_model(self, api: ApiVersion, model_id: str) -> Model:
        model = self.models.get(model_id)
        if model is None or model.family != api.family:
            raise errors.v2_model_not_found(model_id) if api.is_v2 else errors.v3_model_not_found()
        return model

    def delete_model(self, api: ApiVersion, model_id: str) -> None:
        self.get_model(api, model_id)
        del self.models[model_id]

    def get_operation(self, op_id: str) -> Job:
        job = self.jobs.get(op_id)
        if job is None:
            raise errors.v3_operation_not_found()
        return job

    def get_copy_result(self, model_id: str, result_id: str) -> Job:
        job = self.v2_copies.get(result_id.lower())
        if job is None or (job.source_model_id or "").lower() != model_id.lower():
            raise errors.v2_copy_result_not_found(result_id)
        return job

    # ------------------------------------------------------------------ v2 lifecycle
    def v2_train(self, api: ApiVersion, body: Any) -> Model:
        check = Checker("v2")
        body = check.body(body)
        allowed = {"source", "sourceFilter", "useLabelFile"} | ({"modelName"} if api.version == "v2.1" else set())
        check.allowed(body, allowed)
        check.string(body, "source")
        source_filter = check.obj(body, "sourceFilter")
        if source_filter is not None:
            check.allowed(source_filter, {"prefix", "includeSubFolders"}, "sourceFilter.")
            check.string(source_filter, "prefix", required=False, where="sourceFilter.")
        labeled = check.boolean(body, "useLabelFile")
        name = check.string(body, "modelName", required=False, max_len=1024)
        self.check_capacity(api)
        now = self.world.now()
        model = Model(str(uuid.uuid4()), "v2", now, now, status="creating",
                      ready_at=now + self.settings.train_seconds, model_name=name, labeled=labeled,
                      origin={"kind": "trained", "apiVersion": api.version})
        if labeled:
            model.train_result = fixtures.v2_labeled()
        else:
            model.keys, model.train_result = fixtures.v2_unlabeled()
        self.models[model.model_id] = model
        self.world.tick()
        return model

    def v2_compose(self, api: ApiVersion, body: Any) -> Model:
        check = Checker("v2")
        body = check.body(body)
        check.allowed(body, {"modelIds", "modelName"})
        ids = check.string_list(body, "modelIds", lambda v: bool(GUID.match(v)))
        name = check.string(body, "modelName", required=False, max_len=1024)
        components = []
        for model_id in ids:
            component = self.get_model(api, model_id)
            if component.status != "ready":
                raise errors.v2_model_not_ready(model_id, component.status)
            if not component.labeled:
                raise errors.v2_bad_request(f"Model with 'id={model_id}' was trained without labels; only "
                                            "models trained with labels can be composed.")  # inferred text
            components.append(component)
        self.check_capacity(api)
        now = self.world.now()
        model = Model(str(uuid.uuid4()), "v2", now, now, status="creating", ready_at=now + self.settings.train_seconds,
                      model_name=name, is_composed=True, labeled=True,
                      origin={"kind": "composed", "components": ids})
        model.composed_train_results = [
            {**(c.train_result or fixtures.v2_labeled()), "modelId": c.model_id} for c in components]
        self.models[model.model_id] = model
        self.world.tick()
        return model

    def v2_authorize(self, api: ApiVersion) -> Authorization:
        self.check_capacity(api)
        now = self.world.now()
        model_id = str(uuid.uuid4())
        token = str(uuid.uuid4())  # GUID-length token: the recorded Content-Length 140 fits one
        expires = int(now) + api.auth_lifetime
        payload = {"modelId": model_id, "accessToken": token, "expirationDateTimeTicks": expires}
        auth = Authorization(token, "v2", model_id, now, float(expires), payload, api)
        self.authorizations[token] = auth
        return auth

    # ------------------------------------------------------------------ v3+ lifecycle
    def v3_authorize(self, api: ApiVersion, body: Any) -> Authorization:
        check, body, model_id, description = v3_request(body, {"modelId", "description", "tags"}, "modelId")
        tags = check.tags(body)
        if model_id in self.models or model_id in self.pending_ids:
            raise errors.v3_model_exists(model_id)
        self.check_capacity(api)
        return self._authorize(api, "model", model_id, self.model_url(api, model_id), description, tags)

    def _authorize(self, api: ApiVersion, artifact: str, artifact_id: str, location: str,
                   description: str | None, tags: dict[str, str] | None) -> Authorization:
        """A v3+ copy authorization (model or classifier): the six fields, valid for the version's lifetime."""
        now = self.world.now()
        expires = int(now) + api.auth_lifetime
        token = secrets.token_urlsafe(48)
        name = "Model" if artifact == "model" else "Classifier"
        payload = {
            "targetResourceId": self.settings.resource_id,
            "targetResourceRegion": self.settings.region,
            f"target{name}Id": artifact_id,
            f"target{name}Location": location,
            "accessToken": token,
            "expirationDateTime": iso_z(expires),
        }
        auth = Authorization(token, "v3", artifact_id, now, float(expires), payload, api, description, tags,
                             artifact=artifact)
        self.authorizations[token] = auth
        return auth

    def v3_build(self, api: ApiVersion, body: Any, request_id: str) -> Job:
        allowed = {"modelId", "description", "buildMode", "azureBlobSource", "tags"}
        if api.version != "2022-08-31":
            allowed.add("azureBlobFileListSource")
        if api.is_v4:
            allowed |= {"maxTrainingHours", "allowOverwrite"}
        check, body, model_id, description = v3_request(body, allowed, "modelId")
        modes = {"template", "neural"} | ({"generative"} if api.is_v4 else set())
        mode = check.string(body, "buildMode")
        if mode not in modes:
            raise check.fail(f"The parameter 'buildMode' must be one of {', '.join(sorted(modes))}; got '{mode}'.")
        sources = [name for name in ("azureBlobSource", "azureBlobFileListSource") if body.get(name) is not None]
        if len(sources) != 1:
            raise check.fail("Exactly one of 'azureBlobSource' or 'azureBlobFileListSource' is required.",
                             "ParameterMissing")
        source = check.obj(body, sources[0])
        assert source is not None
        check.string(source, "containerUrl", where=f"{sources[0]}.")
        if sources[0] == "azureBlobFileListSource":
            check.string(source, "fileList", where=f"{sources[0]}.")
        tags = check.tags(body)
        overwrite = check.boolean(body, "allowOverwrite") if api.is_v4 else False
        if model_id in self.pending_ids or (model_id in self.models and not overwrite):
            raise errors.v3_model_exists(model_id)
        if model_id not in self.models:
            self.check_capacity(api)
        doc_types = {model_id: fixtures.v3_doc_type(mode)}
        return self._v3_create_job(api, "documentModelBuild", model_id, description, tags, mode, doc_types,
                                   request_id, {"kind": "built", "apiVersion": api.version})

    def v3_compose(self, api: ApiVersion, body: Any, request_id: str) -> Job:
        allowed = ({"modelId", "description", "classifierId", "split", "docTypes", "tags"} if api.is_v4
                   else {"modelId", "description", "componentModels", "tags"})
        check, body, model_id, description = v3_request(body, allowed, "modelId")
        tags = check.tags(body)
        doc_types: dict[str, Any] = {}
        components: list[str] = []
        extra: dict[str, Any] = {}
        if api.is_v4:
            extra = self._v4_compose_doc_types(check, body, doc_types, components)
        else:
            parts = body.get("componentModels")
            if not isinstance(parts, list) or not parts or not all(
                    isinstance(p, dict) and isinstance(p.get("modelId"), str) for p in parts):
                raise check.fail("The parameter 'componentModels' must be a non-empty list of {\"modelId\": …}.",
                                 "ParameterMissing")
            for part in parts:
                component = self._component(api, part["modelId"])
                components.append(component.model_id)
                doc_types.update(component.doc_types or {})
        if model_id in self.models or model_id in self.pending_ids:
            raise errors.v3_model_exists(model_id)
        self.check_capacity(api)
        return self._v3_create_job(api, "documentModelCompose", model_id, description, tags, None, doc_types,
                                   request_id, {"kind": "composed", "components": components}, extra)

    def _v4_compose_doc_types(self, check: Checker, body: dict[str, Any], doc_types: dict[str, Any],
                              components: list[str]) -> dict[str, Any]:
        """2024-11-30 compose: an existing classifier routes to docTypes, each naming its component model.

        Fills ``doc_types`` (the component's docType + the settable fields given + ``modelId``) and
        ``components``; returns the composed model's extra fields (classifier, split, expiration).
        """
        classifier_id = check.string(body, "classifierId", pattern=MODEL_ID)
        assert classifier_id is not None
        classifier = self.classifiers.get(classifier_id)
        if classifier is None or classifier.status != "ready":
            raise errors.v3_invalid(f"Classifier '{classifier_id}' was not found or is not usable.",
                                    "ModelNotFound")  # inferred wording
        split = check.string(body, "split", required=False) or "none"  # "none" when not given (recorded)
        if split not in SPLIT_MODES:
            raise check.fail(f"The parameter 'split' must be one of {', '.join(SPLIT_MODES)}; got '{split}'.")
        wanted = check.obj(body, "docTypes", required=True) or {}
        if not wanted:
            raise check.fail("The parameter 'docTypes' must name at least one document type.")
        expirations = []
        for doc_type, spec in wanted.items():
            where = f"docTypes['{doc_type}']."
            if not isinstance(spec, dict):
                raise check.fail(f"The parameter 'docTypes['{doc_type}']' must be a JSON object.")
            check.allowed(spec, COMPOSE_DOC_TYPE_FIELDS, where)
            component_id = check.string(spec, "modelId", where=where, pattern=MODEL_ID)
            assert component_id is not None
            settable = _compose_settable(check, spec, where)
            component = self._component(None, component_id)
            components.append(component.model_id)
            base = dict(next(iter((component.doc_types or {}).values()), {}))
            base.pop("modelId", None)
            doc_types[doc_type] = {**base, **settable, "modelId": component.model_id}
            if component.expiration is not None:
                expirations.append(component.expiration)
        # the recorded composed model expires with its earliest component
        return {"classifier_id": classifier_id, "split": split,
                "expiration": min(expirations) if expirations else None}

    def _component(self, api: ApiVersion | None, model_id: str) -> Model:
        model = self.models.get(model_id)
        if model is None or model.family != "v3" or model.status != "ready":
            raise errors.v3_invalid(f"Component model '{model_id}' was not found or is not usable.",
                                    "ModelNotFound")  # inferred wording
        return model

    def _v3_create_job(self, api: ApiVersion, kind: str, model_id: str, description: str | None,
                       tags: dict[str, str] | None, mode: str | None, doc_types: dict[str, Any],
                       request_id: str, origin: dict[str, Any], extra: dict[str, Any] | None = None) -> Job:
        failure = self.build_failures.popleft() if self.build_failures else None

        def finish(done: Job) -> None:
            if failure is not None:  # the build fails: no model appears, the operation carries the error
                done.outcome, done.failure = "failed", failure
                return
            at = done.end_at or done.created
            fields = dict(extra or {})
            expiration = fields.pop("expiration", None) or at + V3_MODEL_LIFETIME
            model = Model(model_id, "v3", at, at, description=description, tags=tags, api_version=api.version,
                          build_mode=mode, doc_types=doc_types, expiration=expiration, origin=origin, **fields)
            self.models[model_id] = model
            done.result = model

        return self._start_job(api, kind, request_id, model_id, self.model_url(api, model_id), self.pending_ids,
                               finish, tags=tags)

    def _start_job(self, api: ApiVersion, kind: str, request_id: str, artifact_id: str, location: str,
                   pending: set[str], finish: Callable[[Job], None], **fields: Any) -> Job:
        """A v3+ build/compose operation that takes the training time: `artifact_id` stays taken (in
        `pending`) until the operation ends and `finish` makes the artifact (or the failure)."""
        now = self.world.now()
        duration = self.settings.train_seconds
        job = Job(self.new_operation_id(request_id), kind, api, now, now + min(0.5, duration / 4),
                  now + duration, artifact_id, location, **fields)

        def complete(done: Job) -> None:
            pending.discard(artifact_id)
            finish(done)

        job.finish = complete
        pending.add(artifact_id)
        self.jobs[job.op_id] = job
        self.world.tick()
        return job

    # ------------------------------------------------------------------ classifiers (2023-07-31, 2024-11-30)
    def get_classifier(self, classifier_id: str) -> Classifier:
        found = self.classifiers.get(classifier_id)
        if found is None:
            raise errors.v3_classifier_not_found()
        return found

    def delete_classifier(self, classifier_id: str) -> None:
        self.get_classifier(classifier_id)
        del self.classifiers[classifier_id]

    def sorted_classifiers(self) -> list[Classifier]:
        return sorted(self.classifiers.values(), key=lambda c: c.created)

    def classifier_build(self, api: ApiVersion, body: Any, request_id: str) -> Job:
        """``documentClassifiers:build``: an operation (kind documentClassifierBuild); the classifier
        appears when it succeeds."""
        allowed = {"classifierId", "description", "docTypes"}
        if api.is_v4:
            allowed |= {"baseClassifierId", "allowOverwrite"}
        check, body, classifier_id, description = v3_request(body, allowed, "classifierId")
        base_id = check.string(body, "baseClassifierId", required=False, pattern=MODEL_ID)
        if base_id is not None and base_id not in self.classifiers:
            raise errors.v3_invalid(f"Base classifier '{base_id}' was not found.", "ModelNotFound")  # inferred
        doc_types = classifier_doc_types(check, check.obj(body, "docTypes", required=True) or {}, api)
        overwrite = check.boolean(body, "allowOverwrite") if api.is_v4 else False
        if classifier_id in self.pending_classifier_ids or (classifier_id in self.classifiers and not overwrite):
            raise errors.v3_classifier_exists(classifier_id)

        def finish(done: Job) -> None:
            at = done.end_at or done.created
            built = Classifier(classifier_id, at, at, at + V3_MODEL_LIFETIME, api.version, doc_types, description,
                               base_id, origin={"kind": "built", "apiVersion": api.version})
            self.classifiers[classifier_id] = built
            done.result = built

        return self._start_job(api, "documentClassifierBuild", request_id, classifier_id,
                               self.classifier_url(api, classifier_id), self.pending_classifier_ids, finish)

    def classifier_authorize(self, api: ApiVersion, body: Any) -> Authorization:
        """``documentClassifiers:authorizeCopy`` (2024-11-30): 200 with the six fields, valid 1 hour.

        Tags are accepted (as recorded) although a classifier has none; they are dropped.
        """
        check, body, classifier_id, description = v3_request(body, {"classifierId", "description", "tags"},
                                                             "classifierId")
        check.tags(body)
        if classifier_id in self.classifiers or classifier_id in self.pending_classifier_ids:
            raise errors.v3_classifier_exists(classifier_id)
        return self._authorize(api, "classifier", classifier_id, self.classifier_url(api, classifier_id),
                               description, None)

    def seed_classifier(self, classifier_id: str | None = None, *, description: str | None = None,
                        doc_types: list[str] | None = None, api_version: str = "2024-11-30") -> Classifier:
        """Put a ready classifier in place without an API call (test setup)."""
        classifier_id = classifier_id or f"classifier-{uuid.uuid4().hex[:12]}"
        if not MODEL_ID.match(classifier_id):
            raise ValueError(f"classifier id {classifier_id!r} does not match {MODEL_ID.pattern}")
        if api_version not in ("2023-07-31", "2024-11-30"):
            raise ValueError(f"classifiers exist from api version 2023-07-31 on, got {api_version!r}")
        if classifier_id in self.classifiers or classifier_id in self.pending_classifier_ids:
            raise ValueError(f"classifier {classifier_id!r} already exists on {self.settings.name}")
        names = doc_types or ["invoice", "receipt"]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError("doc_types must be a non-empty list of document type names")
        now = self.world.now()
        seeded = Classifier(classifier_id, now, now, now + V3_MODEL_LIFETIME, api_version,
                            {name: fixtures.classifier_doc_type(name) for name in names}, description,
                            origin={"kind": "seeded"})
        self.classifiers[classifier_id] = seeded
        return seeded

    # ------------------------------------------------------------------ seeding (control API)
    def seed_model(self, family: str, model_id: str | None = None, *, model_name: str | None = None,
                   description: str | None = None, tags: dict[str, str] | None = None, labeled: bool = True,
                   api_version: str = "2023-07-31") -> Model:
        """Put a ready model in place without an API call (test setup)."""
        if family not in ("v2", "v3"):
            raise ValueError(f"family must be 'v2' or 'v3', got {family!r}")
        now = self.world.now()
        if family == "v2":
            model = Model(model_id or str(uuid.uuid4()), "v2", now, now, model_name=model_name, labeled=labeled,
                          origin={"kind": "seeded"})
            if labeled:
                model.train_result = fixtures.v2_labeled()
            else:
                model.keys, model.train_result = fixtures.v2_unlabeled()
        else:
            model_id = model_id or f"model-{uuid.uuid4().hex[:12]}"
            if not MODEL_ID.match(model_id):
                raise ValueError(f"model id {model_id!r} does not match {MODEL_ID.pattern}")
            model = Model(model_id, "v3", now, now, description=description, tags=tags, api_version=api_version,
                          build_mode="template", doc_types={model_id: fixtures.v3_doc_type("template")},
                          expiration=now + V3_MODEL_LIFETIME, origin={"kind": "seeded"})
        if model.model_id in self.models:
            raise ValueError(f"model {model.model_id!r} already exists on {self.settings.name}")
        self.models[model.model_id] = model
        return model

    def seed_composed(self, model_id: str | None = None, *, components: list[str] | dict[str, str],
                      api_version: str = "2023-07-31", classifier_id: str | None = None, split: str | None = None,
                      description: str | None = None, tags: dict[str, str] | None = None,
                      model_name: str | None = None) -> Model:
        """Put a ready composed model in place (test setup), as the given API version composes it.

        v2.1: ``components`` are labeled v2 model ids. 2022-08-31/2023-07-31: v3 model ids (docTypes
        merged). 2024-11-30: ``classifier_id`` (an existing classifier) and ``components`` as
        ``{docType: modelId}`` (a list uses each id as its docType name).
        """
        if not components:
            raise ValueError("components must name at least one component model")
        now = self.world.now()
        if api_version == "v2.1":
            parts = [self._seed_part("v2", c) for c in components]
            if not all(p.labeled for p in parts):
                raise ValueError("v2.1 composes only models trained with labels")
            model = Model(model_id or str(uuid.uuid4()), "v2", now, now, model_name=model_name, is_composed=True,
                          labeled=True, origin={"kind": "seeded-composed", "components": list(components)})
            model.composed_train_results = [{**(p.train_result or fixtures.v2_labeled()), "modelId": p.model_id}
                                            for p in parts]
        elif api_version in ("2022-08-31", "2023-07-31"):
            parts = [self._seed_part("v3", c) for c in components]
            doc_types: dict[str, Any] = {}
            for part in parts:
                doc_types.update(part.doc_types or {})
            model = Model(self._seed_v3_id(model_id), "v3", now, now, description=description, tags=tags,
                          api_version=api_version, doc_types=doc_types, expiration=now + V3_MODEL_LIFETIME,
                          origin={"kind": "seeded-composed", "components": list(components)})
        elif api_version == "2024-11-30":
            if classifier_id is None or classifier_id not in self.classifiers:
                raise ValueError(f"a 2024-11-30 composed model needs an existing classifier, got {classifier_id!r}")
            if split is not None and split not in SPLIT_MODES:
                raise ValueError(f"split must be one of {SPLIT_MODES}, got {split!r}")
            mapping = components if isinstance(components, dict) else {c: c for c in components}
            doc_types = {}
            for doc_type, component_id in mapping.items():
                part = self._seed_part("v3", component_id)
                base = dict(next(iter((part.doc_types or {}).values()), {}))
                doc_types[doc_type] = {**base, "modelId": part.model_id}
            expiration = min(self.models[c].expiration or now + V3_MODEL_LIFETIME for c in mapping.values())
            model = Model(self._seed_v3_id(model_id), "v3", now, now, description=description, tags=tags,
                          api_version=api_version, doc_types=doc_types, expiration=expiration,
                          classifier_id=classifier_id, split=split or "none",
                          origin={"kind": "seeded-composed", "components": list(mapping.values())})
        else:
            raise ValueError(f"api_version must be v2.1, 2022-08-31, 2023-07-31 or 2024-11-30, got {api_version!r}")
        if model.model_id in self.models:
            raise ValueError(f"model {model.model_id!r} already exists on {self.settings.name}")
        self.models[model.model_id] = model
        return model

    def _seed_part(self, family: str, model_id: str) -> Model:
        part = self.models.get(model_id)
        if part is None or part.family != family or part.status != "ready":
            raise ValueError(f"component {model_id!r} is not a ready {family} model on {self.settings.name}")
        return part

    @staticmethod
    def _seed_v3_id(model_id: str | None) -> str:
        model_id = model_id or f"composed-{uuid.uuid4().hex[:12]}"
        if not MODEL_ID.match(model_id):
            raise ValueError(f"model id {model_id!r} does not match {MODEL_ID.pattern}")
        return model_id


def v3_request(body: Any, allowed: set[str], id_field: str) -> tuple[Checker, dict[str, Any], str, str | None]:
    """How every v3+ build/compose/authorize request is read first: a JSON object with only `allowed` fields,
    a valid artifact id in `id_field`, and an optional description of at most 4096 characters."""
    check = Checker("v3")
    body = check.body(body)
    check.allowed(body, allowed)
    artifact_id = check.string(body, id_field, pattern=MODEL_ID)
    assert artifact_id is not None
    return check, body, artifact_id, check.string(body, "description", required=False, max_len=4096)


def _compose_settable(check: Checker, spec: dict[str, Any], where: str) -> dict[str, Any]:
    """The settable fields of one compose docType, type-checked, in the order given."""
    out: dict[str, Any] = {}
    for name in spec:
        if name not in COMPOSE_SETTABLE:
            continue
        value = spec[name]
        if name == "description":
            check.string(spec, name, where=where, max_len=4096)
        elif name == "confidenceThreshold":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise check.fail(f"The parameter '{where}{name}' must be a number between 0 and 1.")
        elif name == "maxDocumentsToAnalyze":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise check.fail(f"The parameter '{where}{name}' must be a positive integer.")
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise check.fail(f"The parameter '{where}{name}' must be a list of strings.")
        out[name] = value
    return out


def classifier_doc_types(check: Checker, wanted: dict[str, Any], api: ApiVersion) -> dict[str, dict[str, Any]]:
    """Validate a classifier build's docTypes; keep each type's source (the kind is derived on the wire).

    2024-11-30 accepts the spec's ``sourceKind`` and the ``kind`` the live service writes back; either must
    name the source that is present.
    """
    if not wanted:
        raise check.fail("The parameter 'docTypes' must name at least one document type.")
    out: dict[str, dict[str, Any]] = {}
    for doc_type, spec in wanted.items():
        where = f"docTypes['{doc_type}']."
        if not isinstance(spec, dict):
            raise check.fail(f"The parameter 'docTypes['{doc_type}']' must be a JSON object.")
        check.allowed(spec, set(SOURCE_KINDS) | ({"sourceKind", "kind"} if api.is_v4 else set()), where)
        sources = [name for name in SOURCE_KINDS if spec.get(name) is not None]
        if len(sources) != 1:
            raise check.fail(f"Exactly one of '{where}azureBlobSource' or '{where}azureBlobFileListSource' is "
                             "required.", "ParameterMissing")
        for key in ("sourceKind", "kind"):
            if key in spec and spec[key] != SOURCE_KINDS[sources[0]]:
                raise check.fail(f"The parameter '{where}{key}' must be '{SOURCE_KINDS[sources[0]]}' for "
                                 f"'{sources[0]}'; got {spec[key]!r}.")
        source = check.obj(spec, sources[0])
        assert source is not None
        inner = f"{where}{sources[0]}."
        if sources[0] == "azureBlobSource":
            check.allowed(source, {"containerUrl", "prefix"}, inner)
            check.string(source, "prefix", required=False, where=inner)
        else:
            check.allowed(source, {"containerUrl", "fileList"}, inner)
            check.string(source, "fileList", where=inner)
        check.string(source, "containerUrl", where=inner)
        out[doc_type] = {sources[0]: dict(source)}
    return out
