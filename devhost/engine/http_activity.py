"""The extension's built-in HTTP activity (``BuiltIn::HttpActivity``) behind ``context.call_http``.

Checked against the extension's ``TaskHttpActivityShim``, ``DurableHttpRequest``/``DurableHttpResponse``,
``HttpHeadersConverter`` and ``ManagedIdentityTokenSource``:

* Request (``CallHttpAction.httpRequest`` as SDK 1.7 writes it): ``method``, ``uri``, ``content`` (text or
  absent), ``headers`` (name -> string or list), ``tokenSource`` ``{"resource", "kind": "AzureManagedIdentity"}``.
  A ``Content-Type`` header only types the content (default ``text/plain``; multipart refused); without content it
  is not sent. Timeout 240 s (the extension's HttpClient).
* Response: ``{"statusCode": int, "headers": {...}, "content": str}``; ``headers`` are the response headers of
  .NET's ``HttpResponseMessage.Headers``, i.e. *without* content headers (Content-Type, Content-Length, ...); a
  header with several values is a JSON array, one value a string.
* 202 polling: the extension polls (durable timer + another HTTP activity, in the orchestration) only when the
  request says ``asynchronousPatternEnabled: true``. SDK 1.7 never writes that field and Newtonsoft passes
  ``false`` for a constructor parameter missing from the JSON (it ignores C# default values), so in Azure a Python
  orchestrator gets the 202 itself, with its ``Location``/``Retry-After`` headers. The devhost does the same. A
  request that does carry ``true`` (not producible through SDK 1.7's ``call_http``) is refused, because the
  extension's polling would take sequence ids the SDK does not know about (azure-functions-durable-python#380).
* ``tokenSource``: the extension asks ``DefaultAzureCredential`` for a token (scope = resource; the management and
  Graph resources get ``/.default``) and sends ``Authorization: Bearer``. The devhost supports the App Service
  managed-identity flow only (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER`` app settings, through azure-identity's
  ``ManagedIdentityCredential``, so a loopback identity endpoint works); otherwise the activity fails saying so.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

TIMEOUT_SECONDS = 240.0  # DurableHttpClientFactory: HttpClient.Timeout
# .NET keeps these on HttpContent.Headers, not HttpResponseMessage.Headers, so DurableHttpResponse lacks them.
CONTENT_HEADERS = frozenset(h.lower() for h in (
    "Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
    "Content-MD5", "Content-Range", "Content-Type", "Expires", "Last-Modified"))
_DEFAULT_SCOPES = {"https://management.core.windows.net": "https://management.core.windows.net/.default",
                   "https://graph.microsoft.com": "https://graph.microsoft.com/.default"}


class HttpActivityError(Exception):
    """A call_http request the extension (or the devhost) cannot run; the message says what to change."""


def run_http_activity(request_json: str | None) -> str:
    """Run one ``call_http`` request as the extension's HTTP activity; returns the DurableHttpResponse JSON."""
    try:
        req = json.loads(request_json or "null")
    except ValueError as exc:
        raise HttpActivityError(f"call_http request is not valid JSON: {exc}") from exc
    if not isinstance(req, dict):
        raise HttpActivityError(f"call_http request must be a JSON object, got {type(req).__name__}")
    if req.get("asynchronousPatternEnabled") is True:
        raise HttpActivityError(
            "call_http with asynchronousPatternEnabled=true is not supported: the extension would poll with a durable "
            "timer and further HTTP activities whose sequence ids azure-functions-durable 1.7 does not allocate "
            "(azure-functions-durable-python#380). Poll the 202's Location yourself with create_timer + call_http.")
    method = str(req.get("method") or "GET").upper()
    uri = req.get("uri") or ""
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise HttpActivityError(f"call_http needs an absolute http(s) URI, got {uri!r}")
    headers, content_type = _request_headers(req.get("headers"))
    content = req.get("content")
    data: bytes | None = None
    if content is not None:
        data = str(content).encode("utf-8")
        content_type = content_type or "text/plain"
        if content_type.lower() == "application/x-www-form-urlencoded":
            content_type += "; charset=utf-8"
        headers["Content-Type"] = content_type
    token_source = req.get("tokenSource")
    if token_source:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {managed_identity_token(token_source)}"
    r = urllib.request.Request(uri, data=data, method=method, headers=headers)  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(r, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
            status, body, raw = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, body, raw = err.code, err.read(), err.headers
    return json.dumps({"statusCode": status, "headers": response_headers(raw),
                       "content": body.decode(_charset(raw), "replace")})


def _request_headers(raw: Any) -> tuple[dict[str, str], str]:
    """(headers to send, several values joined by ", " as .NET sends them; the Content-Type, kept apart)."""
    if raw is None:
        return {}, ""
    if not isinstance(raw, dict):
        raise HttpActivityError(f"call_http headers must be an object of name -> value(s), got {raw!r}")
    out: dict[str, str] = {}
    content_type = ""
    for name, value in raw.items():
        values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        if name.lower() == "content-type":
            for v in values:
                if "multipart" in v:
                    raise HttpActivityError("Multipart content is not supported with CallHttpAsync.")
                content_type = v
            continue
        out[name] = ", ".join(values)
    return out, content_type


def response_headers(raw: Message) -> dict[str, Any]:
    """DurableHttpResponse.headers: response (not content) headers; one value a string, several an array."""
    grouped: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for name, value in raw.items():
        key = name.lower()
        if key in CONTENT_HEADERS:
            continue
        names.setdefault(key, name)
        grouped.setdefault(key, []).append(value)
    return {names[k]: (v[0] if len(v) == 1 else v) for k, v in grouped.items()}


def _charset(raw: Message) -> str:
    charset = raw.get_content_charset() if hasattr(raw, "get_content_charset") else None
    try:
        "".encode(charset or "utf-8")
    except LookupError:
        return "utf-8"
    return charset or "utf-8"


def managed_identity_token(token_source: Any) -> str:
    """A bearer token for ``tokenSource`` from the App Service managed-identity endpoint (never logged)."""
    if not isinstance(token_source, dict) or token_source.get("kind") != "AzureManagedIdentity" \
            or not token_source.get("resource"):
        raise HttpActivityError(
            f"call_http tokenSource must be {{'resource': ..., 'kind': 'AzureManagedIdentity'}} "
            f"(df.ManagedIdentityTokenSource), got {token_source!r}")
    if not os.environ.get("IDENTITY_ENDPOINT") or not os.environ.get("IDENTITY_HEADER"):
        raise HttpActivityError(
            "call_http with a managed-identity tokenSource needs the app settings IDENTITY_ENDPOINT and "
            "IDENTITY_HEADER (the App Service managed-identity endpoint; locally, a loopback identity endpoint). "
            "The devhost does not fall back to other DefaultAzureCredential sources (Azure CLI, IMDS, ...).")
    resource = str(token_source["resource"])
    scope = _DEFAULT_SCOPES.get(resource.rstrip("/"), resource)
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ManagedIdentityCredential

    # AZURE_CLIENT_ID selects a user-assigned identity, as DefaultAzureCredential does
    credential = ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)
    try:
        return credential.get_token(scope).token
    except ClientAuthenticationError as exc:
        raise HttpActivityError(f"managed identity token for {resource!r} failed: {exc.message}") from None
    finally:
        credential.close()
