"""API generations the emulator serves, and what differs between them (docs/service-facts.md)."""

from __future__ import annotations

from dataclasses import dataclass

V2_LIFETIME = 24 * 3600  # copy authorization validity, v2 (recordings)
V3_LIFETIME = 3600  # v3/v4: 1 h in every recording


@dataclass(frozen=True)
class ApiVersion:
    version: str  # "v2.0", "v2.1", "2022-08-31", "2023-07-31", "2024-11-30"
    family: str  # "v2" or "v3" (v3 covers v3.0, v3.1 and v4: same model store)
    prefix: str  # "/formrecognizer/v2.1", "/formrecognizer", "/documentintelligence"
    label: str  # how the gateway names the API in 429 texts

    @property
    def is_v2(self) -> bool:
        return self.family == "v2"

    @property
    def is_v4(self) -> bool:
        return self.prefix == "/documentintelligence"

    @property
    def has_classifiers(self) -> bool:
        """Custom classifiers exist from 2023-07-31 on (build/get/list/delete)."""
        return self.version in ("2023-07-31", "2024-11-30")

    @property
    def has_classifier_copy(self) -> bool:
        """Classifier authorizeCopy/copyTo exist only in 2024-11-30 (not in 2023-07-31)."""
        return self.is_v4

    @property
    def auth_lifetime(self) -> int:
        return V2_LIFETIME if self.is_v2 else V3_LIFETIME

    def query(self) -> str:
        """The api-version query a URL of this version carries ("" for v2, version in the path)."""
        return "" if self.is_v2 else f"?api-version={self.version}"


V2_0 = ApiVersion("v2.0", "v2", "/formrecognizer/v2.0", "Form Recognizer v2.0")
V2_1 = ApiVersion("v2.1", "v2", "/formrecognizer/v2.1", "Form Recognizer v2.1")
V3_0 = ApiVersion("2022-08-31", "v3", "/formrecognizer", "Form Recognizer 2022-08-31")
V3_1 = ApiVersion("2023-07-31", "v3", "/formrecognizer", "Form Recognizer 2023-07-31")
V4_0 = ApiVersion("2024-11-30", "v3", "/documentintelligence", "Azure AI Document Intelligence 2024-11-30")

ALL = (V2_0, V2_1, V3_0, V3_1, V4_0)
BY_PATH_VERSION = {"v2.0": V2_0, "v2.1": V2_1}
BY_QUERY = {
    "/formrecognizer": {V3_0.version: V3_0, V3_1.version: V3_1},
    "/documentintelligence": {V4_0.version: V4_0},
}
