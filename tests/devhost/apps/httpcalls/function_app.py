"""Sample app for call_http (the extension's BuiltIn::HttpActivity). Not ModelFerry's functions."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def http_call(context: df.DurableOrchestrationContext):
    """One call_http from the input's method/uri/content/headers/resource; returns the DurableHttpResponse."""
    spec = context.get_input()
    token = df.ManagedIdentityTokenSource(spec["resource"]) if spec.get("resource") else None
    try:
        return (yield context.call_http(spec.get("method", "GET"), spec["uri"], spec.get("content"),
                                        spec.get("headers"), token, is_raw_str=spec.get("raw", False)))
    except Exception as exc:
        return {"failed": str(exc)}


@app.orchestration_trigger(context_name="context")
def http_poll(context: df.DurableOrchestrationContext):
    """What a Python app does in Azure with a 202: follow Location itself, on durable timers (Retry-After)."""
    response = yield context.call_http("POST", context.get_input())
    polls = 0
    while response["statusCode"] == 202:
        headers = {k.lower(): v for k, v in response["headers"].items()}
        wait = int(headers.get("retry-after", "30"))
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))
        response = yield context.call_http("GET", headers["location"])
        polls += 1
    return {"status": response["statusCode"], "content": response["content"], "polls": polls,
            "finished": context.current_utc_datetime.isoformat()}
