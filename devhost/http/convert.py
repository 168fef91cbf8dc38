"""aiohttp request ⇄ `func.HttpRequest` / `func.HttpResponse`, the way the host and worker convert them.

The worker hands the function the full request URL, the headers, the query (repeated keys joined with
','), the route parameters and the raw body bytes (the Python worker asks the host for raw bytes).
A function's `$return` may be an `HttpResponse` or a `str` (200, text/plain); `None` gives 204; anything
else fails the invocation as the worker's HttpResponseConverter does.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions.http import HttpRequest, HttpResponseConverter

__all__ = ["ResponseTypeError", "to_func_request", "to_web_response"]


class ResponseTypeError(TypeError):
    """The function returned something an http output binding cannot carry."""


def to_func_request(request: web.Request, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    """Build the `func.HttpRequest` the worker would pass for this aiohttp request."""
    query: dict[str, str] = {}
    for key in request.query:
        if key not in query:
            query[key] = ",".join(request.query.getall(key))
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        params=query,
        route_params=dict(route_params),
        body_type="bytes",
        body=body,
    )


def to_web_response(result: Any) -> web.Response:
    """Turn a function's `$return` into the HTTP response the host sends."""
    if result is None:
        return web.Response(status=204)
    if not isinstance(result, str | func.HttpResponse):
        raise ResponseTypeError(
            f"an http output binding needs func.HttpResponse or str, the function returned {type(result).__name__}"
        )
    datum = HttpResponseConverter.encode(result, expected_type=None)
    if datum.type == "string":
        return web.Response(status=200, body=datum.value.encode("utf-8"),
                            headers={"Content-Type": "text/plain; charset=utf-8"})
    value = datum.value
    response = web.Response(status=int(value["status_code"].value), body=value["body"].value or b"")
    for name, header in value["headers"].items():
        response.headers[name] = header.value
    for cookie in value.get("cookies") or []:
        for morsel in cookie.values():
            response.headers.add("Set-Cookie", morsel.OutputString())
    return response
