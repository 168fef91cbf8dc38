"""Composed models end to end: HTTP in (POST /api/copies), emulator state out (models and classifiers on targets).

v2.1 and 2023-07-31 composed models copy in one operation and carry their components. A 2024-11-30 composed
model embeds a classifier and points at component models: the copy first copies those (same ids, already present
counts), then the composed model, and verifies all of them on the target; when the service refuses the composed
copy (the emulator's `composedCopy: refuse`, an inferred answer), it composes the model again on the target from
the source's definition and says so (`recomposed`).
"""

import uuid

import pytest
import requests
from e2e_support import alias, requests_since, run_copy

SRC, A = "cls-src", "cls-a"
V4 = "2024-11-30"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def log_len(env, name):
    return len(env.cloud.resource(name).request_log())


def compose_v4(env, name, classifier_id, components):
    """Compose through the REST API (`documentModels:compose`) with settable doc-type fields; wait until ready."""
    handle = env.cloud.resource(name)
    model_id = unique("composed")
    body = {"modelId": model_id, "classifierId": classifier_id, "split": "auto", "description": "all our forms",
            "tags": {"team": "payables"},
            "docTypes": {f"type-{i}": {"modelId": c, "confidenceThreshold": 0.4 + i / 10,
                                       "description": f"forms of {c}"} for i, c in enumerate(components)}}
    headers = {"Ocp-Apim-Subscription-Key": handle.key}
    url = f"{handle.endpoint}/documentintelligence/documentModels"
    resp = requests.post(f"{url}:compose", params={"api-version": V4}, json=body, headers=headers, timeout=10)
    assert resp.status_code == 202, resp.text
    for _ in range(20):
        env.cloud.advance(1.0)
        got = requests.get(f"{url}/{model_id}", params={"api-version": V4}, headers=headers, timeout=10)
        if got.status_code == 200:
            return model_id, got.json()
    raise AssertionError(f"composed model {model_id} never became ready")


def v4_estate(env, source=SRC):
    """On the source: a classifier, two component models and the composed model over them."""
    classifier_id = env.cloud.resource(source).seed_classifier(unique("router"))
    components = [env.train(source, V4), env.train(source, V4)]
    composed_id, details = compose_v4(env, source, classifier_id, components)
    return composed_id, details, classifier_id, components


def copied_dependencies(result):
    return {(d["kind"], d["id"]): d for d in result["dependencies"]}


@pytest.fixture
def refusing_source(env):
    env.cloud.resource(SRC).set_composed_copy("refuse")
    yield env
    env.cloud.resource(SRC).set_composed_copy("accept")


