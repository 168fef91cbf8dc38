"""The sync plan: for every (source model, target), what to do — decided from inventories alone. Pure.

Why pure: it is the heart of the estate sync and must be tested on tables of cases; the inventories (lists, not a
GET per model) come from `ferry.inventory`, the v2 mapping from the durable entity, the time from the
orchestration. Actions:

- `copy`: absent on the target.
- `upToDate`: the target holds the copy of this source model: v3+ by provenance tags naming this source resource,
  this model and its creation time (a copy made without tags counts when the inventory step verified it with
  the copy workflow's fingerprint: `verifiedCopy`); v2 by the durable mapping (source id → target id) and the
  creation/update times a v2 copy keeps.
- `stale`: the target holds a copy of an older build of this source id (provenance names it, the creation time
  differs), or the v2 mapping's target holds an older build.
- `conflict`: the target id is taken by a model that is not a copy of this source model. Never touched.
- `skip` + `reason`: `ApiGenerationMismatch` (v2 ↔ v3+), `TargetFull` (the target's model count plus what this
  plan adds would exceed its limit), `SourceExpired`, `PreviewApiVersion` (built on a preview API version),
  `SourceNotReady` (v2: still training, or its training failed).
- `prune` (only when the request says so): a target model ModelFerry copied (provenance, or the v2 mapping)
  whose source model no longer exists. A model without ModelFerry's provenance is never pruned.

Kinds plug in through `KIND_RULES` (what differs per artifact kind: how a copy is recognised); the rest of the
plan (selection, capacity, prune, warnings) is the same for every kind. Classifiers (listed where the service can
copy them) carry no tags: the one on the target is `upToDate` when the fields a copy keeps match (the kind's
fingerprint), else `conflict`; a target that cannot receive classifiers skips them
(`ClassifierCopyNotSupported`); a classifier is never pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.docintel.fingerprint import normalize_time, parse_time
from ferry.kinds.classifier import CLASSIFIER
from ferry.orchestration.sync_request import SyncRequest
from ferry.provenance import Provenance

COPY, UP_TO_DATE, STALE, CONFLICT, SKIP, PRUNE = "copy", "upToDate", "stale", "conflict", "skip", "prune"
ACTIONS = (COPY, UP_TO_DATE, STALE, CONFLICT, SKIP, PRUNE)
EXPIRY_WARNING_DAYS = 30
MAX_WARNINGS = 100  # the output stays compact; a last warning says how many more there were
MAX_LISTED_IDS = 20

HINTS = {
    "conflict": "The target id is taken by a model that is not a copy of this source model (no ModelFerry "
                "provenance for it, or another creation time): it is left alone. Delete or rename it on the "
                "target, or exclude the id from the sync.",
    "ApiGenerationMismatch": "v2 (v2.0/v2.1) and v3+ resources cannot copy to each other: sync to a target of "
                             "the source's generation.",
    "TargetFull": "The target would exceed its custom-model limit: delete unused models there (or prune "
                  "orphaned copies with prune: true) and sync again.",
    "SourceExpired": "The source model has expired (models expire 2 years after training): retrain it; an "
                     "expired model cannot be copied.",
    "PreviewApiVersion": "The source model was built with a preview API version; preview models cannot be "
                         "copied to a GA API version: rebuild it with a GA version.",
    "ClassifierCopyNotSupported": "The service copies custom classifiers only at API 2024-11-30 and only between "
                                  "East US, West US 2 and West Europe: sync classifiers to a target there.",
    "classifierConflict": "A classifier carries no provenance: the one on the target under this id is not a copy "
                          "of the current source classifier (an older copy, or another classifier). It is left "
                          "alone: delete it on the target to let the sync copy the current one, or exclude the id.",
    "SourceNotReady": "The source model is still training or its training failed; a later sync copies it once "
                      "it is ready.",
}


@dataclass(frozen=True)
class KindRules:
    """How one artifact kind's copies are recognised on a v3+ target (v2 models are matched by mapping)."""

    kind: str
    # (source item, target item with the same id, source resource id) → UP_TO_DATE | STALE | CONFLICT
    match: Callable[[Mapping[str, Any], Mapping[str, Any], str], str]
    # (target item, source resource id) → the source id it is ModelFerry's copy of, or None (never pruned)
    copied_from: Callable[[Mapping[str, Any], str], str | None]


