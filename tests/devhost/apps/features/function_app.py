"""Sample app for the devhost engine tests: every action type, retries, timers, events, entities, failures.

Not ModelFerry code: small deterministic functions whose behaviour the tests can predict exactly.
"""

import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

ATTEMPTS: dict[str, int] = {}          # flaky activity attempts per key (same process)
GATE = threading.Event()               # the gate activity blocks until a test sets it
GATE_ENTERED = threading.Event()
_lock = threading.Lock()


def _log_run(name: str, value) -> None:
    path = os.environ.get("RUN_LOG")
    if path:
        with _lock, Path(path).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"activity": name, "input": value}) + "\n")


# ------------------------------------------------------------------------------------------------ activities
@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    _log_run("double", value)
    return value * 2


@app.activity_trigger(input_name="name")
async def hello(name: str) -> str:
    _log_run("hello", name)
    return f"Hello {name}!"


@app.activity_trigger(input_name="key", activity="flaky_step")
def flaky(key: str) -> str:
    """Fails the first two attempts for a key, then succeeds (registered under a custom name)."""
    with _lock:
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        n = ATTEMPTS[key]
    if n < 3:
        raise RuntimeError(f"flaky failure {n}")
    return f"ok after {n}"


@app.activity_trigger(input_name="spec")
def flaky_n(spec: dict) -> str:
    """Fails the first ``spec["fail"]`` attempts for ``spec["key"]``."""
    with _lock:
        ATTEMPTS[spec["key"]] = ATTEMPTS.get(spec["key"], 0) + 1
        n = ATTEMPTS[spec["key"]]
    if n <= spec["fail"]:
        raise RuntimeError(f"attempt {n} of {spec['key']} fails")
    return f"ok after {n}"


@app.activity_trigger(input_name="value")
def always_fails(value: str) -> str:
    raise ValueError(f"cannot handle {value}")


@app.activity_trigger(input_name="value")
def gate(value: str, context: func.Context) -> str:
    """Blocks until the test opens GATE; returns the invocation's function name (context injection)."""
    GATE_ENTERED.set()
    GATE.wait(10)
    return f"{context.function_name}:{value}"


# ------------------------------------------------------------------------------------------------ orchestrators
@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    x = context.get_input()
    a = yield context.call_activity("double", x)
    b = yield context.call_activity(double, a)
    c = yield context.call_activity("hello", str(b))
    return {"a": a, "b": b, "c": c}


@app.orchestration_trigger(context_name="context")
def one_activity(context: df.DurableOrchestrationContext):
    """The benchmark's short orchestration: exactly one activity."""
    return (yield context.call_activity("double", context.get_input()))


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def retry_flaky(context: df.DurableOrchestrationContext):
    key = context.get_input()
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3)
    first = yield context.call_activity("double", 1)
    result = yield context.call_activity_with_retry("flaky_step", opts, key)
    last = yield context.call_activity("double", first)
    return [first, result, last]


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry("always_fails", opts, "x")
    except Exception as exc:  # the orchestrator sees the last failure after the final retry timer
        return str(exc)
    return "unexpected"


@app.orchestration_trigger(context_name="context")
def poll(context: df.DurableOrchestrationContext):
    """Polls every 30 s for 30 minutes, like a long copy."""
    n = 0
    while n < 60:
        n += 1
        context.set_custom_status({"polls": n})
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    return n


@app.orchestration_trigger(context_name="context")
def long_timer(context: df.DurableOrchestrationContext):
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(days=7))
    return (context.current_utc_datetime - start).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    timeout = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    event = context.wait_for_external_event("approve")
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"approved": event.result}
    return {"approved": None, "timedOut": True}


@app.orchestration_trigger(context_name="context")
def counter_can(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    yield context.call_activity("double", n)
    if n < 3:
        context.continue_as_new(n + 1)
        return None
    return n


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    auto = yield context.call_sub_orchestrator("chain", 1)
    named = yield context.call_sub_orchestrator("chain", 2, f"{context.instance_id}-child")
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=2)
    try:
        yield context.call_sub_orchestrator_with_retry("fails", opts, "boom")
        failed = None
    except Exception as exc:
        failed = str(exc)
    return {"auto": auto, "named": named, "failed": failed}


@app.orchestration_trigger(context_name="context")
def self_child(context: df.DurableOrchestrationContext):
    """Starts a sub-orchestration with its own instance id: the extension refuses that."""
    yield context.call_sub_orchestrator("chain", 1, context.instance_id)


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("double", 1)
    raise ValueError(f"bad thing: {context.get_input()}")


@app.orchestration_trigger(context_name="context")
def entity_user(context: df.DurableOrchestrationContext):
    counter = df.EntityId("counter", context.get_input())
    first = yield context.call_entity(counter, "add", 5)
    context.signal_entity(counter, "add", 1)
    total = yield context.call_entity(counter, "get")
    try:
        yield context.call_entity(counter, "explode")
        error = None
    except Exception as exc:
        error = str(exc)
    return {"first": first, "total": total, "error": error}


