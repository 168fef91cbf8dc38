"""API versions and their generations: the one place that says which version belongs to which generation.

Why one definition: paths, id rules, copy semantics and error shapes differ by generation, and the product used
to decide "is this v2?" in five places (prefix tests, string comparisons with a year). Everything asks here.

- v2 (Form Recognizer 2.x: `v2.0`, `v2.1`): `/formrecognizer/v2.x/custom/models`, service-assigned GUID ids.
- v3 (Form Recognizer 3.x: `2022-08-31`, `2023-07-31`): `/formrecognizer/documentModels`, caller-chosen ids.
- v4 (Document Intelligence 4.0: `2024-11-30`): `/documentintelligence/documentModels`, caller-chosen ids,
  classifier copy.

A copy moves a model only within a copy family: v2 → v2, or v3/v4 → v3/v4 (same REST shape of authorizeCopy
and copyTo). `copy_family` names it; fingerprints carry it, so "v3" there means v3 or v4.
"""

from __future__ import annotations

import re
from typing import Any

V2, V3, V4 = "v2", "v3", "v4"

GENERATION_OF: dict[str, str] = {
    "v2.0": V2,
    "v2.1": V2,
    "2022-08-31": V3,
    "2023-07-31": V3,
    "2024-11-30": V4,
}
API_VERSIONS: tuple[str, ...] = tuple(GENERATION_OF)
"""Every API version a resource may be configured with, oldest first."""


def generation(api_version: str) -> str:
    """"v2", "v3" or "v4"; ValueError for a version ModelFerry does not speak."""
    try:
        return GENERATION_OF[api_version]
    except KeyError:
        raise ValueError(f"API version {api_version!r} is not supported (use one of "
                         f"{', '.join(API_VERSIONS)})") from None


def is_supported(api_version: object) -> bool:
    return isinstance(api_version, str) and api_version in GENERATION_OF


def is_v2(api_version: str) -> bool:
    """v2.0 / v2.1: service-assigned GUID model ids, no caller-chosen target id, no description/tags."""
    return GENERATION_OF.get(api_version) == V2


def copy_family(api_version: str) -> str:
    """"v2" or "v3" (v3 and v4 copy between each other): a copy needs source and target in one family."""
    return V2 if is_v2(api_version) else V3


def path_prefix(api_version: str) -> str:
    """The path root of the v3+ REST API: `/documentintelligence` from v4 on, `/formrecognizer` before."""
    return "/documentintelligence" if generation(api_version) == V4 else "/formrecognizer"


V2_MODEL_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
"""v2 model ids are service-assigned GUIDs."""
V3_MODEL_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._~-]{1,63}$")
"""v3/v4 model ids: 2–64 characters, letters, digits and . _ ~ -, starting with a letter or digit."""


def validate_model_id(api_version: str, model_id: Any, kind: str = "model") -> str | None:
    """Why `model_id` cannot be the id of a `kind` ("model" | "classifier") at `api_version` (a sentence for a
    400), or None when it can. Classifier ids follow the v3+ model id rule."""
    if not is_supported(api_version):
        return f"API version {api_version!r} is not supported (use one of {', '.join(API_VERSIONS)})"
    if not isinstance(model_id, str) or not model_id:
        return f"{kind}Id must be a non-empty string"
    if is_v2(api_version):
        if not V2_MODEL_ID.match(model_id):
            return (f"modelId {model_id[:100]!r} is not a model id of API version {api_version}: v2 model ids "
                    "are GUIDs such as 2a766146-bb85-4907-b438-23e6a35cb114")
        return None
    if not V3_MODEL_ID.match(model_id):
        return (f"{kind}Id {model_id[:100]!r} is not a {kind} id of API version {api_version}: 2–64 characters, "
                "letters, digits and . _ ~ -, starting with a letter or digit")
    return None
