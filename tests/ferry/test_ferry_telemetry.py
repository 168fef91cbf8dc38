"""ferry.telemetry: the finished-run records the workbook and the alerts read (fields, values, no secrets)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from ferry import telemetry

SECRET_KEY = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of `modelferry.runs` logged during the test."""
    logger = logging.getLogger(telemetry.LOGGER_NAME)
    keep, old_level = _Keep(), logger.level
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        yield keep.records
    finally:
        logger.removeHandler(keep)
        logger.setLevel(old_level)


def _dims(record: logging.LogRecord) -> dict:
    return record.custom_dimensions  # type: ignore[attr-defined]


def test_a_finished_copy_target_is_one_record_with_every_contract_field(records) -> None:
    result = {"target": "westeurope", "status": "failed", "targetModelId": None, "attempts": 2,
              "durationSeconds": 12.3456, "throttled": 3,
              "error": {"code": "ModelNotFound", "message": "no model 'm1'", "hint": "check the id"}}
    telemetry.log_copy_target_finished(instance_id="copy-m1-abc~1:westeurope", source="eastus",
                                       artifact_id="m1", result=result)
    (record,) = records
    assert record.name == "modelferry.runs" and record.levelno == logging.INFO
    assert _dims(record) == {"instanceId": "copy-m1-abc~1:westeurope", "kind": "copy", "artifactId": "m1",
                             "artifactKind": "model", "source": "eastus", "target": "westeurope",
                             "outcome": "failed", "errorCode": "ModelNotFound", "attempts": 2,
                             "durationSeconds": 12.346, "throttled": 3, "hint": "check the id"}
    assert tuple(_dims(record)) == (*telemetry.RUN_FIELDS, telemetry.HINT_FIELD)
    # the message carries the same fields (what the Functions host forwards to Application Insights)
    message = record.getMessage()
    assert message.startswith(telemetry.MESSAGE_PREFIX)
    assert json.loads(message[len(telemetry.MESSAGE_PREFIX):]) == _dims(record)


def test_a_succeeded_target_without_counts_reports_zeroes_not_gaps(records) -> None:
    telemetry.log_copy_target_finished(instance_id="i:a", source="s", artifact_id="m",
                                       result={"target": "a", "status": "succeeded", "error": None})
    dims = _dims(records[0])
    assert (dims["outcome"], dims["errorCode"], dims["attempts"], dims["throttled"]) == ("succeeded", None, 0, 0)
    assert dims["durationSeconds"] is None


def test_a_finished_sync_is_one_record_summarising_its_output(records) -> None:
    output = {"source": "eastus", "status": "partial", "dryRun": False,
              "counts": {"westeurope": {"copied": 2, "upToDate": 5, "replaced": 1, "conflict": 0, "skipped": 1,
                                        "pruned": 0, "failed": 1},
                         "japaneast": {"copied": 1, "upToDate": 8, "replaced": 0, "conflict": 1, "skipped": 0,
                                       "pruned": 0, "failed": 0}},
              "items": [{"id": "m1", "kind": "model", "target": "westeurope", "action": "copy", "result": "copied"},
                        {"id": "m2", "kind": "model", "target": "westeurope", "action": "copy",
                         "result": "failed", "error": {"code": "QuotaExceeded", "message": "limit"}}],
              "warnings": []}
    telemetry.log_sync_finished(instance_id="sync-eastus-1~2", output=output, duration_seconds=61.5, throttled=4)
    (record,) = records
    assert _dims(record) == {"instanceId": "sync-eastus-1~2", "kind": "sync", "artifactId": None,
                             "artifactKind": None, "source": "eastus", "target": "japaneast,westeurope",
                             "outcome": "partial", "errorCode": "QuotaExceeded", "attempts": 5,
                             "durationSeconds": 61.5, "throttled": 4, "hint": None}


def test_a_dry_run_never_counts_as_a_successful_sync(records) -> None:
    telemetry.log_sync_finished(instance_id="s~1", output={"source": "eastus", "status": "succeeded",
                                                          "dryRun": True, "counts": {}, "items": []})
    assert _dims(records[0])["outcome"] == telemetry.DRY_RUN


def test_an_expiring_replica_is_a_record_of_its_own_kind(records) -> None:
    telemetry.log_replica_expiring(instance_id="s~1", source="eastus", artifact_id="m1", target="westeurope",
                                   expires_at="2027-01-01T00:00:00Z")
    dims = _dims(records[0])
    assert dims == {"instanceId": "s~1", "kind": "replicaExpiring", "artifactId": "m1", "artifactKind": "model",
                    "source": "eastus", "target": "westeurope", "expiresAt": "2027-01-01T00:00:00Z"}
    assert set(dims) == set(telemetry.EXPIRING_FIELDS) <= telemetry.ALL_FIELDS


def test_no_key_authorization_or_token_reaches_the_log(records) -> None:
    """A result carrying secrets (as a buggy caller might pass) logs only the whitelisted fields."""
    authorization = {"targetResourceId": "/subscriptions/x", "accessToken": ACCESS_TOKEN,
                     "expirationDateTime": "2026-01-01T00:00:00Z"}
    result = {"target": "westeurope", "status": "failed", "attempts": 1, "authorization": authorization,
              "key": SECRET_KEY, "headers": {"Ocp-Apim-Subscription-Key": SECRET_KEY},
              "error": {"code": f"Unauthorized key={SECRET_KEY}", "message": f"token {ACCESS_TOKEN} rejected",
                        "hint": f"rotate the key {SECRET_KEY} or the token {ACCESS_TOKEN}"}}
    telemetry.log_copy_target_finished(instance_id="i:westeurope", source="eastus", artifact_id="m", result=result)
    telemetry.log_sync_finished(instance_id="s", output={"source": "eastus", "status": "failed", "counts": {},
                                                        "items": [{"error": {"code": ACCESS_TOKEN[:20] + " x"}}],
                                                        "authorization": authorization})
    assert len(records) == 2
    for record in records:
        text = record.getMessage() + json.dumps(_dims(record))
        for secret in (SECRET_KEY, ACCESS_TOKEN, "accessToken", "Ocp-Apim"):
            assert secret not in text
        assert set(_dims(record)) == {*telemetry.RUN_FIELDS, telemetry.HINT_FIELD}
    assert _dims(records[0])["hint"] == "rotate the key […] or the token […]"
    # an error code that is not an identifier is message text: it is replaced, not trimmed
    assert _dims(records[0])["errorCode"] == _dims(records[1])["errorCode"] == telemetry.UNRECOGNIZED_CODE


def test_a_record_with_an_undeclared_field_is_refused() -> None:
    """Queries may only read declared fields, so emitting any other field is a bug caught at once."""
    with pytest.raises(ValueError, match="unknown fields"):
        telemetry.emit({"kind": "copy", "modelId": "m"})
    with pytest.raises(ValueError, match="kind"):
        telemetry.emit({"kind": "build"})