def test_v21_composed_model_copies_in_one_operation_with_its_components(env):
    src, a = alias("v2.1", "src"), alias("v2.1", "a")
    handle = env.cloud.resource(src)
    parts = [handle.seed_model("v2", labeled=True), handle.seed_model("v2", labeled=True)]
    composed_id = handle.seed_composed(components=parts, api_version="v2.1", model_name="all forms")
    start = log_len(env, src)
    _, out = run_copy(env, {"modelId": composed_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert result["status"] == "succeeded" and "dependencies" not in result
    assert len(requests_since(env, src, "copy", start)) == 1  # one copy operation, no component copied apart
    copied = env.cloud.resource(a).model(result["targetModelId"])
    assert copied["isComposed"] is True and copied["modelName"] == "all forms"


def test_2023_composed_model_copies_in_one_operation_and_a_rerun_finds_it(env):
    version = "2023-07-31"
    src, a = alias(version, "src"), alias(version, "a")
    handle = env.cloud.resource(src)
    parts = [handle.seed_model("v3", api_version=version), handle.seed_model("v3", api_version=version)]
    composed_id = handle.seed_composed(unique("composed"), components=parts, api_version=version)
    start = log_len(env, src)
    _, out = run_copy(env, {"modelId": composed_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert result["status"] == "succeeded" and result["targetModelId"] == composed_id
    assert "dependencies" not in result
    assert len(requests_since(env, src, "copy", start)) == 1
    source_types = handle.model(composed_id)["docTypes"]
    assert env.cloud.resource(a).model(composed_id)["docTypes"] == source_types  # the components' doc types
    for part in parts:
        assert part not in env.model_ids(a)  # carried inside, not copied apart

    _, again = run_copy(env, {"modelId": composed_id, "source": src, "targets": [a]})
    assert again["targets"][a]["alreadyPresent"] is True


def test_2024_composed_model_copies_its_classifier_and_components_first(env):
    composed_id, _, classifier_id, components = v4_estate(env)
    iid, out = run_copy(env, {"modelId": composed_id, "source": SRC, "targets": [A]})
    result = out["targets"][A]
    assert out["status"] == "succeeded" and result["status"] == "succeeded", result
    assert not result.get("recomposed")
    deps = copied_dependencies(result)
    assert set(deps) == {("classifier", classifier_id)} | {("model", c) for c in components}
    assert all(d["status"] == "succeeded" and not d.get("alreadyPresent") for d in deps.values())
    # on the target: the classifier, every component under its id, and the composed model pointing at them
    target = env.cloud.resource(A)
    assert target.classifier(classifier_id) is not None
    assert all(target.model(c) is not None for c in components)
    copied = target.model(composed_id)
    assert copied["classifierId"] == classifier_id and copied["split"] == "auto"
    assert {spec["modelId"] for spec in copied["docTypes"].values()} == set(components)
    # the dependency copies ran first, as sub-orchestrations of the same workflow with deterministic ids
    child = env.host.status(f"{iid}:{A}")
    assert child["customStatus"]["dependencies"] == {f"{k}:{i}": "succeeded" for k, i in deps}
    for dep in deps.values():
        assert env.host.status(dep["instanceId"])["runtimeStatus"] == "Completed"
        assert dep["instanceId"].startswith(f"{iid}:{A}:")

    # a re-run: everything is already there, nothing is copied
    start = log_len(env, SRC)
    _, again = run_copy(env, {"modelId": composed_id, "source": SRC, "targets": [A]})
    result = again["targets"][A]
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True
    assert all(d["alreadyPresent"] for d in copied_dependencies(result).values())
    assert requests_since(env, SRC, "copy", start) == requests_since(env, SRC, "copyClassifier", start) == []


def test_2024_composed_copy_refused_is_composed_again_on_the_target(refusing_source):
    env = refusing_source
    composed_id, details, classifier_id, components = v4_estate(env)
    # one component is already on the target (an earlier copy): it counts as copied
    _, first = run_copy(env, {"modelId": components[0], "source": SRC, "targets": [A]})
    assert first["status"] == "succeeded"
    a_start = log_len(env, A)
    _, out = run_copy(env, {"modelId": composed_id, "source": SRC, "targets": [A]})
    result = out["targets"][A]
    assert out["status"] == "succeeded" and result["recomposed"] is True, result
    deps = copied_dependencies(result)
    assert deps[("model", components[0])]["alreadyPresent"] is True
    assert not deps[("model", components[1])].get("alreadyPresent")
    assert len(requests_since(env, A, "compose", a_start)) == 1
    copied = env.cloud.resource(A).model(composed_id)
    # composed from the source's definition: classifier, doc types with component ids and settable fields, split,
    # description, tags
    assert copied["classifierId"] == classifier_id and copied["split"] == "auto"
    assert copied["description"] == "all our forms" and copied["tags"]["team"] == "payables"
    assert copied["tags"]["modelferry.sourceModelId"] == composed_id  # provenance, as on any copy
    for name, spec in details["docTypes"].items():
        for key in ("modelId", "confidenceThreshold", "description"):
            assert copied["docTypes"][name][key] == spec[key], (name, key)

    # a re-run finds the recomposed model (same definition) and everything else present
    a_start = log_len(env, A)
    _, again = run_copy(env, {"modelId": composed_id, "source": SRC, "targets": [A]})
    result = again["targets"][A]
    assert result["status"] == "succeeded" and result["alreadyPresent"] is True and not result.get("recomposed")
    assert requests_since(env, A, "compose", a_start) == []


def test_a_dependency_that_cannot_be_copied_fails_the_composed_copy_naming_it(env):
    composed_id, _, classifier_id, _ = v4_estate(env)
    env.cloud.resource(A).seed_classifier(classifier_id, description="another team's classifier")
    _, out = run_copy(env, {"modelId": composed_id, "source": SRC, "targets": [A]})
    result = out["targets"][A]
    assert result["status"] == "failed" and result["error"]["code"] == "DependencyCopyFailed"
    assert classifier_id in result["error"]["message"] and "TargetModelExists" in result["error"]["message"]
    assert copied_dependencies(result)[("classifier", classifier_id)]["status"] == "failed"
    assert composed_id not in env.model_ids(A)  # a composed model without its classifier is not made


def test_a_composed_model_outside_the_classifier_copy_regions_fails_naming_its_classifier(env):
    src, a = "cls-far", A  # 2024-11-30, but the source is not in eastus / westus2 / westeurope
    composed_id, _, classifier_id, _ = v4_estate(env, src)
    _, out = run_copy(env, {"modelId": composed_id, "source": src, "targets": [a]})
    result = out["targets"][a]
    assert result["status"] == "failed" and result["error"]["code"] == "DependencyCopyFailed"
    dep = copied_dependencies(result)[("classifier", classifier_id)]
    assert dep["error"]["code"] == "ClassifierCopyNotSupported" and "westeurope" in dep["error"]["hint"]
    assert composed_id not in env.model_ids(a)