def _same_time(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and normalize_time(a) == normalize_time(b)


def _model_match(source: Mapping[str, Any], target: Mapping[str, Any], source_resource: str) -> str:
    provenance = Provenance.from_dict(target.get("provenance"))
    if provenance is not None:
        if not provenance.is_from(source_resource) or provenance.source_model_id != source.get("id"):
            return CONFLICT  # ModelFerry's copy of ANOTHER model sits on this id
        if provenance.same_version(source.get("created")):
            return UP_TO_DATE
        if provenance.source_created is None and _same_time(target.get("created"), source.get("created")):
            return UP_TO_DATE
        return STALE
    # No provenance: a copy made before provenance tags is recognised only by the copy workflow's fingerprint,
    # compared by the inventory step for the few models that could be one (`verifiedCopy`).
    return UP_TO_DATE if target.get("verifiedCopy") is True else CONFLICT


def _model_copied_from(target: Mapping[str, Any], source_resource: str) -> str | None:
    provenance = Provenance.from_dict(target.get("provenance"))
    if provenance is None or not provenance.is_from(source_resource):
        return None
    return provenance.source_model_id


def _classifier_match(source: Mapping[str, Any], target: Mapping[str, Any], source_resource: str) -> str:
    # no tags: the fields a copy keeps (the kind's fingerprint, computed from the list) must all match
    return UP_TO_DATE if CLASSIFIER.is_copy_of(source.get("fingerprint") or {}, target.get("fingerprint") or {}) \
        else CONFLICT


def _never_pruned(target: Mapping[str, Any], source_resource: str) -> str | None:
    return None  # nothing on a classifier says ModelFerry made it, so no classifier is ever pruned


KIND_RULES: dict[str, KindRules] = {
    "model": KindRules("model", _model_match, _model_copied_from),
    CLASSIFIER.name: KindRules(CLASSIFIER.name, _classifier_match, _never_pruned),
}


def _row(item_id: str, kind: str, target: str, action: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"id": item_id, "kind": kind, "target": target, "action": action}
    row.update({k: v for k, v in extra.items() if v is not None})
    return row


def _skip(item: Mapping[str, Any], target: str, reason: str) -> dict[str, Any]:
    return _row(item["id"], item.get("kind", "model"), target, SKIP, reason=reason, hint=HINTS[reason])


def _source_problem(item: Mapping[str, Any], now: datetime) -> str | None:
    if item.get("status", "ready") != "ready":
        return "SourceNotReady"
    expires = parse_time(item.get("expires"))
    if expires is not None and expires <= now:
        return "SourceExpired"
    if "preview" in str(item.get("apiVersion") or "").lower():
        return "PreviewApiVersion"
    return None


def plan_sync(request: SyncRequest, source: Mapping[str, Any], targets: Mapping[str, Mapping[str, Any]], *,
              now: datetime, v2_map: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The plan of one sync.

    `source` / `targets[alias]`: inventories (`ferry.inventory.inventory` shape). `v2_map`: target alias →
    {source id → target id} (the durable v2 mapping). Returns {"source", "rows": [rows that are not upToDate],
    "counts": {target: {action: n}}, "warnings", "v2Adopt": {target: {source id: target id}},
    "v2Forget": {target: [source ids]}}; a row is {"id", "kind", "target", "action", "reason"?, "hint"?,
    "targetModelId"?}."""
    now = now.astimezone(UTC)
    v2_map = v2_map or {}
    all_ids = {str(item["id"]) for item in source.get("items", [])}
    selected = sorted((item for item in source.get("items", []) if request.selects(str(item["id"]))),
                      key=lambda item: str(item["id"]))
    rows: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    warnings: list[dict[str, Any]] = []
    adopt: dict[str, dict[str, str]] = {}
    forget: dict[str, list[str]] = {}
    expiring: dict[str, dict[str, Any]] = {}

    for alias in request.targets:
        target = targets[alias]
        if target.get("generation") != source.get("generation"):
            planned = [_skip(item, alias, "ApiGenerationMismatch") for item in selected]
        elif source.get("generation") == "v2":
            planned, adopt[alias], forget[alias] = _plan_v2(request, selected, all_ids, target, alias, now,
                                                            v2_map.get(alias) or {})
        else:
            planned = _plan_v3(request, selected, all_ids, source, target, alias, now)
        planned = _apply_capacity(planned, target, alias)
        tally = {action: 0 for action in ACTIONS}
        for row in planned:
            tally[row["action"]] += 1
            if row["action"] != UP_TO_DATE:
                rows.append(row)
        counts[alias] = tally
        by_id = {str(item["id"]): item for item in selected}
        for row in planned:
            item = by_id.get(row["id"])
            if row["action"] in (COPY, UP_TO_DATE, STALE) and item is not None:
                expires = parse_time(item.get("expires"))
                if expires is not None and now < expires <= now + timedelta(days=EXPIRY_WARNING_DAYS):
                    entry = expiring.setdefault(row["id"], {"code": "ReplicaExpiresSoon", "id": row["id"],
                                                            "expires": item.get("expires"), "targets": []})
                    entry["targets"].append(alias)
        if not request.prune:
            orphans = _orphans(request, all_ids, source, target, v2_map.get(alias) or {})
            if orphans:
                warnings.append({"code": "OrphanedReplicas", "target": alias, "count": len(orphans),
                                 "ids": orphans[:MAX_LISTED_IDS],
                                 "message": f"{len(orphans)} ModelFerry copies on {alias} have no source model "
                                            "any more; sync with prune: true to delete them"})
    for entry in expiring.values():
        entry["message"] = (f"the replicas of {entry['id']} expire at {entry['expires']} (a copy keeps the "
                            "source's expiry): retrain the source model and sync before then")
        warnings.append(entry)
    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS + 1
        warnings = [*warnings[:MAX_WARNINGS - 1],
                    {"code": "MoreWarnings", "count": more, "message": f"{more} more warnings left out"}]
    return {"source": request.source, "rows": rows, "counts": counts, "warnings": warnings,
            "v2Adopt": {k: v for k, v in adopt.items() if v}, "v2Forget": {k: v for k, v in forget.items() if v}}


def _plan_v3(request: SyncRequest, selected: list[Mapping[str, Any]], all_ids: set[str],
             source: Mapping[str, Any], target: Mapping[str, Any], alias: str, now: datetime) -> list[dict[str, Any]]:
    resource = str(source.get("resourceId") or "")
    on_target = {(item.get("kind", "model"), str(item["id"])): item for item in target.get("items", [])}
    planned = []
    for item in selected:
        kind = item.get("kind", "model")
        problem = _source_problem(item, now)
        if problem is None and kind == CLASSIFIER.name and target.get("classifierCopy"):
            problem = "ClassifierCopyNotSupported"
        if problem:
            planned.append(_skip(item, alias, problem))
            continue
        existing = on_target.get((kind, str(item["id"])))
        if existing is None:
            planned.append(_row(item["id"], kind, alias, COPY))
            continue
        action = KIND_RULES[kind].match(item, existing, resource)
        hint = (HINTS["classifierConflict"] if kind == CLASSIFIER.name else HINTS["conflict"]) \
            if action == CONFLICT else None
        planned.append(_row(item["id"], kind, alias, action, hint=hint))
    if request.prune:
        for target_id, source_id in _copies_without_source(request, all_ids, resource, target):
            planned.append(_row(source_id, "model", alias, PRUNE,
                                targetModelId=target_id if target_id != source_id else None))
    return planned


def _copies_without_source(request: SyncRequest, all_ids: set[str], resource: str,
                           target: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(target id, source id) of the target's ModelFerry copies from this source whose source is gone."""
    found = []
    for item in target.get("items", []):
        rules = KIND_RULES.get(item.get("kind", "model"))
        source_id = rules.copied_from(item, resource) if rules else None
        if source_id is not None and source_id not in all_ids and request.selects(source_id):
            found.append((str(item["id"]), source_id))
    return sorted(found)


def _plan_v2(request: SyncRequest, selected: list[Mapping[str, Any]], all_ids: set[str], target: Mapping[str, Any],
             alias: str, now: datetime, mapping: Mapping[str, str]
             ) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """v2: no tags, service-assigned ids — the durable mapping says which target model is whose copy."""
    on_target = {str(item["id"]): item for item in target.get("items", [])}
    claimed = set(mapping.values())
    planned: list[dict[str, Any]] = []
    adopt: dict[str, str] = {}
    forget: list[str] = []
    for item in selected:
        problem = _source_problem(item, now)
        if problem:
            planned.append(_skip(item, alias, problem))
            continue
        source_id = str(item["id"])
        mapped = mapping.get(source_id)
        existing = on_target.get(mapped) if mapped else None
        if existing is not None:
            same = _same_v2_version(item, existing)
            planned.append(_row(source_id, "model", alias, UP_TO_DATE if same else STALE, targetModelId=mapped))
            continue
        # Not mapped (or its mapped copy is gone): a copy made earlier (e.g. by /api/copies) keeps the source's
        # times and name; adopt it into the mapping instead of copying again.
        twin = next((tid for tid, t in sorted(on_target.items())
                     if tid not in claimed and t.get("status") == "ready" and _same_v2_version(item, t)), None)
        if twin is not None:
            claimed.add(twin)
            adopt[source_id] = twin
            planned.append(_row(source_id, "model", alias, UP_TO_DATE, targetModelId=twin))
        else:
            planned.append(_row(source_id, "model", alias, COPY))
    for source_id, target_id in sorted(mapping.items()):
        if source_id in all_ids:
            continue
        if target_id in on_target and request.prune and request.selects(source_id):
            planned.append(_row(source_id, "model", alias, PRUNE, targetModelId=target_id))
        elif target_id not in on_target:
            forget.append(source_id)
    return planned, adopt, forget


def _same_v2_version(source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    return (_same_time(source.get("created"), target.get("created"))
            and _same_time(source.get("lastUpdated"), target.get("lastUpdated"))
            and source.get("name") == target.get("name"))


def _orphans(request: SyncRequest, all_ids: set[str], source: Mapping[str, Any], target: Mapping[str, Any],
             mapping: Mapping[str, str]) -> list[str]:
    if target.get("generation") != source.get("generation"):
        return []
    if source.get("generation") == "v2":
        on_target = {str(item["id"]) for item in target.get("items", [])}
        return sorted(s for s, t in mapping.items() if s not in all_ids and t in on_target and request.selects(s))
    return [source_id for _, source_id in _copies_without_source(request, all_ids,
                                                                 str(source.get("resourceId") or ""), target)]


def _apply_capacity(planned: list[dict[str, Any]], target: Mapping[str, Any], alias: str) -> list[dict[str, Any]]:
    """Copies beyond the target's free model slots become `skip TargetFull` (in id order, first come first)."""
    limit, count = target.get("limit"), target.get("count")
    if not isinstance(limit, int) or not isinstance(count, int):
        return planned
    free = max(limit - count, 0)
    out = []
    for row in planned:
        if row["action"] == COPY and row["kind"] == "model":  # the limit counts models (classifiers have their own)
            if free <= 0:
                row = _row(row["id"], row["kind"], alias, SKIP, reason="TargetFull", hint=HINTS["TargetFull"])
            else:
                free -= 1
        out.append(row)
    return out


# ------------------------------------------------------------------------------------------------ outcome

RESULT_COUNTS = ("copied", "upToDate", "replaced", "conflict", "skipped", "pruned", "failed")
EXECUTED = (COPY, STALE, PRUNE)


def settle_without_execution(row: Mapping[str, Any], *, on_stale: str, dry_run: bool) -> dict[str, Any] | None:
    """The item of a row that is not executed (conflict, skip, a dry run, stale under keep/fail), or None when
    the row must be executed (copy, prune, stale under replace)."""
    item = {k: row[k] for k in ("id", "kind", "target", "action") if k in row}
    for key in ("reason", "targetModelId"):
        if key in row:
            item[key] = row[key]
    action = row["action"]
    if action == CONFLICT:
        return {**item, "result": "conflict", "hint": row.get("hint", HINTS["conflict"])}
    if action == SKIP:
        return {**item, "result": "skipped", "hint": row.get("hint")}
    if action == STALE and on_stale == "keep":
        return {**item, "result": "skipped", "reason": "StaleKept",
                "hint": "onStale is 'keep': the older copy stays; sync with onStale 'replace' to refresh it"}
    if action == STALE and on_stale == "fail":
        return {**item, "result": "failed",
                "error": {"code": "StaleReplica", "message": f"the target holds a copy of an older build of "
                          f"{row['id']}", "hint": "onStale is 'fail': sync with onStale 'replace' to replace it "
                          "(the target has no replica between the delete and the copy), or 'keep'"}}
    if dry_run:
        return {**item, "result": "planned"}
    return None


def sync_output(request: SyncRequest, plan: Mapping[str, Any] | None, items: list[dict[str, Any]], *,
                error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sync's output: {source, status, dryRun, counts: {target: {copied, upToDate, replaced, conflict,
    skipped, pruned, failed}}, items (only rows that are not upToDate), warnings}. In a dry run the counts say
    what the sync would do (a `planned` copy counts as copied, a stale replica as replaced, a prune as pruned)."""
    counts = {alias: dict.fromkeys(RESULT_COUNTS, 0) for alias in request.targets}
    for alias, tally in ((plan or {}).get("counts") or {}).items():
        counts.setdefault(alias, dict.fromkeys(RESULT_COUNTS, 0))["upToDate"] = tally.get(UP_TO_DATE, 0)
    would = {COPY: "copied", STALE: "replaced", PRUNE: "pruned"}
    for item in items:
        result = item.get("result", "")
        key = would.get(item.get("action", "")) if result == "planned" else {
            "copied": "copied", "replaced": "replaced", "conflict": "conflict", "skipped": "skipped",
            "pruned": "pruned", "failed": "failed"}.get(result)
        if key:
            counts.setdefault(item["target"], dict.fromkeys(RESULT_COUNTS, 0))[key] += 1
    failed = sum(c["failed"] for c in counts.values())  # in a dry run: what would fail (stale under 'fail')
    done = sum(c["copied"] + c["replaced"] + c["pruned"] for c in counts.values())
    if error is not None:
        status = "failed"
    elif request.dry_run:
        status = "planned"
    elif failed == 0:
        status = "succeeded"
    else:
        status = "partial" if done else "failed"
    output: dict[str, Any] = {"source": request.source, "status": status, "dryRun": request.dry_run,
                              "counts": counts, "items": items, "warnings": list((plan or {}).get("warnings", []))}
    if error is not None:
        output["error"] = error
    return output


def v2_replicas_after(v2_map: Mapping[str, Mapping[str, str]], plan: Mapping[str, Any],
                      items: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The v2 mapping (target → {source id → target id}) after this sync: the durable one, the copies the plan
    adopted, minus pairs whose target is gone or pruned, plus the copies made now."""
    mapping = {target: dict(pairs) for target, pairs in v2_map.items()}
    for target, pairs in (plan.get("v2Adopt") or {}).items():
        mapping.setdefault(target, {}).update(pairs)
    for target, source_ids in (plan.get("v2Forget") or {}).items():
        for source_id in source_ids:
            mapping.get(target, {}).pop(source_id, None)
    for item in items:
        if item.get("result") == "pruned":
            mapping.get(item["target"], {}).pop(item["id"], None)
        elif item.get("result") in ("copied", "replaced") and item.get("targetModelId"):
            mapping.setdefault(item["target"], {})[item["id"]] = item["targetModelId"]
    return {target: pairs for target, pairs in mapping.items() if pairs}


def progress_status(*, stage: str, source: str, progress: Mapping[str, Mapping[str, int]],
                    throughput: float | None) -> dict[str, Any]:
    """The sync's custom status: {stage, source, progress: {target: {done, total, throttled}}, throughput}
    (copies per minute since execution began). A few hundred bytes per target: far below 16 KB."""
    return {"stage": stage, "source": source, "progress": {k: dict(v) for k, v in progress.items()},
            "throughput": None if throughput is None else round(throughput, 1)}


def chunks(routes: list[list[dict[str, Any]]], size: int) -> list[list[dict[str, Any]]]:
    """Routes (`ferry.orchestration.relay.assign`: prunes first, they free capacity) packed in order into chunks
    of at most `size` rows (more only for a single route longer than `size`); a route is never split, since its
    relayed rows need its first row's replica."""
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for route in routes:
        if current and len(current) + len(route) > size:
            parts.append(current)
            current = []
        current.extend(route)
    if current:
        parts.append(current)
    return parts
