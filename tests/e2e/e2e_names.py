"""Names shared by the end-to-end tests and their fixtures (a uniquely named module: `conftest` is ambiguous
when several test folders are collected together)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("v2.0", "v2.1", "2022-08-31", "2023-07-31", "2024-11-30")
SUB = "00000000-0000-0000-0000-0000000000e2"
COPY_SECONDS = 3.0
REGIONS = ("eastus", "westus2", "westeurope", "northeurope", "centralus", "uksouth", "japaneast", "francecentral")


def slug(version: str) -> str:
    return version.replace(".", "").replace("-", "")


def alias(version: str, role: str) -> str:
    return f"{slug(version)}-{role}"


def resource_id(name: str) -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/rg-e2e/providers/Microsoft.CognitiveServices/accounts/"
            f"di-{name}")
