"""Provenance of a copy: which source resource and source model a v3+ target model was copied from.

Why tags: the service takes a copy's tags (and description) from the authorizeCopy request, not from the source,
so ModelFerry writes its own three tags there, merged over the source model's own tags. Sync, prune and the
replica catalog then recognise ModelFerry's copies from the target's model list alone, without any state of
their own and even while the source region is down. A model without these tags was not copied by ModelFerry
(or by a version before provenance), so prune never deletes it.

- `modelferry.sourceResource`: the source resource's ARM id (compared case-insensitively, as ARM ids are).
- `modelferry.sourceModelId`: the source model id.
- `modelferry.sourceCreated`: the source model's `createdDateTime`, verbatim as the service returned it; a
  source model rebuilt under the same id gets a new creation time, which is how a stale replica is told apart.

v2 models have no tags (and v2 copies get service-assigned ids): the sync keeps its v2 mapping durably instead.
Classifiers have no tags either: a copied classifier is recognised by id and the fields a copy keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ferry.docintel.fingerprint import normalize_time

PREFIX = "modelferry."
SOURCE_RESOURCE = "modelferry.sourceResource"
SOURCE_MODEL_ID = "modelferry.sourceModelId"
SOURCE_CREATED = "modelferry.sourceCreated"
TAG_KEYS = (SOURCE_RESOURCE, SOURCE_MODEL_ID, SOURCE_CREATED)


@dataclass(frozen=True)
class Provenance:
    """What a copy's tags say about its source. `source_created` may be None (written without it)."""

    source_resource: str
    source_model_id: str
    source_created: str | None = None

    def is_from(self, source_resource: str) -> bool:
        """Whether the copy came from the resource with ARM id `source_resource` (case-insensitive)."""
        return self.source_resource.lower() == str(source_resource or "").lower()

    def same_version(self, source_created: str | None) -> bool:
        """Whether the copy was made from the source model created at `source_created` (not a rebuild)."""
        if self.source_created is None or not source_created:
            return False
        return normalize_time(self.source_created) == normalize_time(source_created)

    def to_dict(self) -> dict[str, Any]:
        return {"sourceResource": self.source_resource, "sourceModelId": self.source_model_id,
                "sourceCreated": self.source_created}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Provenance | None:
        if not isinstance(data, Mapping) or not data.get("sourceResource") or not data.get("sourceModelId"):
            return None
        return cls(str(data["sourceResource"]), str(data["sourceModelId"]),
                   str(data["sourceCreated"]) if data.get("sourceCreated") else None)


def provenance_tags(*, source_resource: str, source_model_id: str, source_created: str | None,
                    own_tags: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The tags to send with authorizeCopy: the source model's own tags with ModelFerry's provenance over them.

    Provenance keys the source carried (it may itself be a copy) are replaced, never merged: the copy records
    the source it was actually copied from."""
    tags = {str(k): str(v) for k, v in (own_tags or {}).items() if not str(k).startswith(PREFIX)}
    tags[SOURCE_RESOURCE] = source_resource
    tags[SOURCE_MODEL_ID] = source_model_id
    if source_created:
        tags[SOURCE_CREATED] = str(source_created)
    return tags


def read_provenance(tags: Mapping[str, Any] | None) -> Provenance | None:
    """The provenance a model's tags record, or None when it was not copied by ModelFerry."""
    if not isinstance(tags, Mapping):
        return None
    resource, model_id = tags.get(SOURCE_RESOURCE), tags.get(SOURCE_MODEL_ID)
    if not isinstance(resource, str) or not resource or not isinstance(model_id, str) or not model_id:
        return None
    created = tags.get(SOURCE_CREATED)
    return Provenance(resource, model_id, created if isinstance(created, str) and created else None)
