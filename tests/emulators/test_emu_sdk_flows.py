"""The official SDKs, unmodified, complete their flows against the emulator (issue #2, "Done when").

Real time here (the SDK pollers sleep in real time): copies/builds take 0.1 s, polling every 0.02 s.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.ai.documentintelligence import DocumentIntelligenceAdministrationClient
from azure.ai.documentintelligence.models import (
    AuthorizeClassifierCopyRequest,
    AuthorizeCopyRequest,
    AzureBlobContentSource,
    BuildDocumentClassifierRequest,
    BuildDocumentModelRequest,
    ClassifierDocumentTypeDetails,
    ComposeDocumentModelRequest,
    DocumentTypeDetails,
)
from azure.ai.formrecognizer import BlobSource, DocumentModelAdministrationClient, FormTrainingClient
from azure.ai.formrecognizer import ClassifierDocumentTypeDetails as FrClassifierDocumentTypeDetails
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from emu_helpers import three_regions

from emulators import LocalCloud

FAST = {"copySeconds": 0.1, "trainSeconds": 0.1}
POLL = 0.02
BLOB = "https://example.blob.core.windows.net/training?sv=2024&sig=x"


@pytest.fixture(scope="module")
def realtime_cloud() -> Iterator[LocalCloud]:
    with LocalCloud.from_config(three_regions(**FAST)) as running:
        yield running


@pytest.fixture
def regions(realtime_cloud: LocalCloud):
    realtime_cloud.reset()
    return realtime_cloud.resource("src"), realtime_cloud.resource("west")


@pytest.mark.parametrize("api_version", ["2.0", "2.1"])
def test_form_training_client_trains_copies_lists_and_deletes(regions, api_version: str) -> None:
    src, west = regions
    source = FormTrainingClient(src.endpoint, AzureKeyCredential(src.keys[0]), api_version=api_version, retry_total=0)
    target = FormTrainingClient(west.endpoint, AzureKeyCredential(west.keys[1]), api_version=api_version,
                                retry_total=0)
    kwargs = {"model_name": "invoices"} if api_version == "2.1" else {}
    trained = source.begin_training(BLOB, use_training_labels=False, polling_interval=POLL, **kwargs).result()
    assert trained.status == "ready"
    assert [d.name for d in trained.training_documents][:2] == ["Form_1.jpg", "Form_2.jpg"]

    auth = target.get_copy_authorization(resource_region=west.region, resource_id=west.resource_id)
    assert set(auth) == {"modelId", "accessToken", "expirationDateTimeTicks", "resourceId", "resourceRegion"}
    copied = source.begin_copy_model(trained.model_id, target=auth, polling_interval=POLL).result()
    assert copied.model_id == auth["modelId"] and copied.status == "ready"

    fetched = target.get_custom_model(copied.model_id)
    assert fetched.training_started_on == trained.training_started_on  # the source's timestamps
    assert fetched.submodels and fetched.submodels[0].fields
    if api_version == "2.1":
        assert fetched.model_name == "invoices"
    assert [m.model_id for m in target.list_custom_models()] == [copied.model_id]
    assert target.get_account_properties().custom_model_count == 1

    target.delete_model(copied.model_id)
    with pytest.raises(ResourceNotFoundError) as missing:
        target.get_custom_model(copied.model_id)
    assert missing.value.error.code == "1022"


def test_form_training_client_composes_in_v2_1(regions) -> None:
    src, _ = regions
    client = FormTrainingClient(src.endpoint, AzureKeyCredential(src.keys[0]), api_version="2.1", retry_total=0)
    parts = [client.begin_training(BLOB, use_training_labels=True, polling_interval=POLL).result().model_id
             for _ in range(2)]
    composed = client.begin_create_composed_model(parts, model_name="both", polling_interval=POLL).result()
    assert composed.properties.is_composed_model
    assert sorted(sub.model_id for sub in composed.submodels) == sorted(parts)


def test_form_training_client_reports_a_failed_copy_and_a_bad_key(regions) -> None:
    src, west = regions
    source = FormTrainingClient(src.endpoint, AzureKeyCredential(src.keys[0]), api_version="2.1", retry_total=0)
    target = FormTrainingClient(west.endpoint, AzureKeyCredential(west.keys[0]), api_version="2.1", retry_total=0)
    model_id = src.seed_model("v2")
    auth = target.get_copy_authorization(resource_region=west.region, resource_id=west.resource_id)
    source.begin_copy_model(model_id, target=auth, polling_interval=POLL).result()
    with pytest.raises(HttpResponseError) as reused:  # single use
        source.begin_copy_model(model_id, target=auth, polling_interval=POLL).result()
    assert reused.value.error.code == "2024"
    bad = FormTrainingClient(src.endpoint, AzureKeyCredential("wrong"), api_version="2.1", retry_total=0)
    with pytest.raises(ClientAuthenticationError) as denied:
        bad.get_custom_model(model_id)
    assert denied.value.error.code == "401"


@pytest.mark.parametrize("api_version", ["2022-08-31", "2023-07-31"])
def test_document_model_administration_client_builds_copies_lists_and_deletes(regions, api_version: str) -> None:
    src, west = regions
    source = DocumentModelAdministrationClient(src.endpoint, AzureKeyCredential(src.keys[0]),
                                               api_version=api_version, retry_total=0)
    target = DocumentModelAdministrationClient(west.endpoint, AzureKeyCredential(west.keys[0]),
                                               api_version=api_version, retry_total=0)
    built = source.begin_build_document_model("template", blob_container_url=BLOB, model_id="invoices",
                                              description="source", polling_interval=POLL).result()
    assert built.model_id == "invoices" and "invoices" in built.doc_types

    auth = target.get_copy_authorization(model_id="invoices-copy", description="copied", tags={"k": "v"})
    poller = source.begin_copy_document_model_to("invoices", target=auth, polling_interval=POLL)
    copied = poller.result()
    assert copied.model_id == "invoices-copy" and copied.tags == {"k": "v"} and copied.description == "copied"
    assert copied.created_on == built.created_on
    assert poller.details["operation_kind"] == "documentModelCopyTo"
    assert poller.details["percent_completed"] == 100

    assert target.get_document_model("invoices-copy").doc_types.keys() == built.doc_types.keys()
    assert [m.model_id for m in target.list_document_models()] == ["invoices-copy"]
    assert target.get_resource_details().custom_document_models.count == 1
    target.delete_document_model("invoices-copy")
    with pytest.raises(ResourceNotFoundError) as missing:
        target.get_document_model("invoices-copy")
    assert missing.value.error.code == "NotFound"


def test_document_intelligence_administration_client_builds_copies_lists_and_deletes(regions) -> None:
    src, west = regions
    source = DocumentIntelligenceAdministrationClient(src.endpoint, AzureKeyCredential(src.keys[0]), retry_total=0)
    target = DocumentIntelligenceAdministrationClient(west.endpoint, AzureKeyCredential(west.keys[1]),
                                                      retry_total=0)
    request = BuildDocumentModelRequest(model_id="receipts", build_mode="template",
                                        azure_blob_source=AzureBlobContentSource(container_url=BLOB))
    built = source.begin_build_document_model(request, polling_interval=POLL).result()
    assert built.model_id == "receipts"

    auth = target.authorize_model_copy(AuthorizeCopyRequest(model_id="receipts-dr", tags={"app": "ferry"}))
    copied = source.begin_copy_model_to("receipts", auth, polling_interval=POLL).result()
    assert copied.model_id == "receipts-dr" and copied.tags == {"app": "ferry"}
    assert list(copied.doc_types) == ["receipts-dr"]  # 2024 renames the docType named after the source

    assert target.get_model("receipts-dr").created_date_time == built.created_date_time
    assert [m.model_id for m in target.list_models()] == ["receipts-dr"]
    target.delete_model("receipts-dr")
    with pytest.raises(ResourceNotFoundError):
        target.get_model("receipts-dr")


def test_document_intelligence_client_surfaces_a_failed_copy(regions) -> None:
    src, west = regions
    src.set_copy_behaviour("fail_3013")
    source = DocumentIntelligenceAdministrationClient(src.endpoint, AzureKeyCredential(src.keys[0]), retry_total=0)
    target = DocumentIntelligenceAdministrationClient(west.endpoint, AzureKeyCredential(west.keys[0]), retry_total=0)
    src.seed_model("v3", "seeded")
    auth = target.authorize_model_copy(AuthorizeCopyRequest(model_id="seeded-dr"))
    with pytest.raises(HttpResponseError) as failed:
        source.begin_copy_model_to("seeded", auth, polling_interval=POLL).result()
    assert failed.value.error.code == "Timeout"
    assert failed.value.error.innererror["code"] == "3013"
    assert target.get_model("seeded-dr").warnings[0].code == "ModelCopyIncomplete"  # left for clean-up


def _classifier_types() -> dict[str, ClassifierDocumentTypeDetails]:
    return {name: ClassifierDocumentTypeDetails(azure_blob_source=AzureBlobContentSource(
        container_url=BLOB, prefix=f"{name}/train")) for name in ("IRS-1040-A", "IRS-1040-B")}


def test_document_intelligence_client_builds_copies_lists_and_deletes_classifiers(regions) -> None:
    src, west = regions
    source = DocumentIntelligenceAdministrationClient(src.endpoint, AzureKeyCredential(src.keys[0]), retry_total=0)
    target = DocumentIntelligenceAdministrationClient(west.endpoint, AzureKeyCredential(west.keys[0]), retry_total=0)
    request = BuildDocumentClassifierRequest(classifier_id="irs", description="IRS document classifier",
                                             doc_types=_classifier_types())
    built = source.begin_build_classifier(request, polling_interval=POLL).result()
    assert built.classifier_id == "irs" and sorted(built.doc_types) == ["IRS-1040-A", "IRS-1040-B"]
    assert built.doc_types["IRS-1040-A"].azure_blob_source.prefix == "IRS-1040-A/train"
    assert source.get_classifier("irs").modified_date_time == built.modified_date_time

    auth = target.authorize_classifier_copy(AuthorizeClassifierCopyRequest(classifier_id="irs-dr",
                                                                           tags={"testkey": "testvalue"}))
    assert auth.target_classifier_id == "irs-dr" and auth.target_resource_region == "westus2"
    poller = source.begin_copy_classifier_to("irs", auth, polling_interval=POLL)
    copied = poller.result()
    assert copied.classifier_id == "irs-dr" and copied.description == "IRS document classifier"
    assert copied.modified_date_time == built.modified_date_time
    assert copied.expiration_date_time == built.expiration_date_time
    assert copied.created_date_time >= built.created_date_time

    assert [c.classifier_id for c in target.list_classifiers()] == ["irs-dr"]
    assert target.get_classifier("irs-dr").doc_types.keys() == built.doc_types.keys()
    target.delete_classifier("irs-dr")
    with pytest.raises(ResourceNotFoundError):
        target.get_classifier("irs-dr")
    with pytest.raises(HttpResponseError) as reused:  # single-use authorization
        source.begin_copy_classifier_to("irs", auth, polling_interval=POLL).result()
    assert reused.value.error.code == "2024"


def test_document_intelligence_client_composes_with_a_classifier(regions) -> None:
    src, _ = regions
    client = DocumentIntelligenceAdministrationClient(src.endpoint, AzureKeyCredential(src.keys[0]), retry_total=0)
    for model_id in ("part-a", "part-b"):
        client.begin_build_document_model(BuildDocumentModelRequest(
            model_id=model_id, build_mode="template", azure_blob_source=AzureBlobContentSource(container_url=BLOB)),
            polling_interval=POLL).result()
    client.begin_build_classifier(BuildDocumentClassifierRequest(classifier_id="router", doc_types=_classifier_types()),
                                  polling_interval=POLL).result()
    request = ComposeDocumentModelRequest(
        model_id="both", classifier_id="router", split="perPage", description="composed", tags={"k": "v"},
        doc_types={"IRS-1040-A": DocumentTypeDetails(model_id="part-a", confidence_threshold=0.7),
                   "IRS-1040-B": DocumentTypeDetails(model_id="part-b")})
    composed = client.begin_compose_model(request, polling_interval=POLL).result()
    assert (composed.classifier_id, composed.split, composed.tags) == ("router", "perPage", {"k": "v"})
    assert composed.doc_types["IRS-1040-A"].model_id == "part-a"
    assert composed.doc_types["IRS-1040-A"].confidence_threshold == 0.7
    assert composed.doc_types["IRS-1040-B"].field_schema  # the component's schema
    fetched = client.get_model("both")
    assert fetched.classifier_id == "router" and fetched.doc_types["IRS-1040-B"].model_id == "part-b"


def test_document_model_administration_client_manages_classifiers_in_2023_07_31(regions) -> None:
    src, _ = regions
    client = DocumentModelAdministrationClient(src.endpoint, AzureKeyCredential(src.keys[0]),
                                               api_version="2023-07-31", retry_total=0)
    types = {name: FrClassifierDocumentTypeDetails(source=BlobSource(container_url=BLOB, prefix=f"{name}/"))
             for name in ("a", "b")}
    built = client.begin_build_document_classifier(types, classifier_id="legacy", description="old",
                                                   polling_interval=POLL).result()
    assert built.classifier_id == "legacy" and built.api_version == "2023-07-31"
    assert client.get_document_classifier("legacy").description == "old"
    assert [c.classifier_id for c in client.list_document_classifiers()] == ["legacy"]
    client.delete_document_classifier("legacy")
    with pytest.raises(ResourceNotFoundError):
        client.get_document_classifier("legacy")
