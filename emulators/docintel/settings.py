"""One settings object per emulated resource (instead of constructor-parameter sprawl)."""

from __future__ import annotations

from dataclasses import dataclass, field

COMPOSED_COPY_MODES = ("accept", "refuse")  # does a 2024-11-30 composed model copy in one operation? (inferred)
# Classifier copy works only to and from these regions (custom-classifier documentation)
CLASSIFIER_COPY_REGIONS = ("eastus", "westus2", "westeurope")
DEFAULT_RATE_LIMITS = {"manage": 5.0, "get": 50.0, "list": 10.0}  # S0 defaults, per second (service-limits)
REGION_NAMES = {
    "eastus": "East US", "eastus2": "East US 2", "westus": "West US", "westus2": "West US 2",
    "westus3": "West US 3", "centralus": "Central US", "southcentralus": "South Central US",
    "northcentralus": "North Central US", "westeurope": "West Europe", "northeurope": "North Europe",
    "uksouth": "UK South", "francecentral": "France Central", "germanywestcentral": "Germany West Central",
    "swedencentral": "Sweden Central", "switzerlandnorth": "Switzerland North", "japaneast": "Japan East",
    "australiaeast": "Australia East", "canadacentral": "Canada Central", "southeastasia": "Southeast Asia",
}


@dataclass
class ResourceSettings:
    name: str
    region: str
    resource_id: str
    keys: tuple[str, str]
    port: int = 0
    cmk: bool = False
    copy_seconds: float = 2.0
    train_seconds: float = 1.0
    model_limit: int = 5000
    page_size: int = 50
    tier: str = "S0"
    rate_limits: dict[str, float | None] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    region_display_name: str | None = None
    seed: int = 0
    composed_copy: str = "accept"  # one of COMPOSED_COPY_MODES: whether a v4 composed model copy is accepted

    @property
    def display_region(self) -> str:
        return self.region_display_name or REGION_NAMES.get(self.region.lower(), self.region)
