"""Custom-status documents for the portal / status URL, always well under Durable's 16 KB limit.

Why a size guard: the extension fails an orchestration whose custom status exceeds 16 KB of UTF-16 JSON
(Azure/azure-functions-durable-extension#2918). Statuses here hold ids, stages, counts and short error codes;
`bounded()` trims further if a run with many targets would still grow past `MAX_STATUS_CHARS`.
"""

from __future__ import annotations

import json
from typing import Any

# 16 KB of UTF-16 is 8192 characters; stay at half of that.
MAX_STATUS_CHARS = 4096
_MESSAGE_CHARS = 160

CHILD_STAGES = ("checking", "dependencies", "authorizing", "composing", "copying", "polling", "verifying",
                "cleaning-up", "succeeded", "failed")
PARENT_TARGET_STAGES = ("queued", "copying", "succeeded", "failed")


def _short(text: str | None, limit: int = _MESSAGE_CHARS) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def child_status(*, target: str, stage: str, attempts: int, target_model_id: str | None,
                 error: dict[str, Any] | None = None, retries: int = 0, polls: int = 0,
                 last_copy_status: str | None = None, unconfirmed: int = 0,
                 dependencies: dict[str, str] | None = None) -> dict[str, Any]:
    """Status of `copy_model_to_target`: where one target's copy is.

    `dependencies` (a composed model): `"<kind>:<id>"` → the stage of its copy (queued, copying, succeeded,
    failed), the sub-steps before the composed model itself.

    `unconfirmed`: how many authorized target ids have a copy of unknown outcome (a lost answer); a count, not
    the ids, so the status stays small however often the answer was lost."""
    status: dict[str, Any] = {"target": target, "stage": stage, "attempts": attempts,
                              "targetModelId": target_model_id}
    if polls:
        status["polls"] = polls
    if last_copy_status:
        status["copyStatus"] = last_copy_status
    if retries:
        status["retries"] = retries
    if unconfirmed:
        status["unconfirmedIds"] = unconfirmed
    if dependencies:
        status["dependencies"] = dict(dependencies)
    if error:
        status["error"] = {"code": error.get("code"), "message": _short(error.get("message"))}
    return bounded(status)


def parent_status(*, model_id: str, source: str, targets: dict[str, dict[str, Any]],
                  stage: str = "copying", kind: str = "model") -> dict[str, Any]:
    """Status of `copy_model`: one line per target (`stage`, `attempts`, `targetModelId`, child id, error code);
    a classifier's names `classifierId` instead of `modelId`."""
    name = "classifierId" if kind == "classifier" else "modelId"
    return bounded({name: model_id, "source": source, "stage": stage,
                    "targets": {alias: dict(entry) for alias, entry in targets.items()}})


def parent_target_entry(*, stage: str, instance_id: str | None, attempts: int | None = None,
                        target_model_id: str | None = None, error_code: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"stage": stage}
    if attempts is not None:
        entry["attempts"] = attempts
    if target_model_id is not None:
        entry["targetModelId"] = target_model_id
    if error_code is not None:
        entry["error"] = error_code
    if instance_id is not None:
        entry["instanceId"] = instance_id
    return entry


def _size(doc: Any) -> int:
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


def bounded(status: dict[str, Any], limit: int = MAX_STATUS_CHARS) -> dict[str, Any]:
    """Return `status` unchanged if small enough, else progressively trimmed (never larger than `limit`)."""
    if _size(status) <= limit:
        return status
    doc = json.loads(json.dumps(status))
    if isinstance(doc.get("error"), dict):
        doc["error"] = {"code": doc["error"].get("code")}
    if isinstance(doc.get("dependencies"), dict) and _size(doc) > limit:
        counts: dict[str, int] = {}
        for stage in doc["dependencies"].values():
            counts[str(stage)] = counts.get(str(stage), 0) + 1
        doc["dependencies"] = counts
    targets = doc.get("targets")
    if isinstance(targets, dict):
        for entry in targets.values():
            if isinstance(entry, dict):
                entry.pop("instanceId", None)
        if _size(doc) > limit:
            counts: dict[str, int] = {}
            for entry in targets.values():
                stage = entry.get("stage", "?") if isinstance(entry, dict) else "?"
                counts[stage] = counts.get(stage, 0) + 1
            doc["targets"] = {}
            doc["targetCounts"] = counts
            doc["truncated"] = True
    if _size(doc) > limit:
        doc = {k: (_short(v, 64) if isinstance(v, str) else v) for k, v in doc.items()
               if k in ("modelId", "classifierId", "source", "stage", "target", "attempts", "targetCounts")}
        doc["truncated"] = True
    return doc
