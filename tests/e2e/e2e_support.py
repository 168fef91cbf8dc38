"""Names and helpers shared by the end-to-end tests and their fixtures (a uniquely named module: `conftest` is
ambiguous when several test folders are collected together)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("v2.0", "v2.1", "2022-08-31", "2023-07-31", "2024-11-30")
SUB = "00000000-0000-0000-0000-0000000000e2"
COPY_SECONDS = 3.0
# 2024-11-30 resources for classifier and composed copies: three in the classifier-copy regions, one outside them
CLASSIFIER_REGIONS = {"cls-src": "eastus", "cls-a": "westus2", "cls-b": "westeurope", "cls-far": "northeurope"}
REGIONS = ("eastus", "westus2", "westeurope", "northeurope", "centralus", "uksouth", "japaneast", "francecentral")


def slug(version: str) -> str:
    return version.replace(".", "").replace("-", "")


def alias(version: str, role: str) -> str:
    return f"{slug(version)}-{role}"


def resource_id(name: str) -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/rg-e2e/providers/Microsoft.CognitiveServices/accounts/"
            f"di-{name}")


def run_copy(env, body: dict) -> tuple[str, dict]:
    """POST /api/copies, wait for the orchestration, insist it completed: (instance id, output)."""
    resp = env.post_copy(body)
    assert resp.status_code == 202, resp.text
    status = env.wait(resp.json()["id"], timeout=90)
    assert status["runtimeStatus"] == "Completed", status
    return resp.json()["id"], status["output"]


def requests_since(env, resource: str, operation: str, start: int) -> list[dict]:
    """The emulator's request log entries of one operation on one resource, from position `start` on."""
    return [e for e in env.cloud.resource(resource).request_log()[start:] if e["operation"] == operation]
