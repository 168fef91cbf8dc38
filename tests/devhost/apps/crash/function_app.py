"""Sample app for the SIGKILL test: each activity run appends start/end lines to RUN_LOG."""

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _log(event: str, step: str) -> None:
    with Path(os.environ["RUN_LOG"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": event, "step": step, "pid": os.getpid()}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@app.activity_trigger(input_name="step")
def step(step: str) -> str:
    _log("start", step)
    if step == "slow":
        time.sleep(float(os.environ.get("CRASH_SLOW_SECONDS", "0")))
    _log("end", step)
    return f"{step}-done"


@app.orchestration_trigger(context_name="context")
def crashy(context: df.DurableOrchestrationContext):
    pause = context.get_input()
    one = yield context.call_activity("step", "one")
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=pause))
    slow = yield context.call_activity("step", "slow")
    three = yield context.call_activity("step", "three")
    return [one, slow, three]
