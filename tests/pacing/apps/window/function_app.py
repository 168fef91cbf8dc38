"""A sliding window of sub-orchestrations, naive and with `ferry.orchestration.fanout.schedule_now`."""

from datetime import timedelta

import azure.durable_functions as df

from ferry.orchestration.fanout import schedule_now

app = df.DFApp()
WINDOW = 3


def _window(context, fixed: bool):
    pending = list(context.get_input())
    running, finished = [], []
    while pending or running:
        new = []
        while pending and len(running) < WINDOW:
            task = context.call_sub_orchestrator("sleeper", pending.pop(0),
                                                 f"{context.instance_id}:{len(finished) + len(running)}")
            running.append(task)
            new.append(task)
        if fixed:
            yield from schedule_now(context, new, running)
        done = yield context.task_any(running)
        running.remove(done)
        finished.append(context.current_utc_datetime.isoformat())
    return finished


@app.orchestration_trigger(context_name="context")
def naive_window(context: df.DurableOrchestrationContext):
    return (yield from _window(context, fixed=False))


@app.orchestration_trigger(context_name="context")
def fixed_window(context: df.DurableOrchestrationContext):
    return (yield from _window(context, fixed=True))


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=context.get_input()))
    return context.get_input()
