"""The durable engine driven through devhost.testing on the features sample app: every action type, ids exactly
as the SDK allocates them, timers on a virtual clock, events, entities, sub-orchestrations, failures."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.engine import history as h
from devhost.engine.clock import parse_iso, utc
from devhost.testing import read_json_lines


def events(host, iid, event_type):
    return [e for e in host.history(iid) if e["EventType"] == event_type]


def runs(run_log):
    return read_json_lines(run_log)


def test_chain_history_is_shaped_like_the_extension(host):
    iid = host.start_new("chain", 5)
    st = host.wait_for(iid, timeout=10)
    assert st["runtimeStatus"] == "Completed"
    assert st["output"] == {"a": 10, "b": 20, "c": "Hello 20!"}
    assert st["input"] == "5"  # the SDK client's double encoding, as the extension stores it
    hist = host.history(iid)
    assert [hist[0]["EventType"], hist[1]["EventType"]] == [h.ORCHESTRATOR_STARTED, h.EXECUTION_STARTED]
    assert hist[1]["Version"] == "" and hist[1]["Input"] == '"5"' and hist[1]["Name"] == "chain"
    scheduled = events(host, iid, h.TASK_SCHEDULED)
    assert [(e["EventId"], e["Name"]) for e in scheduled] == [(0, "double"), (1, "double"), (2, "hello")]
    assert [e["TaskScheduledId"] for e in events(host, iid, h.TASK_COMPLETED)] == [0, 1, 2]
    assert events(host, iid, h.TASK_COMPLETED)[2]["Result"] == '"Hello 20!"'
    assert scheduled[0]["Input"] == '["5"]'  # DTFx serializes the parameters array
    assert len(events(host, iid, h.ORCHESTRATOR_STARTED)) == 4  # one per episode
    assert all(e["EventId"] == -1 for e in hist if e["EventType"] not in (h.TASK_SCHEDULED, h.EXECUTION_COMPLETED))
    assert all(e["Timestamp"].endswith("Z") for e in hist)
    # DTFx: ExecutionCompleted (with the next sequence id) comes before the episode's OrchestratorCompleted
    assert [e["EventType"] for e in hist[-2:]] == [h.EXECUTION_COMPLETED, h.ORCHESTRATOR_COMPLETED]
    assert hist[-2]["OrchestrationStatus"] == 1 and hist[-2]["EventId"] == 3


def test_fan_out_schedules_all_children_in_one_episode(host, run_log):
    iid = host.start_new("fan_out", 6)
    assert host.wait_for(iid)["output"] == sum(2 * i for i in range(6))
    hist = host.history(iid)
    first_done = next(i for i, e in enumerate(hist) if e["EventType"] == h.ORCHESTRATOR_COMPLETED)
    assert sorted(e["EventId"] for e in hist[:first_done] if e["EventType"] == h.TASK_SCHEDULED) == list(range(6))
    assert sorted(r["input"] for r in runs(run_log)) == list(range(6))


def test_retry_takes_hidden_ids_for_timers_and_attempts(host):
    iid = host.start_new("retry_flaky", "k1")
    st = host.wait_for(iid)
    assert st["output"] == [2, "ok after 3", 4]
    hist = host.history(iid)
    seq = [(e["EventType"], e.get("EventId"), e.get("TaskScheduledId"), e.get("TimerId")) for e in hist
           if e["EventType"] in (h.TASK_SCHEDULED, h.TASK_FAILED, h.TASK_COMPLETED, h.TIMER_CREATED, h.TIMER_FIRED)]
    assert seq == [
        (h.TASK_SCHEDULED, 0, None, None), (h.TASK_COMPLETED, -1, 0, None),
        (h.TASK_SCHEDULED, 1, None, None), (h.TASK_FAILED, -1, 1, None), (h.TIMER_CREATED, 2, None, None),
        (h.TIMER_FIRED, -1, None, 2), (h.TASK_SCHEDULED, 3, None, None), (h.TASK_FAILED, -1, 3, None),
        (h.TIMER_CREATED, 4, None, None), (h.TIMER_FIRED, -1, None, 4), (h.TASK_SCHEDULED, 5, None, None),
        (h.TASK_COMPLETED, -1, 5, None), (h.TASK_SCHEDULED, 6, None, None), (h.TASK_COMPLETED, -1, 6, None)]
    failed = events(host, iid, h.TASK_FAILED)[0]
    # TaskActivityShim + OutOfProcExceptionHelpers: the friendly message keeps the space after "Exception:"
    assert failed["Reason"] == "Activity function 'flaky_step' failed:  RuntimeError: flaky failure 1"
    assert json.loads(failed["Details"])["Message"] == " RuntimeError: flaky failure 1"
    created = events(host, iid, h.TIMER_CREATED)[0]
    assert parse_iso(created["FireAt"]) - parse_iso(created["Timestamp"]) == pytest.approx(5.0)
    assert host.index.module.ATTEMPTS["k1"] == 3


def test_retry_exhausted_waits_for_the_last_timer_then_throws(host):
    iid = host.start_new("retry_exhausted")
    out = host.wait_for(iid)["output"]
    assert out.startswith("Activity function 'always_fails' failed:  ValueError: cannot handle x \n {")
    assert len(events(host, iid, h.TASK_FAILED)) == 2
    assert [e["TimerId"] for e in events(host, iid, h.TIMER_FIRED)] == [1, 3]  # one timer after every failure


def test_thirty_minute_polling_finishes_in_virtual_time(host):
    start = host.clock.time()
    t0 = time.monotonic()
    iid = host.start_new("poll")
    st = host.wait_for(iid, timeout=20)
    assert st["output"] == 60 and st["customStatus"] == {"polls": 60}
    assert host.clock.time() - start == pytest.approx(1800, abs=0.01)
    assert time.monotonic() - t0 < 10
    fired = events(host, iid, h.TIMER_FIRED)
    assert [e["TimerId"] for e in fired] == list(range(60))


def test_long_timer_is_split_like_schema_v3(host):
    iid = host.start_new("long_timer")
    st = host.wait_for(iid)
    assert st["output"] == 7 * 86400
    created = events(host, iid, h.TIMER_CREATED)
    start = parse_iso(host.history(iid)[0]["Timestamp"])
    assert [round((parse_iso(e["FireAt"]) - start) / 86400, 3) for e in created] == [3.0, 7.0]
    assert [e["EventId"] for e in created] == [0, 1]


def test_external_event_wins_and_the_cancelled_timer_never_moves_time(host):
    iid = host.start_new("approval")
    host.wait_for(iid, statuses=["Running"])
    start = host.clock.time()
    host.raise_event(iid, "approve", {"by": "alice"})
    st = host.wait_for(iid)
    assert st["output"] == {"approved": {"by": "alice"}}
    assert host.clock.time() == start
    assert host.engine.store.next_timer() is None


def test_event_raised_before_the_wait_is_buffered(host):
    iid = host.start_new("approval")
    host.raise_event(iid, "approve", "early")  # queued with ExecutionStarted: delivered in the first episode
    assert host.wait_for(iid)["output"] == {"approved": "early"}


def test_timer_wins_when_no_event_arrives(host):
    iid = host.start_new("approval")
    start = host.clock.time()
    assert host.wait_for(iid)["output"] == {"approved": None, "timedOut": True}
    assert host.clock.time() - start == pytest.approx(3600, abs=0.01)


def test_continue_as_new_restarts_history_with_the_new_input(host, run_log):
    iid = host.start_new("counter_can", 0)
    st = host.wait_for(iid)
    assert st["output"] == 3 and st["input"] == "3"
    hist = host.history(iid)
    assert hist[1]["Input"] == '"3"'
    assert len(events(host, iid, h.EXECUTION_STARTED)) == 1
    assert [r["input"] for r in runs(run_log)] == [0, 1, 2, 3]


def test_sub_orchestrations_default_ids_named_ids_and_retry(host):
    iid = host.start_new("parent", instance_id="p1")
    st = host.wait_for(iid)
    assert st["runtimeStatus"] == "Completed"
    out = st["output"]
    assert out["auto"] == {"a": 2, "b": 4, "c": "Hello 4!"}
    assert out["named"] == {"a": 4, "b": 8, "c": "Hello 8!"}
    assert out["failed"].startswith("Orchestrator function 'fails' failed: bad thing: boom")
    created = events(host, iid, h.SUB_ORCHESTRATION_CREATED)
    execution_id = host.history(iid)[1]["OrchestrationInstance"]["ExecutionId"]
    assert created[0]["InstanceId"] == f"{execution_id}:0"  # DTFx's default: "{ExecutionId}:{sequence id}"
    assert created[1]["InstanceId"] == "p1-child"
    assert [e["InstanceId"] for e in created[2:]] == [f"{execution_id}:2", f"{execution_id}:4"]  # per attempt
    child = host.status("p1-child")
    assert child["runtimeStatus"] == "Completed" and child["input"] == "2"
    ids = [e["EventId"] for e in host.history(iid) if e["EventType"] in (h.SUB_ORCHESTRATION_CREATED,
                                                                          h.TIMER_CREATED)]
    assert ids == [0, 1, 2, 3, 4, 5]  # sub, sub, retry sub, its timer, the re-attempt, the final timer
    assert len(events(host, iid, h.SUB_ORCHESTRATION_FAILED)) == 2


def test_entities_call_signal_and_read(host):
    iid = host.start_new("entity_user", "c1")
    st = host.wait_for(iid)
    assert st["output"] == {"first": 5, "total": 6, "error": "counter exploded"}
    sent = events(host, iid, h.EVENT_SENT)
    assert [e["EventId"] for e in sent] == [0, 1, 2, 3] and sent[0]["InstanceId"] == "@counter@c1"
    raised = events(host, iid, h.EVENT_RAISED)
    assert raised[0]["Name"] == json.loads(sent[0]["Input"])["id"]
    assert host.read_entity("counter", "c1") == 6
    host.signal_entity("counter", "c1", "add", 4)
    host.run_until_idle()
    assert host.read_entity("counter", "c1") == 10
    host.signal_entity("Counter", "c1", "delete")
    host.run_until_idle()
    assert host.read_entity("counter", "c1") is None


def test_orchestrator_exception_fails_with_the_extension_message(host):
    iid = host.start_new("fails", "x")
    st = host.wait_for(iid)
    assert st["runtimeStatus"] == "Failed"
    assert st["output"] == "Orchestrator function 'fails' failed: bad thing: x"
    completed = host.history(iid)[-2]
    assert completed["EventType"] == h.EXECUTION_COMPLETED and completed["OrchestrationStatus"] == 3
    assert completed["Result"] == "Orchestrator function 'fails' failed: bad thing: x"  # raw reason, as DTFx


def test_unknown_activity_fails_the_orchestration_with_the_known_names(host):
    st = host.wait_for(host.start_new("unknown_activity"))
    assert st["runtimeStatus"] == "Failed"
    assert "The function 'no_such_activity' doesn't exist" in st["output"]
    assert "'double'" in st["output"]


def test_non_determinism_is_detected_and_explained(host, monkeypatch):
    monkeypatch.setenv("DEVHOST_TEST_FIRST", "double")
    iid = host.start_new("waits")
    host.wait_for_custom_status(iid, lambda cs: cs == "waiting")
    monkeypatch.setenv("DEVHOST_TEST_FIRST", "hello")  # the orchestrator code path changes mid-flight
    host.raise_event(iid, "go", 1)
    st = host.wait_for(iid)
    assert st["runtimeStatus"] == "Failed"
    msg = st["output"]
    assert "Non-Deterministic workflow detected" in msg
    assert "'double'" in msg and "'hello'" in msg and "sequence id 0" in msg


def test_suspend_holds_events_until_resume(host):
    iid = host.start_new("waits")
    host.wait_for_custom_status(iid, lambda cs: cs == "waiting")
    host.suspend(iid, "maintenance")
    host.wait_for(iid, statuses=["Suspended"])
    host.raise_event(iid, "go", "went")
    host.run_until_idle()
    assert host.status(iid)["runtimeStatus"] == "Suspended"
    host.resume(iid, "done")
    st = host.wait_for(iid)
    assert st["output"] == "went"
    types = [e["EventType"] for e in host.history(iid)]
    assert h.EXECUTION_SUSPENDED in types and h.EXECUTION_RESUMED in types


def test_terminate_and_gone_errors(host):
    from devhost.engine import InstanceGoneError, InstanceNotFoundError

    iid = host.start_new("waits")
    host.wait_for(iid, statuses=["Running"])
    host.terminate(iid, "enough")
    st = host.wait_for(iid)
    assert st["runtimeStatus"] == "Terminated" and st["output"] == "enough"
    tail = host.history(iid)[-4:]
    assert [e["EventType"] for e in tail] == [h.ORCHESTRATOR_STARTED, h.EXECUTION_TERMINATED, h.EXECUTION_COMPLETED,
                                             h.ORCHESTRATOR_COMPLETED]
    assert tail[2]["OrchestrationStatus"] == 5 and tail[2]["Result"] == "enough"
    with pytest.raises(InstanceGoneError):
        host.raise_event(iid, "go", 1)
    with pytest.raises(InstanceGoneError):
        host.terminate(iid, "again")
    with pytest.raises(InstanceNotFoundError):
        host.terminate("nope", "x")


def test_restart_purge_and_purge_by(host):
    iid = host.start_new("chain", 1, instance_id="r1")
    host.wait_for(iid)
    new = host.restart(iid)
    assert new != iid and host.wait_for(new)["output"]["a"] == 2
    same = host.restart(iid, new_instance_id=False)
    assert same == iid and host.wait_for(iid)["runtimeStatus"] == "Completed"
    assert host.purge(iid) == 1
    assert host.status(iid) is None and host.purge(iid) == 0
    failed = host.start_new("fails", "y")
    host.wait_for(failed)
    assert host.engine.purge_by(created_from=0, statuses=["Failed"]) == 1
    assert host.status(failed) is None and host.status(new) is not None


def test_query_filters_and_continuation_paging(host):
    ids = [host.start_new("chain", i, instance_id=f"q-{i}") for i in range(5)]
    ids_all = [*ids, host.start_new("chain", 9, instance_id="other")]
    for i in ids_all:
        host.wait_for(i)
    pages, token = [], None
    while True:
        page, token = host.engine.query(prefix="q-", top=2, continuation=token)
        pages.append([s["instanceId"] for s in page])
        if token is None:
            break
    assert pages == [["q-0", "q-1"], ["q-2", "q-3"], ["q-4"]]
    running, _ = host.engine.query(statuses=["Running", "Pending"])
    assert running == []
    done, _ = host.engine.query(statuses=["Completed"], created_from=utc(0).isoformat())
    assert len(done) >= 6


def test_start_errors_are_clear(host):
    from devhost.engine import BadRequestError, InstanceExistsError, OrchestratorNotFoundError

    with pytest.raises(OrchestratorNotFoundError, match="The function 'nope' doesn't exist"):
        host.start_new("nope")
    with pytest.raises(OrchestratorNotFoundError):
        host.start_new("double")  # an activity is not an orchestrator
    iid = host.start_new("waits", instance_id="busy")
    host.wait_for(iid, statuses=["Running"])
    with pytest.raises(InstanceExistsError, match="Running"):
        host.start_new("waits", instance_id="busy")
    with pytest.raises(BadRequestError):
        host.engine.start_new("chain", "bad", "{not json")


def test_clock_never_jumps_while_an_activity_runs(host):
    mod = host.index.module
    iid = host.start_new("gated")
    assert mod.GATE_ENTERED.wait(10)
    start = host.clock.time()
    with pytest.raises(TimeoutError):  # waiting enables time skipping, yet the 60 s timer must not fire
        host.wait_for(iid, timeout=0.3)
    assert host.clock.time() == start
    mod.GATE.set()
    st = host.wait_for(iid)
    assert st["output"]["winner"] == "activity"
    assert st["output"]["value"] == "gate:in"  # func.Context injected into the parameter named context
    assert host.clock.time() == start


def test_status_history_flags(host):
    iid = host.start_new("chain", 2)
    host.wait_for(iid)
    st = host.status(iid, show_history=True)
    kinds = [e["EventType"] for e in st["historyEvents"]]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
    assert "TaskScheduled" not in kinds and "OrchestratorStarted" not in kinds
    completed = [e for e in st["historyEvents"] if e["EventType"] == "TaskCompleted"]
    assert completed[0]["FunctionName"] == "double" and "Result" not in completed[0]
    with_output = host.status(iid, show_history=True, show_history_output=True)["historyEvents"]
    assert [e.get("Result") for e in with_output if e["EventType"] == "TaskCompleted"] == [4, 8, "Hello 8!"]


def test_many_instances_run_concurrently(host):
    ids = [host.start_new("fan_out", 3) for _ in range(40)]
    for i in ids:
        assert host.wait_for(i, timeout=30)["output"] == 6


def test_current_utc_datetime_follows_the_clock(host):
    host.clock.advance(timedelta(days=1).total_seconds())
    iid = host.start_new("long_timer")
    host.wait_for(iid)
    first = parse_iso(host.history(iid)[0]["Timestamp"])
    assert first == pytest.approx(host.clock.time() - 7 * 86400, abs=1)


def test_suspending_a_pending_instance_holds_its_start_until_resume(host):
    with host.engine._cond:  # keep the scheduler from dispatching until both messages are queued
        iid = host.start_new("chain", 1)
        host.suspend(iid, "hold")  # queued right behind ExecutionStarted: control messages act first
    host.run_until_idle()
    assert host.status(iid)["runtimeStatus"] == "Suspended"
    assert host.history(iid) == []  # not started: nothing may precede [OrchestratorStarted, ExecutionStarted]
    host.resume(iid, "go")
    assert host.wait_for(iid)["output"]["a"] == 2
    assert [e["EventType"] for e in host.history(iid)[:2]] == [h.ORCHESTRATOR_STARTED, h.EXECUTION_STARTED]


def test_activity_pool_size_is_honoured(tmp_path):
    from devhost.testing import DevHost

    app = Path(__file__).parent / "apps" / "features"
    with DevHost.start(app, store=tmp_path / "s.db", max_activities=2) as host:
        ids = [host.start_new("gated") for _ in range(4)]
        host.wait_until(lambda: host.engine.store.counts()["running_work"] == 2, what="two running activities")
        host.wait_until(lambda: host.engine.store.counts()["pending_work"] == 2, what="two queued activities")
        assert host.engine.store.counts()["running_work"] == 2
        host.index.module.GATE.set()
        assert all(host.wait_for(i)["output"]["winner"] == "activity" for i in ids)


def test_function_timeout_fails_the_activity(tmp_path):
    from devhost.testing import DevHost

    app = Path(__file__).parent / "apps" / "features"
    with DevHost.start(app, store=tmp_path / "s.db", function_timeout=0.2) as host:
        try:
            st = host.wait_for(host.start_new("timed"), timeout=10)
        finally:
            host.index.module.GATE.set()
        assert st["output"].startswith("failed: Activity function 'gate' failed: Timeout value of 00:00:00.2000000 "
                                        "was exceeded by function: Functions.gate")


def test_call_http_runs_the_builtin_http_activity(host):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"pong": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        iid = host.start_new("http_get", f"http://127.0.0.1:{server.server_address[1]}/ping")
        st = host.wait_for(iid)
    finally:
        server.shutdown()
        server.server_close()
    assert st["output"] == {"status": 200, "content": '{"pong": true}'}
    assert events(host, iid, h.TASK_SCHEDULED)[0]["Name"] == "BuiltIn::HttpActivity"


def test_invocations_are_logged_with_name_instance_and_traceback(host, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="devhost")
    ok = host.start_new("chain", 1)
    bad = host.start_new("fails", "z")
    host.wait_for(ok)
    host.wait_for(bad)
    lines = [r.getMessage() for r in caplog.records if r.name == "devhost"]
    assert any("Executed 'Functions.double' (Succeeded" in m and f"instance={ok}" in m for m in lines)
    failure = next(m for m in lines if "'Functions.fails' (Failed" in m)
    assert f"instance={bad}" in failure and "Traceback" in failure and "ValueError: bad thing: z" in failure


def test_done_orchestrator_waits_for_actions_the_shim_still_awaits(host):
    """SDK WhenAll fails fast; the extension's shim awaits the whole WhenAll before it completes the instance."""
    mod = host.index.module
    iid = host.start_new("fail_fast")
    assert mod.GATE_ENTERED.wait(10)
    host.wait_until(lambda: any(e["EventType"] == h.TASK_FAILED for e in host.history(iid)), what="the failure")
    assert host.status(iid)["runtimeStatus"] == "Running"  # done in the SDK, still awaited by the shim
    mod.GATE.set()
    st = host.wait_for(iid)
    assert st["runtimeStatus"] == "Completed" and st["output"] == "caught"


def test_sub_orchestration_with_the_parent_id_is_refused(host):
    st = host.wait_for(host.start_new("self_child", instance_id="me"))
    assert st["runtimeStatus"] == "Failed"
    assert "must be different than the instance ID of a parent orchestration" in st["output"]


def test_waiting_again_on_tasks_scheduled_in_an_earlier_episode_is_a_wait_not_a_hang(host):
    # task_any over children that are all already scheduled adds no action; the extension's shim then awaits
    # forever and the next child completion starts a new episode. The host must not call that non-determinism.
    iid = host.start_new("sliding_window", [30, 10, 20])
    st = host.wait_for(iid)
    assert st["runtimeStatus"] == "Completed", st["output"]
    assert st["output"] == [10, 20, 30]  # completion order, not start order
    assert len(events(host, iid, h.SUB_ORCHESTRATION_CREATED)) == 3
    assert len(events(host, iid, h.SUB_ORCHESTRATION_COMPLETED)) == 3
