"""The extension's built-in HTTP activity (``BuiltIn::HttpActivity``) behind ``context.call_http``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def run_http_activity(request_json: str | None) -> str:
    """The extension's built-in HTTP activity for ``call_http`` (one request; no 202 polling, no token source)."""
    req = json.loads(request_json or "{}")
    method = (req.get("method") or "GET").upper()
    uri = req.get("uri") or ""
    if not uri.startswith(("http://", "https://")):
        raise ValueError(f"call_http needs an absolute http(s) URI, got {uri!r}")
    if req.get("tokenSource"):
        raise ValueError("call_http with a managed-identity token source is not supported by the devhost")
    headers = {k: (v[0] if isinstance(v, list) else v) for k, v in (req.get("headers") or {}).items()}
    content = req.get("content")
    data = content.encode() if isinstance(content, str) else None
    r = urllib.request.Request(uri, data=data, method=method, headers=headers)  # noqa: S310 - URI checked above
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:  # noqa: S310
            status, body, rh = resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as err:
        status, body, rh = err.code, err.read(), dict(err.headers.items())
    return json.dumps({"statusCode": status, "headers": rh, "content": body.decode("utf-8", "replace")})
