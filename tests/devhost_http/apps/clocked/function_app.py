"""Sample app for the virtual clock: a timer trigger every 5 minutes next to an orchestrator with durable timers.
Not ModelFerry's functions."""

import json
import os
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _record(kind: str, payload: dict) -> None:
    with open(os.environ["SAMPLE_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"kind": kind, **payload}) + "\n")


@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
def every_five_minutes(timer: func.TimerRequest) -> None:
    _record("timer", {"past_due": timer.past_due, "at": timer.schedule_status.get("LastUpdated"),
                      "next": timer.schedule_status.get("Next")})


@app.orchestration_trigger(context_name="context")
def napper(context: df.DurableOrchestrationContext):
    """Sleeps on durable timers for the seconds in its input; returns the (replay-safe) times it woke up."""
    woke = []
    for seconds in context.get_input():
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
        woke.append(context.current_utc_datetime.isoformat())
    return woke
