"""Trigger plumbing without a host: event field extraction (both schemas) and start-or-join decisions."""

import asyncio
import datetime

import azure.functions as func
import pytest

from CopyOrchestrator.starting import start_or_join
from EventGridStart import event_fields


def test_event_grid_schema_fields():
    event = func.EventGridEvent(id="e1", data={"modelId": "m1"}, topic="/topics/t", subject="models/m1",
                                event_type="ModelTrained", event_time=datetime.datetime.now(datetime.UTC),
                                data_version="1.0")
    assert event_fields(event) == {"id": "e1", "type": "ModelTrained", "source": "/topics/t",
                                   "data": {"modelId": "m1"}}


def test_cloud_event_fields():
    event = func.CloudEvent(id="c1", source="/training", type="com.contoso.ModelTrained", specversion="1.0",
                            time=None, subject=None, datacontenttype="application/json", dataschema=None,
                            data={"modelId": "m1", "source": "east"})
    assert event_fields(event) == {"id": "c1", "type": "com.contoso.ModelTrained", "source": "/training",
                                   "data": {"modelId": "m1", "source": "east"}}


class Status:
    def __init__(self, runtime):
        self.runtime_status = type("S", (), {"value": runtime})() if runtime else None

    def __bool__(self):
        return self.runtime_status is not None


class FakeClient:
    def __init__(self, states, fail_start=False):
        self.states = list(states)  # successive get_status answers
        self.started = []
        self.fail_start = fail_start

    async def get_status(self, instance_id):
        return Status(self.states.pop(0) if len(self.states) > 1 else self.states[0])

    async def start_new(self, name, instance_id, payload):
        if self.fail_start:
            raise Exception("An orchestration with instance ID 'x' already exists")
        self.started.append((name, instance_id, payload))


def run(client, *, rerun):
    return asyncio.run(start_or_join(client, "copy-m1-abc", {"modelId": "m1"}, rerun_finished=rerun))


@pytest.mark.parametrize("state, rerun, started", [
    (None, True, True), ("Running", True, False), ("Pending", True, False), ("Completed", True, True),
    ("Failed", True, True), (None, False, True), ("Completed", False, False), ("Running", False, False),
])
def test_start_or_join(state, rerun, started):
    client = FakeClient([state])
    assert run(client, rerun=rerun) == ("copy-m1-abc", started)
    assert bool(client.started) is started
    if started:
        assert client.started[0][:2] == ("copy_model", "copy-m1-abc")


def test_losing_a_start_race_joins_the_winner():
    client = FakeClient([None, "Running"], fail_start=True)
    assert run(client, rerun=True) == ("copy-m1-abc", False)


def test_a_start_failure_that_is_not_a_race_propagates():
    client = FakeClient([None, None], fail_start=True)
    with pytest.raises(Exception, match="already exists"):
        run(client, rerun=True)