@app.orchestration_trigger(context_name="context")
def waits(context: df.DurableOrchestrationContext):
    """Chooses its first activity from an environment variable: changing it mid-flight is non-deterministic."""
    first = os.environ.get("DEVHOST_TEST_FIRST", "double")
    yield context.call_activity(first, 3 if first == "double" else "x")
    context.set_custom_status("waiting")
    go = yield context.wait_for_external_event("go")
    return go


@app.orchestration_trigger(context_name="context")
def unknown_activity(context: df.DurableOrchestrationContext):
    yield context.call_activity("no_such_activity", 1)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def gated(context: df.DurableOrchestrationContext):
    work = context.call_activity("gate", "in")
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=60))
    winner = yield context.task_any([work, timer])
    if winner == work:
        timer.cancel()
        return {"winner": "activity", "value": work.result, "now": context.current_utc_datetime.isoformat()}
    return {"winner": "timer"}


@app.orchestration_trigger(context_name="context")
def timed(context: df.DurableOrchestrationContext):
    """Calls the gate activity and reports how it failed (function timeout)."""
    try:
        return (yield context.call_activity("gate", "t"))
    except Exception as exc:
        return f"failed: {exc}"


@app.orchestration_trigger(context_name="context")
def http_get(context: df.DurableOrchestrationContext):
    response = yield context.call_http("GET", context.get_input())
    return {"status": response["statusCode"], "content": response["content"]}


@app.orchestration_trigger(context_name="context")
def long_history(context: df.DurableOrchestrationContext):
    """One activity per iteration: 4 history events per episode → n iterations ≈ 4n events."""
    n = context.get_input()
    total = 0
    for i in range(n):
        total += yield context.call_activity("double", i)
    return total


@app.orchestration_trigger(context_name="context")
def batched_history(context: df.DurableOrchestrationContext):
    """Batches of parallel activities: at least 2 + 2*width events per batch, in few episodes (benchmark)."""
    batches, width = context.get_input()
    total = 0
    for b in range(batches):
        results = yield context.task_all([context.call_activity("double", b * width + j) for j in range(width)])
        total += sum(results)
    return total


@app.orchestration_trigger(context_name="context")
def fail_fast(context: df.DurableOrchestrationContext):
    """The SDK's WhenAll throws at the first failure while the gate activity is still running."""
    try:
        yield context.task_all([context.call_activity("always_fails", "a"), context.call_activity("gate", "b")])
    except Exception:
        return "caught"
    return "no failure"


def _task(context: df.DurableOrchestrationContext, step: list):
    kind = step[0]
    if kind == "act":
        return context.call_activity("double", step[1])
    if kind == "retry":
        opts = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=step[3])
        return context.call_activity_with_retry("flaky_n", opts, {"key": step[1], "fail": step[2]})
    if kind == "timer":
        return context.create_timer(context.current_utc_datetime + timedelta(seconds=step[1]))
    raise ValueError(f"unknown task step {step!r}")


@app.orchestration_trigger(context_name="context")
def program(context: df.DurableOrchestrationContext):
    """Runs a list of steps mixing every task kind; the property test predicts the output."""
    out = []
    for step in context.get_input():
        kind = step[0]
        try:
            if kind in ("act", "retry"):
                out.append((yield _task(context, step)))
            elif kind == "timer":
                yield _task(context, step)
                out.append("timer")
            elif kind == "all":
                out.append((yield context.task_all([_task(context, s) for s in step[1]])))
            elif kind == "any":
                yield context.task_any([_task(context, s) for s in step[1]])
                out.append("any")
            elif kind == "sub":
                out.append((yield context.call_sub_orchestrator("chain", step[1])))
            elif kind == "entity":
                out.append((yield context.call_entity(df.EntityId("counter", step[1]), "add", step[2])))
            elif kind == "signal":
                context.signal_entity(df.EntityId("counter", step[1]), "add", step[2])
                out.append("signalled")
        except Exception:
            out.append("failed")
    return out


# ------------------------------------------------------------------------------------------------ entity
@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    op = context.operation_name
    if op == "add":
        value += context.get_input()
        context.set_result(value)
    elif op == "get":
        context.set_result(value)
    elif op == "reset":
        value = 0
    elif op == "explode":
        raise RuntimeError("counter exploded")
    elif op == "delete":
        context.destruct_on_exit()
        return
    context.set_state(value)


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    """Waits `seconds` on a durable timer, then returns them (a child of `sliding_window`)."""
    seconds = context.get_input()
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return seconds


@app.orchestration_trigger(context_name="context")
def sliding_window(context: df.DurableOrchestrationContext):
    """Starts every child at once, then waits again and again on the ones still running (no new action)."""
    running = [context.call_sub_orchestrator("sleeper", s) for s in context.get_input()]
    finished = []
    while running:
        done = yield context.task_any(running)
        running.remove(done)
        finished.append(done.result)
    return finished
