"""ferry.kinds: how a copied classifier and a composed model are recognised, and a composed model's dependencies."""

from ferry.kinds import Dependency, composed, kind_named
from ferry.kinds.classifier import CLASSIFIER

SOURCE_CLASSIFIER = {
    "classifierId": "cls-1", "createdDateTime": "2024-12-14T10:00:00Z", "modifiedDateTime": "2024-12-14T10:00:00Z",
    "expirationDateTime": "2026-12-14T10:00:00Z", "apiVersion": "2024-11-30", "description": "router",
    "docTypes": {"invoice": {"kind": "azureBlob", "azureBlobSource": {"containerUrl": "https://x/c", "prefix": "i/"}}},
}


def test_a_classifier_copy_has_a_new_creation_time_and_is_still_recognised():
    copy = dict(SOURCE_CLASSIFIER, createdDateTime="2025-01-01T00:00:00.1234567Z")
    assert CLASSIFIER.is_copy_of(CLASSIFIER.fingerprint(SOURCE_CLASSIFIER), CLASSIFIER.fingerprint(copy))
    # the spec's `sourceKind` and the live service's `kind` are the same thing
    spec_shaped = dict(copy, docTypes={"invoice": {"sourceKind": "azureBlob", "azureBlobSource": {
        "containerUrl": "https://x/c", "prefix": "i/"}}})
    assert CLASSIFIER.is_copy_of(CLASSIFIER.fingerprint(SOURCE_CLASSIFIER), CLASSIFIER.fingerprint(spec_shaped))


def test_another_classifier_under_the_id_is_not_a_copy():
    source = CLASSIFIER.fingerprint(SOURCE_CLASSIFIER)
    for change in ({"modifiedDateTime": "2025-01-01T00:00:00Z"}, {"description": "other"},
                   {"expirationDateTime": "2027-01-01T00:00:00Z"},
                   {"docTypes": {"receipt": SOURCE_CLASSIFIER["docTypes"]["invoice"]}}):
        assert not CLASSIFIER.is_copy_of(source, CLASSIFIER.fingerprint(dict(SOURCE_CLASSIFIER, **change))), change


COMPOSED = {
    "modelId": "composed-1", "classifierId": "cls-1", "split": "auto", "description": "all forms",
    "tags": {"team": "ap"}, "createdDateTime": "2024-12-14T10:00:00Z", "expirationDateTime": "2026-12-14T10:00:00Z",
    "docTypes": {"invoice": {"modelId": "inv-1", "confidenceThreshold": 0.5, "fieldSchema": {"a": {"type": "string"}},
                             "buildMode": "template"},
                 "receipt": {"modelId": "rec-1", "fieldSchema": {}, "buildMode": "template"},
                 "invoice-b": {"modelId": "inv-1", "fieldSchema": {}, "buildMode": "template"}},
}


def test_composed_dependencies_are_the_classifier_then_each_component_once():
    assert composed.dependencies(COMPOSED) == [Dependency("classifier", "cls-1"), Dependency("model", "inv-1"),
                                               Dependency("model", "rec-1")]
    assert composed.dependencies({"modelId": "plain", "docTypes": {"x": {}}}) == []


def test_compose_request_keeps_the_definition():
    body = composed.compose_request(COMPOSED)
    assert body == {"modelId": "composed-1", "classifierId": "cls-1", "split": "auto", "description": "all forms",
                    "tags": {"team": "ap"},
                    "docTypes": {"invoice": {"modelId": "inv-1", "confidenceThreshold": 0.5},
                                 "receipt": {"modelId": "rec-1"}, "invoice-b": {"modelId": "inv-1"}}}


def test_a_recomposed_model_counts_as_the_copy_but_another_composition_does_not():
    model = kind_named("model")
    source = model.fingerprint(COMPOSED)
    recomposed = dict(COMPOSED, createdDateTime="2025-02-02T00:00:00Z")
    assert model.is_copy_of(source, model.fingerprint(recomposed))
    other = dict(recomposed, classifierId="cls-2")
    assert not model.is_copy_of(source, model.fingerprint(other))


def test_only_the_composed_refusal_switches_to_composing_on_the_target():
    assert composed.copy_refused("InvalidRequest", "InvalidModel")
    assert not composed.copy_refused("InvalidRequest", "UnsupportedRegion")
    assert not composed.copy_refused("2024", None)


def test_a_composed_status_stays_small_with_many_dependencies():
    from ferry.orchestration import progress

    deps = {f"model:component-{i:04d}-{'x' * 40}": "succeeded" for i in range(200)}
    status = progress.child_status(target="west", stage="dependencies", attempts=0, target_model_id="c",
                                   dependencies=deps)
    assert len(str(status)) <= progress.MAX_STATUS_CHARS
    assert status["dependencies"] == {"succeeded": 200}
