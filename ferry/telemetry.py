"""Finished-run records: one structured log record per finished copy target, per finished sync and per replica
about to expire, which the portal workbook and the alert rules (infra/monitoring/) query.

Why a module of its own: the workbook's KQL and the alert rules read these records by field name, so the field
names are defined once, here (`RUN_FIELDS`, `EXPIRING_FIELDS`), and tests/infra checks that every field a query
reads is one of them. Every record goes to the logger `modelferry.runs` at INFO with the fields as
`extra={"custom_dimensions": {...}}` (what Azure Monitor log handlers turn into customDimensions), and the same
fields as compact JSON after `MESSAGE_PREFIX` in the message, because the Functions host forwards a Python
worker's log *message* to Application Insights but not its extra attributes. The queries read either.

Only the whitelisted fields leave: a record is built from named values, never by copying a result dict, so a
key, a copy authorization or a token in a result cannot reach the log. Callers are orchestrators: they call these
functions outside replay (`if not context.is_replaying`), so each finished run is logged once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

LOGGER_NAME = "modelferry.runs"
MESSAGE_PREFIX = "modelferry.run "

#: Fields of a finished copy target (`kind` "copy") and of a finished sync (`kind` "sync").
RUN_FIELDS: tuple[str, ...] = ("instanceId", "kind", "artifactId", "artifactKind", "source", "target", "outcome",
                               "errorCode", "attempts", "durationSeconds", "throttled")
#: Fields of a replica the sync found expiring (`kind` "replicaExpiring").
EXPIRING_FIELDS: tuple[str, ...] = ("instanceId", "kind", "artifactId", "artifactKind", "source", "target",
                                    "expiresAt")
#: Beyond the agreed fields, a failed copy/sync record carries its error's hint (what to do), for the workbook.
HINT_FIELD = "hint"
#: Every field any record carries: what the workbook and alert queries may read.
ALL_FIELDS: frozenset[str] = frozenset(RUN_FIELDS) | frozenset(EXPIRING_FIELDS) | {HINT_FIELD}
KINDS: tuple[str, ...] = ("copy", "sync", "replicaExpiring")
#: `outcome` of a sync that changed nothing because it was a dry run (never counts as a successful sync).
DRY_RUN = "dryRun"

log = logging.getLogger(LOGGER_NAME)

_MAX_TEXT = 256
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
#: What a malformed error code is logged as (a code with spaces or '=' is message text, which could quote anything).
UNRECOGNIZED_CODE = "UnrecognizedErrorCode"


def _text(value: Any) -> str | None:
    """A short plain string (or None): identifiers only, never whole payloads."""
    if value is None:
        return None
    return str(value)[:_MAX_TEXT]


def _code(value: Any) -> str | None:
    """An error code as the service or FerryError spells it ("ModelNotFound", "1002"); anything else is refused."""
    if not value:
        return None
    return str(value) if _CODE.match(str(value)) else UNRECOGNIZED_CODE


_LONG_WORD = re.compile(r"\S{32,}")


def _hint(value: Any) -> str | None:
    """A hint is prose written by ModelFerry; any unbroken run of 32+ characters (a key, a token, a URL with a
    query string) is cut out all the same."""
    if not value:
        return None
    return _LONG_WORD.sub("[…]", str(value))[:_MAX_TEXT * 2]


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _seconds(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 3)
    except (TypeError, ValueError):
        return None


def copy_target_record(*, instance_id: str, source: str | None, artifact_id: str | None,
                       result: Mapping[str, Any], artifact_kind: str = "model") -> dict[str, Any]:
    """The record of one finished copy target, from the per-target result the parent collected.

    `result` is the child's result (`target`, `status`, `error{code}`, `attempts`, `durationSeconds`, and a
    `throttled` count of 429 answers when the child reports one); `instance_id` is the child's instance id."""
    error = result.get("error") if isinstance(result.get("error"), Mapping) else {}
    return {
        "instanceId": _text(instance_id),
        "kind": "copy",
        "artifactId": _text(artifact_id),
        "artifactKind": _text(result.get("artifactKind") or artifact_kind),
        "source": _text(source),
        "target": _text(result.get("target")),
        "outcome": _text(result.get("status") or "failed"),
        "errorCode": _code((error or {}).get("code")),
        "attempts": _count(result.get("attempts")),
        "durationSeconds": _seconds(result.get("durationSeconds")),
        "throttled": _count(result.get("throttled")),
        HINT_FIELD: _hint((error or {}).get("hint")),
    }


