"""App for the CLI test: an HTTP starter, an orchestrator with a durable timer, an activity, a timer trigger."""

import json
import os
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="jobs", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("job", None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def job(context: df.DurableOrchestrationContext):
    params = context.get_input()
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=30))
    result = yield context.call_activity("work", params)
    return {"result": result, "setting": os.environ.get("CLI_SAMPLE_SETTING")}


@app.activity_trigger(input_name="params")
def work(params: dict) -> str:
    return f"done {params['n']}"


@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer", run_on_startup=True)
def hourly(timer: func.TimerRequest) -> None:
    marker = Path(os.environ["CLI_SAMPLE_MARKER"])  # written atomically: the test reads it from another process
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"past_due": timer.past_due}))
    os.replace(tmp, marker)
