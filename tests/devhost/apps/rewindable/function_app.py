"""Sample app for rewind: an activity that fails while its key is in BROKEN. Not ModelFerry's functions."""

import json
import os
import threading
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

BROKEN: set[str] = set()   # the test adds / removes keys ("fixing" the dependency before a rewind)
_lock = threading.Lock()


@app.activity_trigger(input_name="key")
def step(key: str) -> str:
    with _lock, Path(os.environ["RUN_LOG"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": key}) + "\n")
    if key in BROKEN:
        raise RuntimeError(f"{key} is broken")
    return f"{key}-ok"


@app.orchestration_trigger(context_name="context")
def two_steps(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("step", "a")
    second = yield context.call_activity("step", context.get_input())
    return [first, second]


@app.orchestration_trigger(context_name="context")
def parent_of_two(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("two_steps", context.get_input(), f"{context.instance_id}-child")
    after = yield context.call_activity("step", "after")
    return {"child": child, "after": after}


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=2)
    return (yield context.call_activity_with_retry("step", opts, context.get_input()))


@app.orchestration_trigger(context_name="context")
def waits(context: df.DurableOrchestrationContext):
    return (yield context.wait_for_external_event("go"))
