"""What a user does on a Document Intelligence resource to set a test up, through its REST API (the emulator
answers as the service): train (v2) or build (v3+) a template model."""

from __future__ import annotations

import uuid

import requests

TRAINING_DATA = "https://contoso.blob.core.windows.net/train"


def api_prefix(version: str) -> str:
    """The path the v3+ API version lives under (2024-11-30 moved to /documentintelligence)."""
    return "/documentintelligence" if version == "2024-11-30" else "/formrecognizer"


def start_training(endpoint: str, key: str, version: str, model_id: str | None = None, *,
                   description: str | None = None, tags: dict[str, str] | None = None) -> str:
    """Ask the resource to train (v2: the service picks the id) or build (v3+: `model_id` or a new one) a model;
    the model's id. The model is ready only once the training ends."""
    headers = {"Ocp-Apim-Subscription-Key": key}
    if version.startswith("v2"):
        resp = requests.post(f"{endpoint}/formrecognizer/{version}/custom/models", headers=headers, timeout=10,
                             json={"source": f"{TRAINING_DATA}?sv=x", "useLabelFile": False})
        assert resp.status_code == 201, resp.text
        return resp.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    model_id = model_id or f"m-{uuid.uuid4().hex[:12]}"
    body = {"modelId": model_id, "buildMode": "template", "azureBlobSource": {"containerUrl": TRAINING_DATA}}
    if description is not None:
        body["description"] = description
    if tags:
        body["tags"] = tags
    resp = requests.post(f"{endpoint}{api_prefix(version)}/documentModels:build", params={"api-version": version},
                         json=body, headers=headers, timeout=10)
    assert resp.status_code == 202, resp.text
    return model_id
