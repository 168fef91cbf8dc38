"""One emulated Document Intelligence resource: its models, authorizations and operations.

One plain method per service operation; they take parsed JSON and return domain objects (``Model``,
``Authorization``, ``Job``) or raise ``ServiceError``. The wire module turns those into HTTP bodies.
Copying lives in ``copying.py``; the callers hold ``world.lock`` and have called ``world.tick()``.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from typing import Any

from . import errors, fixtures
from .settings import ResourceSettings
from .state import V3_MODEL_LIFETIME, Authorization, Job, Model, iso_z
from .validate import GUID, MODEL_ID, Checker
from .versions import ApiVersion
from .world import World

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
        self.copy_behaviours: deque[dict[str, Any]] = deque()

    # ------------------------------------------------------------------ housekeeping
    def reset(self) -> None:
        self.keys = list(self.settings.keys)
        self.models.clear()
        self.authorizations.clear()
        self.jobs.clear()
        self.v2_copies.clear()
        self.pending_ids.clear()
        self.copy_behaviours.clear()

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
        check = Checker("v3")
        body = check.body(body)
        check.allowed(body, {"modelId", "description", "tags"})
        model_id = check.string(body, "modelId", pattern=MODEL_ID)
        assert model_id is not None
        description = check.string(body, "description", required=False, max_len=4096)
        tags = check.tags(body)
        if model_id in self.models or model_id in self.pending_ids:
            raise errors.v3_model_exists(model_id)
        self.check_capacity(api)
        now = self.world.now()
        expires = int(now) + api.auth_lifetime
        token = secrets.token_urlsafe(48)
        payload = {
            "targetResourceId": self.settings.resource_id,
            "targetResourceRegion": self.settings.region,
            "targetModelId": model_id,
            "targetModelLocation": self.model_url(api, model_id),
            "accessToken": token,
            "expirationDateTime": iso_z(expires),
        }
        auth = Authorization(token, "v3", model_id, now, float(expires), payload, api, description, tags)
        self.authorizations[token] = auth
        return auth

    def v3_build(self, api: ApiVersion, body: Any, request_id: str) -> Job:
        check = Checker("v3")
        body = check.body(body)
        allowed = {"modelId", "description", "buildMode", "azureBlobSource", "tags"}
        if api.version != "2022-08-31":
            allowed.add("azureBlobFileListSource")
        if api.is_v4:
            allowed |= {"maxTrainingHours", "allowOverwrite"}
        check.allowed(body, allowed)
        model_id = check.string(body, "modelId", pattern=MODEL_ID)
        assert model_id is not None
        description = check.string(body, "description", required=False, max_len=4096)
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
        check = Checker("v3")
        body = check.body(body)
        if api.is_v4:
            check.allowed(body, {"modelId", "description", "classifierId", "split", "docTypes", "tags"})
        else:
            check.allowed(body, {"modelId", "description", "componentModels", "tags"})
        model_id = check.string(body, "modelId", pattern=MODEL_ID)
        assert model_id is not None
        description = check.string(body, "description", required=False, max_len=4096)
        tags = check.tags(body)
        doc_types: dict[str, Any] = {}
        components: list[str] = []
        if api.is_v4:
            check.string(body, "classifierId")  # classifiers are not emulated: the id is not verified
            split = check.string(body, "split", required=False)
            if split is not None and split not in {"auto", "none", "perPage"}:
                raise check.fail(f"The parameter 'split' must be auto, none or perPage; got '{split}'.")
            wanted = check.obj(body, "docTypes", required=True) or {}
            if not wanted:
                raise check.fail("The parameter 'docTypes' must name at least one document type.")
            for doc_type, spec in wanted.items():
                if not isinstance(spec, dict) or not isinstance(spec.get("modelId"), str):
                    raise check.fail(f"docTypes['{doc_type}'].modelId is required.", "ParameterMissing")
                component = self._component(api, spec["modelId"])
                components.append(component.model_id)
                doc_types[doc_type] = next(iter((component.doc_types or {}).values()), {})
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
                                   request_id, {"kind": "composed", "components": components})

    def _component(self, api: ApiVersion, model_id: str) -> Model:
        model = self.models.get(model_id)
        if model is None or model.family != "v3" or model.status != "ready":
            raise errors.v3_invalid(f"Component model '{model_id}' was not found or is not usable.",
                                    "ModelNotFound")  # inferred wording
        return model

    def _v3_create_job(self, api: ApiVersion, kind: str, model_id: str, description: str | None,
                       tags: dict[str, str] | None, mode: str | None, doc_types: dict[str, Any],
                       request_id: str, origin: dict[str, Any]) -> Job:
        now = self.world.now()
        duration = self.settings.train_seconds
        job = Job(self.new_operation_id(request_id), kind, api, now, now + min(0.5, duration / 4),
                  now + duration, model_id, self.model_url(api, model_id), tags=tags)

        def finish(done: Job) -> None:
            self.pending_ids.discard(model_id)
            at = done.end_at or now
            model = Model(model_id, "v3", at, at, description=description, tags=tags, api_version=api.version,
                          build_mode=mode, doc_types=doc_types, expiration=at + V3_MODEL_LIFETIME, origin=origin)
            self.models[model_id] = model
            done.result = model

        job.finish = finish
        self.pending_ids.add(model_id)
        self.jobs[job.op_id] = job
        self.world.tick()
        return job

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
