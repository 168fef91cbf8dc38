"""Custom document models (`documentModels`; v2 `custom/models`): the kind every copy began with.

A model's copy is recognised by `ferry.docintel.fingerprint` (creation and expiry kept, content digest); a
2024-11-30 composed model also by its composition, so one composed again on a target from the same definition
(`ferry.kinds.composed`) counts as its copy. Its dependencies are a composed model's classifier and components.
"""

from __future__ import annotations

from typing import Any

from ferry.kinds import MODEL_KIND, Kind, composed


def fingerprint(details: dict[str, Any]) -> dict[str, Any]:
    """`fingerprint_v3`, plus the composition of a 2024-11-30 composed model."""
    from ferry.docintel import fingerprint as prints  # here: importing the kinds stays client-free

    found = prints.fingerprint_v3(details)
    shape = composed.composition(details)
    if shape is not None:
        found["composition"] = shape
    return found


def is_copy_of(source: dict[str, Any], target: dict[str, Any]) -> bool:
    """A copy (same creation, expiry, content), or the same composition composed again on the target."""
    from ferry.docintel import fingerprint as prints

    if prints.is_copy_of(source, target):
        return True
    return (composed.same_composition(source, target)
            and (source or {}).get("digest") == (target or {}).get("digest"))


MODEL = Kind(
    name=MODEL_KIND, request_field="modelId", collection="documentModels", target_id_field="targetModelId",
    build_operations=frozenset({"documentModelBuild", "documentModelCompose"}), api_versions=None, regions=None,
    fingerprint=fingerprint, is_copy_of=is_copy_of, dependencies=composed.dependencies)
