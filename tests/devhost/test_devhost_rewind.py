"""Rewind (`POST instances/{id}/rewind`): failures cleared as the extension's Azure Storage provider does, failed
activities and sub-orchestrations run again, the instance resumes; what cannot be rewound is refused."""

from pathlib import Path

import pytest
import requests

from devhost.engine import history as h
from devhost.engine.errors import InvalidOperationError
from devhost.testing import DevHost, read_json_lines

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def host(tmp_path):
    run_log = tmp_path / "runs.jsonl"
    with DevHost.start(APPS / "rewindable", store=tmp_path / "s.sqlite", settings={"RUN_LOG": str(run_log)},
                       http=True) as h_:
        h_.run_log = run_log
        h_.index.module.BROKEN.clear()
        yield h_
        h_.index.module.BROKEN.clear()


def runs(host) -> list[str]:
    return [r["step"] for r in read_json_lines(host.run_log)]


def rewind(host, iid, reason="fixed"):
    return requests.post(f"{host.url}/runtime/webhooks/durabletask/instances/{iid}/rewind", params={"reason": reason},
                         timeout=10)


def test_rewind_reruns_only_the_failed_activity_and_completes(host):
    host.index.module.BROKEN.add("k")
    iid = host.start_new("two_steps", "k")
    failed = host.wait_for(iid)
    assert failed["runtimeStatus"] == "Failed" and "k is broken" in failed["output"]
    host.index.module.BROKEN.discard("k")
    assert rewind(host, iid).status_code == 202
    done = host.wait_for(iid)
    assert (done["runtimeStatus"], done["output"]) == ("Completed", ["a-ok", "k-ok"])
    assert runs(host) == ["a", "k", "k"]          # the completed activity is not run again
    types = [e["EventType"] for e in host.history(iid)]
    assert types.count(h.TASK_FAILED) == 0 and types.count(h.GENERIC) == 4   # TaskScheduled+TaskFailed+Completed+wake
    generic = [e for e in host.history(iid) if e["EventType"] == h.GENERIC]
    assert generic[-1]["Data"] == "fixed" and generic[0]["EventId"] == 1     # the rewound TaskScheduled keeps its id
    assert [e["EventId"] for e in host.history(iid) if e["EventType"] == h.TASK_SCHEDULED] == [0, 1]


def test_rewind_reaches_a_failed_sub_orchestration(host):
    host.index.module.BROKEN.add("c")
    iid = host.start_new("parent_of_two", "c")
    assert host.wait_for(iid)["runtimeStatus"] == "Failed"
    assert host.status(f"{iid}-child")["runtimeStatus"] == "Failed"
    host.index.module.BROKEN.discard("c")
    host.engine.rewind(iid, "dependency fixed")
    assert host.status(iid)["runtimeStatus"] == "Pending"
    done = host.wait_for(iid)
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"] == {"child": ["a-ok", "c-ok"], "after": "after-ok"}
    assert host.status(f"{iid}-child")["runtimeStatus"] == "Completed"
    assert runs(host) == ["a", "c", "c", "after"]
    # the parent's SubOrchestrationInstanceCreated stayed: the child was not started a second time
    created = [e for e in host.history(iid) if e["EventType"] == h.SUB_ORCHESTRATION_CREATED]
    assert len(created) == 1


def test_rewind_refuses_what_is_not_failed(host):
    done = host.start_new("two_steps", "x")
    host.wait_for(done)
    assert rewind(host, done).status_code == 410
    assert rewind(host, "nobody").status_code == 404
    running = host.start_new("waits")
    host.wait_for(running, statuses=["Running"])
    with pytest.raises(InvalidOperationError, match="only supported on failed orchestration instances"):
        host.engine.rewind(running, "no")
    assert rewind(host, running).status_code == 500


def test_rewinding_a_retried_activity_is_non_deterministic_as_in_dtfx(host):
    host.index.module.BROKEN.add("r")
    iid = host.start_new("with_retry", "r")
    assert host.wait_for(iid)["runtimeStatus"] == "Failed"
    host.index.module.BROKEN.discard("r")
    host.engine.rewind(iid)
    again = host.wait_for(iid, timeout=10)
    assert again["runtimeStatus"] == "Failed"
    assert "Non-Deterministic workflow detected" in again["output"] and "TimerCreated" in again["output"]
