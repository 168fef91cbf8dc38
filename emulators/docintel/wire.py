"""JSON bodies per API generation, with the real services' field order (docs/service-facts.md)."""

from __future__ import annotations

from typing import Any

from .state import SOURCE_KINDS, Classifier, Job, Model, iso_7, iso_z
from .versions import ApiVersion


# ------------------------------------------------------------------ v2
def v2_model_info(model: Model, api: ApiVersion) -> dict[str, Any]:
    info: dict[str, Any] = {"modelId": model.model_id}
    if api.version == "v2.1":
        if model.model_name is not None:
            info["modelName"] = model.model_name
        info["attributes"] = {"isComposed": model.is_composed}
    info["status"] = model.status
    info["createdDateTime"] = iso_z(model.created)
    info["lastUpdatedDateTime"] = iso_z(model.last_updated)
    return info


def v2_model(model: Model, api: ApiVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"modelInfo": v2_model_info(model, api)}
    if model.status != "ready":
        return body
    if model.keys is not None:
        body["keys"] = model.keys
    if model.is_composed and api.version == "v2.1":
        body["composedTrainResults"] = model.composed_train_results or []
    elif model.train_result is not None:
        result = dict(model.train_result)
        if api.version == "v2.0":
            result.pop("modelId", None)
        body["trainResult"] = result
    return body


def v2_summary(count: int, limit: int, last_updated: float) -> dict[str, Any]:
    return {"count": count, "limit": limit, "lastUpdatedDateTime": iso_z(last_updated)}


def v2_copy_authorization(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in ("modelId", "accessToken", "expirationDateTimeTicks")}


def v2_copy_result(job: Job, now: float, request_id: str) -> dict[str, Any]:
    status = job.status(now)
    if job.applied:  # on completion the timestamps switch to 7-digit fractions (recordings)
        created, updated = iso_7(job.finished_at or now), iso_7((job.finished_at or now) + 0.0000004)
    else:
        created = iso_z(job.created)
        updated = iso_z(job.last_updated(now))
    result: dict[str, Any] = {"modelId": job.target_model_id}
    if status == "failed" and job.failure is not None:
        result["errors"] = [job.failure.v2_error(request_id)]
    return {"status": status, "createdDateTime": created, "lastUpdatedDateTime": updated, "copyResult": result}


# ------------------------------------------------------------------ v3+ / v4
def v3_model(model: Model, api: ApiVersion, summary: bool = False) -> dict[str, Any]:
    if model.classifier_id is not None and api.is_v4:
        return v4_composed_model(model, api, summary)
    body: dict[str, Any] = {}
    if not summary:
        body["docTypes"] = model.doc_types or {}
    body["modelId"] = model.model_id
    if model.description is not None:
        body["description"] = model.description
    body["createdDateTime"] = iso_z(model.created)
    if api.version != "2022-08-31" and model.expiration is not None:
        body["expirationDateTime"] = iso_z(model.expiration)
    body["apiVersion"] = model.api_version or api.version
    if model.tags:
        body["tags"] = model.tags
    if api.is_v4 and not summary and model.build_mode:
        body["buildMode"] = model.build_mode
    if api.is_v4 and model.status == "incomplete" and not summary:
        body["warnings"] = [{"code": "ModelCopyIncomplete",
                             "message": "The copy into this model did not complete. Delete the model and copy "
                                        "again."}]  # emulator representation of a 3013 leftover (inferred)
    return body


