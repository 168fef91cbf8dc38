"""Sample app for devhost Durable HTTP API tests: an HTTP starter using the SDK client, a few orchestrators,
an activity and an entity. Not ModelFerry's functions."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="client/{op}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.durable_client_input(client_name="client")
async def client_ops(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Drives the SDK client's other calls so tests can check them against the devhost."""
    args = req.get_json()
    op = req.route_params["op"]
    if op == "status":
        status = await client.get_status(args["id"], show_history=args.get("history", False),
                                         show_history_output=args.get("history_output", False),
                                         show_input=args.get("input", False))
        result = {"found": bool(status), "json": status.to_json() if status else None,
                  "history_len": len(getattr(status, "historyEvents", None) or [])}
    elif op == "raise":
        await client.raise_event(args["id"], args["name"], args.get("data"))
        result = {"ok": True}
    elif op == "terminate":
        await client.terminate(args["id"], args.get("reason", "because"))
        result = {"ok": True}
    elif op == "suspend":
        await client.suspend(args["id"], "pause")
        result = {"ok": True}
    elif op == "resume":
        await client.resume(args["id"], "go on")
        result = {"ok": True}
    elif op == "restart":
        result = {"restarted": await client.restart(args["id"], args.get("new_id", True))}
    elif op == "purge":
        result = {"deleted": (await client.purge_instance_history(args["id"])).instances_deleted}
    elif op == "list":
        statuses = [df.OrchestrationRuntimeStatus(s) for s in args.get("statuses", [])] or None
        found = await client.get_status_by(runtime_status=statuses, instance_id_prefix=args.get("prefix"))
        result = {"ids": sorted(s.instance_id for s in found)}
    elif op == "signal":
        await client.signal_entity(df.EntityId("counter", args["key"]), "add", args["amount"])
        result = {"ok": True}
    elif op == "read":
        state = await client.read_entity_state(df.EntityId("counter", args["key"]))
        result = {"exists": state.entity_exists, "state": state.entity_state}
    elif op == "rewind":
        try:
            await client.rewind(args["id"], args.get("reason", "again"))
            result = {"ok": True}
        except Exception as exc:  # the SDK raises with the extension's message for 404 / 410
            result = {"error": str(exc)}
    elif op == "wait":
        instance_id = await client.start_new("hello", None, args.get("input"))
        return await client.wait_for_completion_or_create_check_status_response(req, instance_id, 10000, 50)
    else:
        return func.HttpResponse(f"unknown op {op}", status_code=400)
    return func.HttpResponse(json.dumps(result), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def hello(context: df.DurableOrchestrationContext):
    name = context.get_input()
    greeting = yield context.call_activity("greet", name)
    return greeting


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    value = yield context.wait_for_external_event("go")
    return {"got": value, "input": context.get_input()}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("greet", "x")
    raise ValueError("orchestrator gave up")


@app.activity_trigger(input_name="name")
def greet(name) -> str:
    return f"Hello {name}!"


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name == "delete":
        context.destruct_on_exit()
        return
    context.set_state(value)


@app.event_grid_trigger(arg_name="event")
@app.durable_client_input(client_name="client")
async def on_model_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    """Event Grid starter: one orchestration per event, the event id as instance id (idempotent re-delivery)."""
    await client.start_new("hello", f"eg-{event.id}", event.get_json()["name"])


@app.timer_trigger(schedule="0 0 0 29 2 *", arg_name="timer")  # leap days only: other tests move the clock
@app.durable_client_input(client_name="client")
async def on_leap_days(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("hello", None, "timer")
