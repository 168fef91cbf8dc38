"""Past and running copy/sync runs as the operator sees them (pure): one row per run, newest first.

Why here and not in the HTTP function: the same reading of a run (its kind, outcome, first error, progress)
serves `GET /api/runs`, the catalog's "failed" state (the last attempt per artifact and target) and the v2
mapping learned from finished copies. Input: orchestration statuses as JSON-able dicts (`name`, `instanceId`,
`runtimeStatus`, `createdTime`, `lastUpdatedTime`, `input`, `output`, `customStatus`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.catalog import Attempt, iso
from ferry.docintel.fingerprint import normalize_time

KINDS = {"copy_model": "copy", "sync_estate": "sync"}
"""Orchestrator name → run kind; sub-orchestrations (one per target) are parts of a run, not runs."""
RUNNING = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class RunQueryError(ValueError):
    """A bad `GET /api/runs` parameter; the message says what is accepted."""


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`24h`, `7d`, `30m`, `2w` (before `now`) or an ISO-8601 instant → an aware datetime; None/'' → None."""
    if text is None or not text.strip():
        return None
    match = _SINCE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise RunQueryError(f"since={text!r} is neither a duration like 24h, 7d, 30m, 2w nor an ISO-8601 time "
                            "like 2026-01-31T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_kind(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    kind = text.strip().lower()
    if kind not in KINDS.values():
        raise RunQueryError(f"kind={text!r} is not a run kind; use one of {', '.join(sorted(KINDS.values()))}")
    return kind


def parse_flag(name: str, text: str | None) -> bool:
    if text is None or not text.strip():
        return False
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise RunQueryError(f"{name}={text!r} is not a boolean; use true or false")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short_error(error: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any] | None:
    if not error:
        return None
    out = {k: error.get(k) for k in ("code", "message", "hint") if error.get(k) is not None}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def run_row(status: Mapping[str, Any], status_uri: str | None = None) -> dict[str, Any] | None:
    """The operator's row for one orchestration status, or None when it is not a copy or sync run."""
    kind = KINDS.get(str(status.get("name") or ""))
    if kind is None:
        return None
    runtime = str(status.get("runtimeStatus") or "")
    given, output, custom = _dict(status.get("input")), status.get("output"), _dict(status.get("customStatus"))
    out = _dict(output)
    row: dict[str, Any] = {"instanceId": status.get("instanceId"), "kind": kind, "name": status.get("name"),
                           "runtimeStatus": runtime, "createdTime": normalize_time(status.get("createdTime")),
                           "lastUpdatedTime": normalize_time(status.get("lastUpdatedTime"))}
    artifact = (given.get("modelId") or out.get("modelId") or custom.get("modelId") or given.get("classifierId")
                or out.get("classifierId"))
    if kind == "copy" and artifact:
        row["artifactId"] = artifact
    source = out.get("source") or given.get("source") or custom.get("source")
    if source:
        row["source"] = source
    if runtime in RUNNING:
        row["progress"] = custom or None
    elif runtime == "Completed":
        row["outcome"] = out.get("status") or "succeeded"
    else:
        row["outcome"] = "failed" if runtime == "Failed" else runtime.lower()
    error = _first_error(kind, runtime, output)
    if error:
        row["error"] = error
    if status_uri:
        row["statusQueryGetUri"] = status_uri
    return row


def _first_error(kind: str, runtime: str, output: Any) -> dict[str, Any] | None:
    if runtime == "Failed":
        text = output if isinstance(output, str) else str(output or "the orchestration failed")
        return {"code": "OrchestrationFailed", "message": text[:500],
                "hint": "Open the status URL for the details; the run can be rewound or started again."}
    out = _dict(output)
    if out.get("error"):
        return _short_error(out["error"])
    if kind == "copy":
        for alias, result in sorted(_dict(out.get("targets")).items()):
            if _dict(result).get("status") == "failed":
                return _short_error(_dict(result).get("error") or {"code": "CopyFailed"}, target=alias)
    else:
        for item in out.get("items") or []:
            if _dict(item).get("result") == "failed":
                return _short_error(_dict(item).get("error") or {"code": "SyncItemFailed"},
                                    target=item.get("target"), artifactId=item.get("id"))
    return None


def is_failed(row: Mapping[str, Any]) -> bool:
    """A run that did not fully succeed (failed, partial, terminated or with any failed item)."""
    return row.get("outcome") in ("failed", "partial", "terminated") or bool(row.get("error"))


def select(rows: Iterable[Mapping[str, Any]], *, kind: str | None = None, failed: bool = False,
           since: datetime | None = None) -> list[dict[str, Any]]:
    """Filter and order rows newest first (by creation time, then instance id)."""
    cutoff = iso(since) if since else None
    chosen = [dict(r) for r in rows if (kind is None or r.get("kind") == kind) and (not failed or is_failed(r))
              and (cutoff is None or (r.get("createdTime") or "") >= cutoff)]
    return sorted(chosen, key=lambda r: (r.get("createdTime") or "", r.get("instanceId") or ""), reverse=True)


def finished_after(statuses: Iterable[Mapping[str, Any]], source: str, moment: str) -> bool:
    """Whether a copy or sync run of `source` ended after `moment` (ISO-8601): what it changed is not in a
    catalog read at `moment`."""
    cutoff = normalize_time(moment) or ""
    for status in statuses:
        if KINDS.get(str(status.get("name") or "")) is None or status.get("runtimeStatus") in RUNNING:
            continue
        if _dict(status.get("output")).get("source") == source and \
                (normalize_time(status.get("lastUpdatedTime")) or "") > cutoff:
            return True
    return False


def last_attempts(statuses: Iterable[Mapping[str, Any]], source: str
                  ) -> tuple[dict[tuple[str, str], Attempt], dict[str, dict[str, str]]]:
    """From finished copy/sync runs of `source`: the last attempt per (artifact id, target), and the
    target → {source id: target id} mapping of every succeeded copy (the v2 ids a copy was given)."""
    attempts: dict[tuple[str, str], Attempt] = {}
    mapping: dict[str, dict[str, str]] = {}
    ordered = sorted(statuses, key=lambda s: normalize_time(s.get("lastUpdatedTime")) or "")
    for status in ordered:
        kind = KINDS.get(str(status.get("name") or ""))
        out = _dict(status.get("output"))
        if kind is None or status.get("runtimeStatus") != "Completed" or out.get("source") != source:
            continue
        at = normalize_time(status.get("lastUpdatedTime")) or ""
        artifact = out.get("modelId") or out.get("classifierId")
        if kind == "copy" and artifact:
            for alias, result in _dict(out.get("targets")).items():
                result = _dict(result)
                ok = result.get("status") == "succeeded"
                attempts[(artifact, alias)] = Attempt(ok=ok, at=at, error=result.get("error"),
                                                      target_model_id=result.get("targetModelId"))
                if ok and result.get("targetModelId") and out.get("modelId"):
                    mapping.setdefault(alias, {})[artifact] = result["targetModelId"]
        elif kind == "sync":
            for item in out.get("items") or []:
                item = _dict(item)
                if not item.get("id") or not item.get("target"):
                    continue
                result = item.get("result")
                if result == "failed":
                    attempts[(item["id"], item["target"])] = Attempt(ok=False, at=at, error=item.get("error"))
                elif result in ("copied", "replaced", "succeeded"):
                    attempts[(item["id"], item["target"])] = Attempt(ok=True, at=at)
                    if item.get("targetModelId"):
                        mapping.setdefault(item["target"], {})[item["id"]] = item["targetModelId"]
    return attempts, mapping
