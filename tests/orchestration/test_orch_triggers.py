"""Trigger plumbing without a host: event field extraction (both schemas) and start-or-join decisions."""

import asyncio
import datetime

import azure.functions as func
import pytest

from CopyOrchestrator.starting import start_once, start_or_join_request
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
    def __init__(self, runtime, instance_id=None, created=None):
        self.runtime_status = type("S", (), {"value": runtime})() if runtime else None
        self.instance_id = instance_id
        self.created_time = created

    def __bool__(self):
        return self.runtime_status is not None


PREFIX = "copy-m1-0123456789abcdef"
T0 = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


class FakeClient:
    """Instances by id; `get_status_by` answers like the SDK: one page, oldest first, prefix and time filters."""

    def __init__(self, instances=None, page_size=100, race=None):
        self.instances = dict(instances or {})  # id -> (state, created)
        self.started = []
        self.page_size = page_size
        self.race = race  # a state an identical concurrent request put the id in just before our start_new
        self.queries = []

    async def get_status(self, instance_id):
        state, created = self.instances.get(instance_id, (None, None))
        return Status(state, instance_id, created)

    async def get_status_by(self, created_time_from=None, created_time_to=None, runtime_status=None,
                            instance_id_prefix=None):
        self.queries.append(created_time_from)
        rows = sorted(((c, i, s) for i, (s, c) in self.instances.items() if i.startswith(instance_id_prefix)
                       and (created_time_from is None or c >= created_time_from)))
        return [Status(s, i, c) for c, i, s in rows[:self.page_size]]

    async def start_new(self, name, instance_id, payload):
        if self.race:
            self.instances[instance_id] = (self.race, T0)
            raise Exception(f"An Orchestration instance with the status {self.race} already exists.")
        if self.instances.get(instance_id, (None,))[0] in ("Running", "Pending"):
            raise Exception("already exists")
        self.instances[instance_id] = ("Pending", T0)
        self.started.append((name, instance_id, payload))


def request(client):
    return asyncio.run(start_or_join_request(client, PREFIX, {"modelId": "m1"}))


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def test_first_request_starts_run_1():
    client = FakeClient()
    assert request(client) == (f"{PREFIX}~000001", True)
    assert client.started == [("copy_model", f"{PREFIX}~000001", {"modelId": "m1"})]


@pytest.mark.parametrize("state", ["Completed", "Failed", "Terminated", "Canceled"])
def test_finished_runs_are_kept_and_the_next_run_gets_the_next_number(state):
    client = FakeClient({f"{PREFIX}~000001": ("Completed", at(1)), f"{PREFIX}~000002": (state, at(2)),
                         f"{PREFIX}~000002:west": ("Completed", at(2))})
    assert request(client) == (f"{PREFIX}~000003", True)
    assert client.instances[f"{PREFIX}~000001"][0] == "Completed"


@pytest.mark.parametrize("state", ["Running", "Pending", "ContinuedAsNew", "Suspended"])
def test_an_active_run_is_joined(state):
    client = FakeClient({f"{PREFIX}~000001": ("Completed", at(1)), f"{PREFIX}~000002": (state, at(2))})
    assert request(client) == (f"{PREFIX}~000002", False)
    assert client.started == []


def test_a_run_from_before_run_numbers_counts_as_run_0_and_other_requests_do_not_count():
    client = FakeClient({PREFIX: ("Running", at(1)), PREFIX + "0~000007": ("Completed", at(2))})
    assert request(client) == (PREFIX, False)
    client.instances[PREFIX] = ("Completed", at(1))
    assert request(client) == (f"{PREFIX}~000001", True)


def test_purged_gaps_do_not_reuse_a_kept_number():
    client = FakeClient({f"{PREFIX}~000004": ("Completed", at(4))})
    assert request(client) == (f"{PREFIX}~000005", True)


def test_a_long_history_is_read_past_the_first_page():
    client = FakeClient({f"{PREFIX}~{n:06d}": ("Completed", at(n)) for n in range(1, 251)}, page_size=100)
    assert request(client) == (f"{PREFIX}~000251", True)
    assert len(client.queries) >= 3


def test_pages_holding_only_children_do_not_end_the_listing_early():
    instances = {f"{PREFIX}~000001": ("Completed", at(1))}
    instances |= {f"{PREFIX}~000001:t{i:03d}": ("Completed", at(1 + i / 1000)) for i in range(250)}
    instances[f"{PREFIX}~000002"] = ("Completed", at(2))
    client = FakeClient(instances, page_size=100)
    assert request(client) == (f"{PREFIX}~000003", True)


def test_a_kept_run_the_listing_missed_is_never_replaced():
    class Blind(FakeClient):
        async def get_status_by(self, **kwargs):  # a store whose listing lags behind
            return []

    client = Blind({f"{PREFIX}~000001": ("Completed", at(1)), f"{PREFIX}~000002": ("Failed", at(2))})
    assert request(client) == (f"{PREFIX}~000003", True)
    assert client.instances[f"{PREFIX}~000001"][0] == "Completed"
    client = Blind({f"{PREFIX}~000001": ("Completed", at(1)), f"{PREFIX}~000002": ("Running", at(2))})
    assert request(client) == (f"{PREFIX}~000002", False) and client.started == []


def test_losing_a_start_race_joins_the_winner():
    client = FakeClient(race="Pending")
    assert request(client) == (f"{PREFIX}~000001", False)


def test_a_start_failure_that_is_not_a_race_propagates():
    client = FakeClient(race="Completed")
    with pytest.raises(Exception, match="already exists"):
        request(client)


@pytest.mark.parametrize("state, started", [(None, True), ("Running", False), ("Completed", False),
                                            ("Failed", False)])
def test_an_event_id_starts_only_once(state, started):
    client = FakeClient({"evt-m1-abc": (state, T0)} if state else {})
    assert asyncio.run(start_once(client, "evt-m1-abc", {"modelId": "m1"})) is started
    assert bool(client.started) is started