def v4_composed_model(model: Model, api: ApiVersion, summary: bool = False) -> dict[str, Any]:
    """A 2024-11-30 composed model, in the recorded order (docTypes, classifierId, split, modelId, created,
    expiration, apiVersion, description, tags); each docType names its component ``modelId``."""
    body: dict[str, Any] = {}
    if not summary:
        body["docTypes"] = model.doc_types or {}
    body["classifierId"] = model.classifier_id
    body["split"] = model.split or "none"
    body["modelId"] = model.model_id
    body["createdDateTime"] = iso_z(model.created)
    if model.expiration is not None:
        body["expirationDateTime"] = iso_z(model.expiration)
    body["apiVersion"] = model.api_version or api.version
    if model.description is not None:
        body["description"] = model.description
    if model.tags:
        body["tags"] = model.tags
    if model.status == "incomplete" and not summary:
        body["warnings"] = [{"code": "ModelCopyIncomplete",
                             "message": "The copy into this model did not complete. Delete the model and copy "
                                        "again."}]  # emulator representation of a 3013 leftover (inferred)
    return body


def v3_classifier(classifier: Classifier, api: ApiVersion) -> dict[str, Any]:
    """DocumentClassifierDetails. 2024-11-30 in the recorded order (classifierId, createdDateTime,
    modifiedDateTime, expirationDateTime, apiVersion, docTypes with ``kind``, description); 2023-07-31 has
    no modifiedDateTime and no kind (its SDK's field order)."""
    doc_types: dict[str, Any] = {}
    for name, spec in classifier.doc_types.items():
        source = next(iter(spec))
        doc_types[name] = ({"kind": SOURCE_KINDS[source]} if api.is_v4 else {}) | {source: spec[source]}
    body: dict[str, Any] = {"classifierId": classifier.classifier_id}
    if not api.is_v4 and classifier.description is not None:
        body["description"] = classifier.description
    body["createdDateTime"] = iso_z(classifier.created)
    if api.is_v4:
        body["modifiedDateTime"] = iso_z(classifier.modified)
    body["expirationDateTime"] = iso_z(classifier.expiration)
    body["apiVersion"] = classifier.api_version
    if api.is_v4 and classifier.base_classifier_id is not None:
        body["baseClassifierId"] = classifier.base_classifier_id
    body["docTypes"] = doc_types
    if api.is_v4 and classifier.description is not None:
        body["description"] = classifier.description
    if api.is_v4 and classifier.status == "incomplete":
        body["warnings"] = [{"code": "ClassifierCopyIncomplete",
                             "message": "The copy into this classifier did not complete. Delete the classifier "
                                        "and copy again."}]  # emulator representation of a 3013 leftover (inferred)
    return body


def v3_operation(job: Job, now: float, summary: bool = False) -> dict[str, Any]:
    status = job.status(now)
    body: dict[str, Any] = {
        "operationId": job.op_id, "kind": job.kind, "status": status,
        "createdDateTime": iso_z(job.created), "lastUpdatedDateTime": iso_z(job.last_updated(now)),
        "resourceLocation": job.resource_location,
    }
    if status == "running" and job.kind == "documentClassifierBuild":
        body["percentCompleted"] = 0  # recorded: a running classifier build says 0 (model operations say nothing)
    if status == "succeeded":
        body["percentCompleted"] = 100
        if not summary and isinstance(job.result, Classifier):
            body["result"] = v3_classifier(job.result, job.api)
        elif not summary and job.result is not None:
            body["result"] = v3_model(job.result, job.api)
    elif status == "failed" and job.failure is not None and not summary:
        body["error"] = job.failure.v3_error()
    if job.tags:
        body["tags"] = job.tags
    if job.api.is_v4:
        body["apiVersion"] = job.api.version  # last, after tags (recorded compose operation)
    return body


def v3_info(api: ApiVersion, count: int, limit: int, now: float) -> dict[str, Any]:
    body: dict[str, Any] = {"customDocumentModels": {"count": count, "limit": limit}}
    if api.version == "2023-07-31":
        # neural build quota (2023-07-31 ResourceDetails); the emulator does not meter neural hours
        body["customNeuralDocumentModelBuilds"] = {"used": 0, "quota": 20,
                                                   "quotaResetDateTime": iso_z(now - now % 2592000 + 2592000)}
    return body
