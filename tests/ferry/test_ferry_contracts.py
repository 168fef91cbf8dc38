"""The activity contracts: one camelCase wire shape each, a lossless round trip, and tolerance of older or
partial records (a replay reads results an older build wrote)."""

import dataclasses
import json

import pytest

from ferry import contracts as c
from ferry.errors import FerryError
from ferry.orchestration.policy import CopyPolicy

SAMPLES = [
    c.SourceRef(source="east", model_id="m1"),
    c.SourceModel(model_id="m1", source="east", api_version="2024-11-30", status="ready", ready=True,
                  fingerprint={"generation": "v3", "digest": "d"}, description="d", tags={"k": "v"}),
    c.StartCopy(source="east", target="west", source_model_id="m1", target_model_id="m1", degrade=True,
                description="d", tags={"k": "v"}),
    c.CopyStarted(operation_url="http://127.0.0.1/op/1", target_model_id="m1", authorization_expires_at="x"),
    c.PollCopy(source="east", operation_url="http://127.0.0.1/op/1", target_model_id="m1"),
    c.CopyPoll(status="failed", target_model_id="m1", retry_after=2.0, service_status="failed",
               error=FerryError(kind="timeout", code="3013", message="slow", hint="h", target_model_id="m1")),
    c.TargetRef(target="west", target_model_id="m1"),
    c.TargetModel(exists=True, model_id="m1", fingerprint={"digest": "d"}, status="ready"),
    c.Deleted(deleted=True),
    c.ListCopies(target="west", fingerprint={"digest": "d"}),
    c.TargetCopies(ready=["a"], creating=["b"]),
    c.ChildInput(model_id="m1", source="east", target="west", target_model_id=None, api_version="v2.1",
                 degrade=False, policy=CopyPolicy(deadline_seconds=60)),
    c.CopyPlanned(request={"modelId": "m1"}, source_api_version="v2.1",
                  targets=[c.TargetPlan(alias="west", api_version="v2.1")], policy=CopyPolicy(max_transient_retries=2)),
]


@pytest.mark.parametrize("contract", SAMPLES, ids=lambda x: type(x).__name__)
def test_round_trip_through_json_with_camel_case_keys(contract):
    wire = json.loads(json.dumps(contract.to_dict()))
    back = type(contract).from_dict(wire)
    assert back.to_dict() == contract.to_dict()
    for f in dataclasses.fields(contract):
        if "_" in f.name:
            assert f.name not in wire  # snake_case never reaches the wire
    if not isinstance(contract, c.CopyPoll):  # FerryError compares by identity; its dict compared above
        assert back == contract


def test_unknown_keys_are_ignored_and_missing_ones_default():
    old = {"operationUrl": "http://x/op", "targetModelId": "m1", "apiVersion": "2024-11-30", "accessToken": "no"}
    started = c.CopyStarted.from_dict(old)
    assert started == c.CopyStarted(operation_url="http://x/op", target_model_id="m1")
    assert "accessToken" not in json.dumps(started.to_dict())
    assert c.TargetModel.from_dict({"exists": False}) == c.TargetModel()
    assert c.SourceModel.from_dict(None) == c.SourceModel()
    # an error recorded by an older build (no kind, extra keys) still reads as an error
    polled = c.CopyPoll.from_dict({"status": "failed", "error": {"code": "Boom", "message": "m", "hint": "h",
                                                                 "retryable": False}})
    assert polled.error is not None and polled.error.code == "Boom" and polled.error.kind == "terminal"


def test_the_envelope():
    ok = c.Answer.of(c.Deleted(deleted=True))
    assert ok.ok and ok.to_dict() == {"ok": True, "value": {"deleted": True}}
    assert c.Answer.from_dict(ok.to_dict()).value == {"deleted": True}
    error = FerryError(kind="throttled", code="429", message="m", hint="h", retry_after=3)
    failed = c.Answer.from_dict(c.Answer.failed(error).to_dict())
    assert not failed.ok and failed.error.kind == "throttled" and failed.error.retry_after == 3
    assert not c.Answer.from_dict(None).ok  # nothing at all is a failure, never a silent success
