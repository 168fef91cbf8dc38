"""Sample app for devhost HTTP tests: HTTP triggers with routes, auth levels, return types; Event Grid; timer."""

import json
import os
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

LOG = Path(os.environ.get("SAMPLE_LOG", "/dev/null"))


def _record(kind: str, payload: dict) -> None:
    with LOG.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"kind": kind, **payload}) + "\n")


@app.route(route="echo/{name:alpha}/{count:int?}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body().decode() if req.get_body() else ""
    return func.HttpResponse(
        json.dumps({
            "method": req.method, "url": req.url, "route": dict(req.route_params),
            "params": dict(req.params), "body": body, "header": req.headers.get("x-sample"),
        }),
        status_code=200, mimetype="application/json", headers={"x-handled-by": "echo"},
    )


@app.route(route="items/new", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def new_item(req: func.HttpRequest) -> str:
    return "literal route wins"


@app.route(route="items/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_item(req: func.HttpRequest) -> str:
    return f"item {req.route_params['id']}"


@app.route(route="files/{*path}", auth_level=func.AuthLevel.ANONYMOUS)
async def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params["path"], status_code=201)


@app.route(route="secret", auth_level=func.AuthLevel.FUNCTION)
def secret(req: func.HttpRequest) -> str:
    return "function level ok"


@app.route(route="adminonly", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin level ok"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> str:
    raise RuntimeError("sample failure")


@app.route(route="nothing", auth_level=func.AuthLevel.ANONYMOUS)
def nothing(req: func.HttpRequest) -> None:
    return None


@app.route(route="wrongtype", auth_level=func.AuthLevel.ANONYMOUS)
def wrong_type(req: func.HttpRequest):
    return {"not": "a response"}


@app.route(route="ctx", auth_level=func.AuthLevel.ANONYMOUS)
def with_context(req: func.HttpRequest, context: func.Context) -> str:
    return f"{context.function_name}:{len(context.invocation_id)}"


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    payload = event.get_json()
    if isinstance(payload, dict) and payload.get("fail"):
        raise ValueError("event asked to fail")
    _record("eventgrid", {"id": event.id, "type": event.event_type if hasattr(event, "event_type") else None,
                          "cls": type(event).__name__, "data": payload, "subject": event.subject})


@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
def every_five_minutes(timer: func.TimerRequest) -> None:
    _record("timer", {"past_due": timer.past_due, "next": timer.schedule_status.get("Next")})


@app.route(route="slow", auth_level=func.AuthLevel.ANONYMOUS)
async def slow(req: func.HttpRequest) -> str:
    import asyncio

    await asyncio.sleep(float(req.params.get("s", "1")))
    return "finished"
