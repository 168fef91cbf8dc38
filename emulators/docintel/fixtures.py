"""Realistic training outputs for models built in the emulator (training data is never fetched).

Shapes follow the recordings (tests/recordings/ and the v3 build results): five "Form_N.jpg" documents,
key clusters for unlabeled v2 models, per-field accuracies for labeled ones, template docTypes for v3.
"""

from __future__ import annotations

from typing import Any

FIELDS = ["Merchant", "PhoneNumber", "Website", "Email", "PurchaseOrderNumber", "DatedAs", "VendorName",
          "CompanyName", "CompanyAddress", "Subtotal", "Tax", "Total", "Signature", "Quantity"]
KEYS = ["Additional Notes:", "Address:", "Company Name:", "Company Phone:", "Dated As:", "Details", "Email:",
        "Name:", "Phone:", "Purchase Order", "Purchase Order #:", "Quantity", "SUBTOTAL", "TAX", "TOTAL",
        "Total", "Unit Price", "Vendor Name:", "Website:"]


def training_documents() -> list[dict[str, Any]]:
    return [{"documentName": f"Form_{i}.jpg", "pages": 1, "errors": [], "status": "succeeded"}
            for i in range(1, 6)]


def v2_unlabeled() -> tuple[dict[str, Any], dict[str, Any]]:
    """(keys, trainResult) of a model trained without labels."""
    return {"clusters": {"0": list(KEYS)}}, {"trainingDocuments": training_documents(), "errors": []}


def v2_labeled(model_id: str | None = None) -> dict[str, Any]:
    """trainResult of a model trained with labels (v2.1 adds the component modelId when composed)."""
    result: dict[str, Any] = {
        "averageModelAccuracy": 0.96,
        "trainingDocuments": training_documents(),
        "fields": [{"fieldName": name, "accuracy": 0.995} for name in FIELDS],
        "errors": [],
    }
    if model_id:
        result["modelId"] = model_id
    return result


def v3_doc_type(build_mode: str) -> dict[str, Any]:
    schema = {name: {"type": "number" if name == "Quantity" else "string"} for name in FIELDS}
    return {"fieldSchema": schema, "buildMode": build_mode,
            "fieldConfidence": {name: 0.995 for name in sorted(FIELDS)}}


def classifier_doc_type(name: str) -> dict[str, Any]:
    """A classifier docType's training source, shaped like the recorded classifier (blob prefix per type)."""
    return {"azureBlobSource": {"containerUrl": "https://example.blob.core.windows.net/training",
                                "prefix": f"{name}/train"}}