def sync_record(*, instance_id: str, output: Mapping[str, Any], duration_seconds: float | None = None,
                throttled: int = 0) -> dict[str, Any]:
    """The record of one finished sync, from its output (`source`, `status`, `dryRun`, `counts`, `items`).

    `target` lists the sync's targets (comma-separated, sorted); `attempts` is the number of copies it made or
    tried (copied + replaced + failed); `errorCode`/`hint` are the first failed item's; a dry run's outcome is
    `DRY_RUN`, so it never counts as a successful sync."""
    counts = output.get("counts") if isinstance(output.get("counts"), Mapping) else {}
    attempts = sum(_count(c.get("copied")) + _count(c.get("replaced")) + _count(c.get("failed"))
                   for c in counts.values() if isinstance(c, Mapping))
    errors = [output["error"]] if isinstance(output.get("error"), Mapping) else []
    errors += [item["error"] for item in output.get("items") or []
               if isinstance(item, Mapping) and isinstance(item.get("error"), Mapping)]
    first_error = errors[0] if errors else {}
    return {
        "instanceId": _text(instance_id),
        "kind": "sync",
        "artifactId": None,
        "artifactKind": None,
        "source": _text(output.get("source")),
        "target": _text(",".join(sorted(str(t) for t in counts))),
        "outcome": DRY_RUN if output.get("dryRun") else _text(output.get("status") or "failed"),
        "errorCode": _code(first_error.get("code")),
        "attempts": attempts,
        "durationSeconds": _seconds(duration_seconds),
        "throttled": _count(throttled),
        HINT_FIELD: _hint(first_error.get("hint")),
    }


def replica_expiring_record(*, instance_id: str, source: str | None, artifact_id: str, target: str,
                            expires_at: str, artifact_kind: str = "model") -> dict[str, Any]:
    """The record of one replica that expires soon (`expires_at`: the service's expirationDateTime, ISO 8601)."""
    return {"instanceId": _text(instance_id), "kind": "replicaExpiring", "artifactId": _text(artifact_id),
            "artifactKind": _text(artifact_kind), "source": _text(source), "target": _text(target),
            "expiresAt": _text(expires_at)}


def emit(record: Mapping[str, Any]) -> None:
    """Log one record (fields checked against the declared set, so a typo cannot silently blind a query)."""
    unknown = set(record) - ALL_FIELDS
    if unknown or record.get("kind") not in KINDS:
        raise ValueError(f"not a run record: unknown fields {sorted(unknown)} or kind {record.get('kind')!r}")
    dims = dict(record)
    log.info("%s%s", MESSAGE_PREFIX, json.dumps(dims, separators=(",", ":"), sort_keys=True),
             extra={"custom_dimensions": dims})


def log_copy_target_finished(*, instance_id: str, source: str | None, artifact_id: str | None,
                             result: Mapping[str, Any], artifact_kind: str = "model") -> None:
    """Log one finished copy target (call from the copy orchestrator, outside replay)."""
    emit(copy_target_record(instance_id=instance_id, source=source, artifact_id=artifact_id, result=result,
                            artifact_kind=artifact_kind))


def log_sync_finished(*, instance_id: str, output: Mapping[str, Any], duration_seconds: float | None = None,
                      throttled: int = 0) -> None:
    """Log one finished sync (call from the sync orchestrator at its end, outside replay)."""
    emit(sync_record(instance_id=instance_id, output=output, duration_seconds=duration_seconds,
                     throttled=throttled))


def log_replica_expiring(*, instance_id: str, source: str | None, artifact_id: str, target: str,
                         expires_at: str, artifact_kind: str = "model") -> None:
    """Log one replica expiring soon (the sync calls this for each expiring-replica warning, outside replay)."""
    emit(replica_expiring_record(instance_id=instance_id, source=source, artifact_id=artifact_id, target=target,
                                 expires_at=expires_at, artifact_kind=artifact_kind))
