"""Per-target results and the parent's output; how a failed child carries its result to the parent.

Why a marker: a failed target's sub-orchestration must end *Failed* (so the portal shows it), and the parent only
receives the failure as an exception text. The child therefore raises `TargetCopyFailed`, whose message ends
with `FERRY_RESULT=<json>`; the parent finds that marker and decodes the structured result. If the text has been
mangled on the way, the parent still reports a failure with what it has.
"""

from __future__ import annotations

import json
from typing import Any

from ferry.errors import FerryError

from .recovery import public_error

MARKER = "FERRY_RESULT="


class TargetCopyFailed(Exception):
    """Raised by `copy_model_to_target` to end Failed while handing its result to the parent."""

    def __init__(self, result: dict[str, Any], error: FerryError | None = None) -> None:
        self.error = error  # the full error (the result holds only its public part); None once decoded
        public = result.get("error") or {}
        text = json.dumps(result, separators=(",", ":"), sort_keys=True)
        super().__init__(f"copy to '{result.get('target')}' failed: {public.get('code')}: "
                         f"{public.get('message')} {MARKER}{text}")
        self.result = result


def target_result(*, target: str, status: str, target_model_id: str | None, error: FerryError | None,
                  attempts: int, started: str | None = None, finished: str | None = None,
                  duration_seconds: float | None = None, already_present: bool = False,
                  cleaned_up: bool | None = None, adopted: bool = False,
                  cleaned_up_ids: list[str] | None = None, unresolved_ids: list[str] | None = None,
                  throttled: int = 0, dependencies: list[dict[str, Any]] | None = None,
                  recomposed: bool = False) -> dict[str, Any]:
    """One target's result: `status`, `targetModelId`, `error{code,message,hint}` (+ useful extras).

    `adopted`: the model is the copy started by a POST whose answer was lost (no second copy was made).
    `cleaned_up_ids`: target models of abandoned copies (lost answers) that were deleted so none is orphaned.
    `unresolved_ids`: authorized ids of lost copies that never appeared while watched (most likely never
    started; if one appears later on the target, it is an orphan to delete).
    `throttled`: how many 429 answers the copy waited out (kept only when some were).
    `dependencies`: what was copied for a composed model first (`{kind, id, status, alreadyPresent?, error?,
    instanceId}`: its classifier and components); `recomposed`: the service refused to copy the composed model,
    so it was composed again on the target from the source's definition."""
    result: dict[str, Any] = {
        "target": target,
        "status": status,
        "targetModelId": target_model_id,
        "error": public_error(error) if error else None,
        "attempts": attempts,
    }
    if duration_seconds is not None:
        result["durationSeconds"] = round(duration_seconds, 3)
    if already_present:
        result["alreadyPresent"] = True
    if cleaned_up is not None:
        result["cleanedUp"] = cleaned_up
    if adopted:
        result["adopted"] = True
    if cleaned_up_ids:
        result["cleanedUpTargetModelIds"] = list(cleaned_up_ids)
    if unresolved_ids:
        result["unresolvedTargetModelIds"] = list(unresolved_ids)
    if throttled:
        result["throttled"] = throttled
    if dependencies:
        result["dependencies"] = [dict(entry) for entry in dependencies]
    if recomposed:
        result["recomposed"] = True
    return result


def result_from_child_failure(exc: BaseException, target: str) -> dict[str, Any]:
    """Recover the child's result from the exception the parent caught."""
    text = str(exc)
    index = text.rfind(MARKER)
    if index >= 0:
        try:
            decoded, _ = json.JSONDecoder().raw_decode(text, index + len(MARKER))
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and decoded.get("status") in ("succeeded", "failed"):
            decoded["target"] = target
            return decoded
    first_line = text.strip().splitlines()[0] if text.strip() else "no details"
    return target_result(target=target, status="failed", target_model_id=None, attempts=0, error=FerryError(
        kind="internal", code="TargetOrchestrationFailed", message=first_line[:300],
        hint="The per-target orchestration failed unexpectedly; see its history (instance id in the status) "
             "and the host log."))


def aggregate_status(results: dict[str, dict[str, Any]]) -> str:
    """'succeeded' if every target succeeded, 'failed' if none did, otherwise 'partial'."""
    if not results:
        return "failed"
    ok = sum(1 for r in results.values() if r.get("status") == "succeeded")
    if ok == len(results):
        return "succeeded"
    return "failed" if ok == 0 else "partial"


def artifact_fields(model_id: str | None, kind: str = "model") -> dict[str, Any]:
    """How outputs and statuses name what is copied: `{"modelId": id}`, or `{"classifierId": id, "kind":
    "classifier"}` for a classifier."""
    if kind == "classifier":
        return {"classifierId": model_id, "kind": kind}
    return {"modelId": model_id}


def parent_output(*, model_id: str, source: str, results: dict[str, dict[str, Any]],
                  error: FerryError | None = None, duration_seconds: float | None = None, kind: str = "model"
                  ) -> dict[str, Any]:
    """The parent's output: `{modelId, source, status, targets: {alias: {status, targetModelId, error, via?}}}`
    (`via`: the target a relayed copy came from; a classifier's: `classifierId` and `kind` instead of `modelId`;
    `targetModelId` is the target's id)."""
    targets = {}
    for alias in sorted(results):
        r = results[alias]
        entry = {"status": r.get("status"), "targetModelId": r.get("targetModelId"), "error": r.get("error")}
        for extra in ("attempts", "durationSeconds", "alreadyPresent", "cleanedUp", "adopted",
                      "cleanedUpTargetModelIds", "unresolvedTargetModelIds", "instanceId", "dependencies",
                      "recomposed", "via"):
            if extra in r:
                entry[extra] = r[extra]
        targets[alias] = entry
    output: dict[str, Any] = {**artifact_fields(model_id, kind), "source": source,
                              "status": aggregate_status(results), "targets": targets}
    if error is not None:
        output["status"] = "failed"
        output["error"] = public_error(error)
    if duration_seconds is not None:
        output["durationSeconds"] = round(duration_seconds, 3)
    return output
