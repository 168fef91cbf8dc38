"""The replica catalog: which source artifact has which replica where, in which state (pure, no I/O).

Why built from the TARGETS: on the day of an outage the source region is the one that does not answer. A v3+
copy made by ModelFerry carries provenance tags (source resource, source model id, source creation time), so
each target's own inventory says whose copy it holds and of which version; v2 copies get new ids, so the v2
mapping (source id → target id per target, kept by the app) names them. When the source answers too, its
inventory adds what is missing and tells current from stale; when it does not, the catalog still answers and
says so (`source.reachable: false`), judging versions by the newest source version any target holds.

States of one (artifact, target) cell (`STATES`):
- current:  the target holds a copy of the artifact's current version;
- stale:    the target holds a copy of an older version (the source was rebuilt under the same id);
- missing:  no copy on the target;
- conflict: the target id is taken by a model that is not a copy of this artifact;
- failed:   no usable copy and the last attempt to make one failed (`error` says why).

Other parts use: `Inventory`, `build_catalog(...)`, `filter_catalog`, `failover_export`, `pick_replica`,
`with_age`, `expiring(...)`. Inputs and outputs are JSON-able dicts (the last known catalog is kept durably).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.docintel.fingerprint import normalize_time, parse_time
from ferry.kinds import MODEL_KIND as MODEL
from ferry.kinds.classifier import CLASSIFIER
from ferry.provenance import read_provenance

STATES: tuple[str, ...] = ("current", "stale", "missing", "conflict", "failed")
EXPIRY_WARNING_DAYS = 30
"""Replicas expiring within this many days are listed as expiring (the dashboard and `expiring`)."""
PREBUILT_PREFIX = "prebuilt-"


@dataclass(frozen=True)
class Inventory:
    """What one resource held when it was read: its models (list/summary bodies) or why it could not be read."""

    alias: str
    region: str
    endpoint: str
    api_version: str
    generation: str  # "v2" | "v3"
    resource_id: str
    read_at: str  # ISO-8601 UTC
    models: tuple[dict[str, Any], ...] | None = None  # None = unreachable
    error: dict[str, Any] | None = None  # FerryError.to_dict() when unreachable
    classifiers: tuple[dict[str, Any], ...] | None = None  # None = not listed (API version) or unreadable

    @property
    def reachable(self) -> bool:
        return self.models is not None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alias": self.alias, "region": self.region, "endpoint": self.endpoint,
                               "apiVersion": self.api_version, "reachable": self.reachable, "readAt": self.read_at}
        if self.error:
            out["error"] = {k: self.error.get(k) for k in ("kind", "code", "message", "hint")}
        return out


@dataclass(frozen=True)
class Attempt:
    """The last attempt to copy one artifact to one target (from the runs): succeeded or failed with error."""

    ok: bool
    at: str
    error: dict[str, Any] | None = None
    target_model_id: str | None = None


@dataclass
class _Version:
    created: str | None
    expires: str | None = None
    kind: str = MODEL
    known: bool = True  # False: inferred from the targets (source unreachable)


def model_id_of(model: Mapping[str, Any]) -> str | None:
    """The id of a list/get body of either generation (v2 nests it in modelInfo)."""
    if "modelInfo" in model and isinstance(model["modelInfo"], Mapping):
        return model["modelInfo"].get("modelId")
    return model.get("modelId")


def _created(model: Mapping[str, Any]) -> str | None:
    info = model.get("modelInfo") if isinstance(model.get("modelInfo"), Mapping) else model
    return normalize_time(info.get("createdDateTime"))


def _expires(model: Mapping[str, Any]) -> str | None:
    return normalize_time(model.get("expirationDateTime"))


def _custom(models: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [m for m in models if (model_id_of(m) or "") and not str(model_id_of(m)).startswith(PREBUILT_PREFIX)]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_catalog(*, source: Inventory, targets: list[Inventory], now: datetime,
                  v2_mapping: Mapping[str, Mapping[str, str]] | None = None,
                  attempts: Mapping[tuple[str, str], Attempt] | None = None,
                  previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The catalog of `source`'s artifacts across `targets`.

    `v2_mapping`: target alias → {source id: target id} (v2 copies). `attempts`: (artifact id, target alias) →
    the last copy attempt. `previous`: the last known catalog; a target (or the source) that cannot be read
    now keeps its cells from it, with their older `verifiedAt`.
    """
    v2_mapping = v2_mapping or {}
    attempts = attempts or {}
    same_source = (previous or {}).get("source", {}).get("alias") == source.alias
    prev_all = [r for r in (previous or {}).get("replicas", []) if same_source]
    prev_rows = {r["id"]: r for r in prev_all if r.get("kind", MODEL) == MODEL}

    copies: dict[str, dict[str, list[Mapping[str, Any]]]] = {}  # target → source id → copies (with provenance)
    by_id: dict[str, dict[str, Mapping[str, Any]]] = {}  # target → model id → model
    for inv in targets:
        copies[inv.alias] = {}
        by_id[inv.alias] = {}
        for model in _custom(inv.models or ()):
            by_id[inv.alias][str(model_id_of(model))] = model
            prov = read_provenance(model.get("tags"))
            if prov and prov.is_from(source.resource_id):
                copies[inv.alias].setdefault(prov.source_model_id, []).append(model)

    versions: dict[str, _Version] = {}
    if source.reachable:
        for model in _custom(source.models or ()):
            versions[str(model_id_of(model))] = _Version(created=_created(model), expires=_expires(model))
    else:
        # The newest source version any target holds a copy of, or what the last catalog knew.
        for mapping in copies.values():
            for sid, found in mapping.items():
                for model in found:
                    prov = read_provenance(model.get("tags"))
                    created = normalize_time(prov.source_created) if prov else None
                    have = versions.get(sid)
                    if have is None or (created or "") > (have.created or ""):
                        versions[sid] = _Version(created=created, known=False)
        for mapping in v2_mapping.values():
            for sid in mapping:
                versions.setdefault(sid, _Version(created=None, known=False))
        for sid, row in prev_rows.items():
            if sid not in versions or not versions[sid].created:
                versions[sid] = _Version(created=row.get("sourceCreated"), known=False)

    rows = []
    for sid in sorted(versions):
        version = versions[sid]
        cells = {}
        for inv in targets:
            prev_cell = prev_rows.get(sid, {}).get("targets", {}).get(inv.alias)
            if not inv.reachable:
                cells[inv.alias] = _unreachable_cell(inv, prev_cell)
                continue
            cell = _cell(sid, version, inv, copies[inv.alias].get(sid, []), by_id[inv.alias],
                         v2_mapping.get(inv.alias, {}), prev_cell)
            cells[inv.alias] = _fail(cell, attempts.get((sid, inv.alias)))
        rows.append({"id": sid, "kind": version.kind, "sourceCreated": version.created,
                     "sourceVerified": version.known, "targets": cells})
    rows += _classifier_rows(source, targets, attempts, {r["id"]: r for r in prev_all
                                                         if r.get("kind") == CLASSIFIER.name})
    return {
        "source": source.describe(),
        "targets": {inv.alias: inv.describe() for inv in targets},
        "generatedAt": iso(now),
        "replicas": rows,
    }


def _fail(cell: dict[str, Any], attempt: Attempt | None) -> dict[str, Any]:
    """A missing or stale replica whose last copy attempt failed is `failed`, with that attempt's error."""
    if attempt is not None and not attempt.ok and cell["state"] in ("missing", "stale"):
        cell["state"] = "failed"
        cell["error"] = {k: (attempt.error or {}).get(k) for k in ("code", "message", "hint")}
        cell["failedAt"] = attempt.at
    return cell


def _classifier_rows(source: Inventory, targets: list[Inventory], attempts: Mapping[tuple[str, str], Attempt],
                     prev_rows: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Classifiers have no tags: a copy is recognised by id and the fields a copy keeps (the classifier kind's
    `is_copy_of`); the same id with an older `modifiedDateTime` is a stale copy, anything else a conflict."""
    listed = source.reachable and source.classifiers is not None
    sources = {str(c.get("classifierId")): c for c in source.classifiers or () if c.get("classifierId")}
    ids = sorted(sources) if listed else sorted(prev_rows)
    rows = []
    for cid in ids:
        src = sources.get(cid)
        cells = {}
        for inv in targets:
            prev_cell = prev_rows.get(cid, {}).get("targets", {}).get(inv.alias)
            refusal = CLASSIFIER.copy_refusal(inv.api_version, inv.region)
            if refusal is not None:
                cell = _base_cell(inv, "missing", None)
                cell["reason"] = refusal
            elif not inv.reachable or inv.classifiers is None:
                cell = _unreachable_cell(inv, prev_cell)
            else:
                found = next((c for c in inv.classifiers if c.get("classifierId") == cid), None)
                cell = _classifier_cell(inv, cid, src, found, prev_cell)
            cells[inv.alias] = _fail(cell, attempts.get((cid, inv.alias)))
        rows.append({"id": cid, "kind": CLASSIFIER.name,
                     "sourceCreated": normalize_time(src.get("createdDateTime")) if src else
                     prev_rows.get(cid, {}).get("sourceCreated"), "sourceVerified": src is not None,
                     "targets": cells})
    return rows


def _classifier_cell(inv: Inventory, cid: str, src: Mapping[str, Any] | None, found: Mapping[str, Any] | None,
                     prev_cell: Mapping[str, Any] | None) -> dict[str, Any]:
    if found is None:
        return _base_cell(inv, "missing", None)
    if src is None:  # the source is unreachable: the target still holds it; its state as last verified
        cell = dict(prev_cell) if prev_cell else _base_cell(inv, "current", cid)
        cell.update(verifiedAt=inv.read_at, reason="the source is unreachable; state as last verified")
        return cell
    if CLASSIFIER.is_copy_of(CLASSIFIER.fingerprint(dict(src)), CLASSIFIER.fingerprint(dict(found))):
        cell = _base_cell(inv, "current", cid)
    elif (normalize_time(found.get("modifiedDateTime")) or "") < (normalize_time(src.get("modifiedDateTime")) or ""):
        cell = _base_cell(inv, "stale", cid)
        cell["reason"] = "the target holds a copy of an older version of this classifier"
    else:
        cell = _base_cell(inv, "conflict", cid)
        cell["reason"] = ("the target id is taken by a classifier that is not a copy of this source classifier; "
                          "rename or delete it on the target")
    cell["expiresAt"] = normalize_time(found.get("expirationDateTime"))
    return cell


def _base_cell(inv: Inventory, state: str, model_id: str | None) -> dict[str, Any]:
    return {"state": state, "modelId": model_id, "region": inv.region, "endpoint": inv.endpoint,
            "apiVersion": inv.api_version, "verifiedAt": inv.read_at, "expiresAt": None}


def _cell(sid: str, version: _Version, inv: Inventory, copies: list[Mapping[str, Any]],
          models: Mapping[str, Mapping[str, Any]], v2_ids: Mapping[str, str],
          prev_cell: Mapping[str, Any] | None) -> dict[str, Any]:
    if inv.generation == "v2":
        target_id = v2_ids.get(sid)
        model = models.get(target_id) if target_id else None
        if model is None:
            return _base_cell(inv, "missing", None)
        same = version.created is None or _created(model) == version.created
        cell = _base_cell(inv, "current" if same else "stale", target_id)
        if not same:
            cell["reason"] = "the source model was rebuilt after this copy"
        return cell
    if copies:
        def created_of(model: Mapping[str, Any]) -> str:
            prov = read_provenance(model.get("tags"))
            return normalize_time(prov.source_created) if prov else ""
        ordered = sorted(copies, key=lambda m: (created_of(m) == (version.created or ""), created_of(m),
                                                model_id_of(m) == sid))
        best = ordered[-1]
        current = version.created is not None and created_of(best) == version.created
        cell = _base_cell(inv, "current" if current else "stale", model_id_of(best))
        cell["expiresAt"] = _expires(best)
        if not current:
            cell["reason"] = "the target holds a copy of an older version of this model"
        return cell
    model = models.get(sid)
    if model is None:
        return _base_cell(inv, "missing", None)
    # Same id, no provenance: a copy made before provenance tags keeps the source's creation time.
    if version.known and version.created and _created(model) == version.created:
        cell = _base_cell(inv, "current", sid)
        cell["expiresAt"] = _expires(model)
        return cell
    if not version.known and prev_cell:
        cell = dict(prev_cell)
        cell["reason"] = "the source is unreachable; state as last verified"
        return cell
    cell = _base_cell(inv, "conflict", sid)
    cell["reason"] = ("the target id is taken by a model that is not a copy of this source model; "
                      "rename or delete it on the target, or copy under another id")
    return cell


def _unreachable_cell(inv: Inventory, prev_cell: Mapping[str, Any] | None) -> dict[str, Any]:
    if prev_cell:
        cell = dict(prev_cell)
    else:
        cell = _base_cell(inv, "missing", None)
        cell["verifiedAt"] = None
    cell["reason"] = "the target could not be read now; state as last verified"
    return cell


# ------------------------------------------------------------------------------------------- views


def with_age(catalog: Mapping[str, Any], now: datetime, *, cached: bool) -> dict[str, Any]:
    """The catalog as answered: plus how old it is (`ageSeconds`), whether it was re-read now, and the replicas
    expiring within EXPIRY_WARNING_DAYS (`expiring`, soonest first)."""
    out = dict(catalog)
    out["expiring"] = expiring(catalog, now)
    generated = parse_time(catalog.get("generatedAt"))
    out["ageSeconds"] = max(0, int((now - generated).total_seconds())) if generated else None
    out["refreshed"] = not cached
    return out


def filter_catalog(catalog: Mapping[str, Any], pattern: str | None) -> dict[str, Any]:
    """Only the artifacts whose id matches the shell-style `pattern` (case-sensitive, like model ids)."""
    if not pattern:
        return dict(catalog)
    out = dict(catalog)
    out["replicas"] = [r for r in catalog.get("replicas", []) if fnmatch.fnmatchcase(r["id"], pattern)]
    return out


def failover_export(catalog: Mapping[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """`{source id: {region: {endpoint, modelId}}}` for every current replica: what a client keeps offline."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for row in catalog.get("replicas", []):
        for cell in row.get("targets", {}).values():
            if cell.get("state") == "current" and cell.get("modelId"):
                out.setdefault(row["id"], {})[cell["region"]] = {"endpoint": cell["endpoint"],
                                                                  "modelId": cell["modelId"]}
    return out


class NoReplica(LookupError):
    """No replica to switch to; `code` and `reason` say why (unknown artifact/region, none there, stale,
    expired)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


def pick_replica(catalog: Mapping[str, Any], artifact_id: str, where: str | None,
                 now: datetime) -> dict[str, Any]:
    """The one replica a client should switch to: `{endpoint, modelId, apiVersion, verifiedAt, region,
    target}`; `where` is a region or a target alias (None: the first current one). Raises NoReplica."""
    row = next((r for r in catalog.get("replicas", []) if r["id"] == artifact_id), None)
    if row is None:
        raise NoReplica("ReplicaNotFound", f"no artifact {artifact_id!r} is known for source "
                                           f"{catalog.get('source', {}).get('alias')!r}")
    cells = row["targets"]
    if where:
        chosen = {a: c for a, c in cells.items() if where in (a, c.get("region"))}
        if not chosen:
            regions = sorted({f"{a} ({c.get('region')})" for a, c in cells.items()})
            raise NoReplica("UnknownRegion", f"{where!r} is neither a target alias nor a target region; "
                                             f"known: {', '.join(regions) or 'none'}")
    else:
        chosen = dict(cells)
    problems = []
    for alias, cell in chosen.items():
        state = cell.get("state")
        expires = parse_time(cell.get("expiresAt"))
        if state == "current" and expires is not None and expires <= now:
            problems.append(("ReplicaExpired", f"the replica {cell.get('modelId')} on {alias} expired at "
                                               f"{cell.get('expiresAt')}"))
            continue
        if state == "current":
            return {"endpoint": cell["endpoint"], "modelId": cell["modelId"], "apiVersion": cell["apiVersion"],
                    "verifiedAt": cell.get("verifiedAt"), "region": cell["region"], "target": alias}
        if state == "stale":
            problems.append(("ReplicaStale", f"the replica {cell.get('modelId')} on {alias} is a copy of an "
                                             "older version of the model"))
        else:
            problems.append(("ReplicaNotFound", f"no replica on {alias} (state {state})"))
    code = problems[0][0] if len({p[0] for p in problems}) == 1 else "ReplicaNotFound"
    raise NoReplica(code, "; ".join(p[1] for p in problems) or "no target holds a replica")


def expiring(catalog: Mapping[str, Any], now: datetime, days: int = EXPIRY_WARNING_DAYS) -> list[dict[str, Any]]:
    """Replicas (any state with a model) whose expiry falls within `days` from `now`, soonest first."""
    horizon = now + timedelta(days=days)
    found = []
    for row in catalog.get("replicas", []):
        for alias, cell in row.get("targets", {}).items():
            expires = parse_time(cell.get("expiresAt"))
            if cell.get("modelId") and expires is not None and expires <= horizon:
                found.append({"id": row["id"], "target": alias, "region": cell.get("region"),
                              "modelId": cell["modelId"], "expiresAt": cell["expiresAt"],
                              "expired": expires <= now})
    return sorted(found, key=lambda e: e["expiresAt"])


def counts(catalog: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """target alias → state → number of artifacts (for summaries)."""
    out: dict[str, dict[str, int]] = {}
    for row in catalog.get("replicas", []):
        for alias, cell in row.get("targets", {}).items():
            per = out.setdefault(alias, dict.fromkeys(STATES, 0))
            per[cell.get("state", "missing")] = per.get(cell.get("state", "missing"), 0) + 1
    return out
