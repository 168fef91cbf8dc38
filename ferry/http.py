"""The one HTTP edge of ModelFerry towards Document Intelligence: a pooled `requests.Session` and `call()`.

Why one module: every service call must get the same treatment — connection pooling (one Session per process,
safe to share between the activity threads), connect/read timeouts, urllib3 retries only where a retry cannot
duplicate work (GET and DELETE, on connection errors and 502/503/504, small backoff, short Retry-After only),
`User-Agent: modelferry/<version>`, a fresh `x-ms-client-request-id`, one retry after a 401 when the key
provider says the key changed (rotation), one INFO log line per call and a WARNING per failure, and every
failure turned into a `FerryError` by `ferry.errors.classify`. Keys and tokens only ever travel in request
headers, which are never logged or put into errors.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from ferry import __version__
from ferry.errors import FerryError, classify

log = logging.getLogger("modelferry.http")

USER_AGENT = f"modelferry/{__version__}"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
RETRY_METHODS = frozenset({"GET", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_INLINE_RETRY_AFTER = 2.0
BROKEN_READ_RETRIES = 2  # GET/DELETE whose response body broke off (urllib3 has already returned by then)
"""A Retry-After longer than this is not slept inside the activity: the response is returned and classified
("throttled"/"transient" with retry_after) so the orchestration can wait on a durable timer instead."""


class Authenticator(Protocol):
    """What a resource's credential provider offers (implemented by ferry.auth)."""

    def headers(self) -> dict[str, str]:
        """Headers that authenticate one request (Ocp-Apim-Subscription-Key or Authorization: Bearer)."""
        ...

    def on_unauthorized(self) -> bool:
        """Called after a 401: refresh the credential; True if it changed (then the call is retried once)."""
        ...


class _SafeRetry(Retry):
    """urllib3 Retry that never retries a non-idempotent method and never sleeps a long Retry-After.

    429 is not retried here at all: throttling is the orchestration's to wait out (durable timer, Retry-After),
    so an activity never blocks on it and the wait shows in the orchestration's history.
    """

    RETRY_AFTER_STATUS_CODES = frozenset({503})

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> Retry:
        if (method or "").upper() not in RETRY_METHODS:
            # Exactly what requests does without retries (Retry(0, read=False)): POSTs are never re-sent.
            return Retry(0, read=False).increment(method, url, response, error, _pool, _stacktrace)
        if response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > MAX_INLINE_RETRY_AFTER:
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {retry_after:g}s is left to the caller"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


RETRY_BACKOFF_FACTOR = 0.2  # sleeps 0, 0.4, 0.8 s between the retries of one GET/DELETE


def make_retry() -> Retry:
    return _SafeRetry(total=3, connect=3, read=2, status=3, other=0, redirect=0, backoff_factor=RETRY_BACKOFF_FACTOR,
                      backoff_max=2.0, status_forcelist=RETRY_STATUSES, allowed_methods=RETRY_METHODS,
                      respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False)


_session: requests.Session | None = None
_session_lock = threading.Lock()


def new_session() -> requests.Session:
    """A Session with ModelFerry's pool, retries and headers (cookies disabled: nothing shared to mutate)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=make_retry())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.trust_env = False  # no proxy/netrc surprises: endpoints come only from FERRY_RESOURCES
    return session


def session() -> requests.Session:
    """The process-wide pooled Session (created on first use)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                _session = new_session()
    return _session


def reset_session() -> None:
    """Close and forget the process-wide Session (tests; after a fork)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
        _session = None


def _loggable(url: str) -> str:
    """Path plus api-version only: nothing else of the query is ever logged."""
    parts = urlsplit(url)
    version = ""
    for pair in parts.query.split("&"):
        if pair.startswith("api-version="):
            version = f"?{pair}"
    return f"{parts.path}{version}"


def call(method: str, url: str, *, auth: Authenticator, operation: str, api_version: str, resource: str,
         expected: Iterable[int] = (200,), json_body: Any = None, data: bytes | str | None = None,
         headers: Mapping[str, str] | None = None, timeout: tuple[float, float] | None = None,
         http: requests.Session | None = None) -> requests.Response:
    """Send one request to a Document Intelligence resource and return the response if its status is expected.

    Raises FerryError (chained from the transport exception, if any) otherwise. After a 401 the call is
    repeated once if `auth.on_unauthorized()` reports a changed credential (a 401 comes from the gateway, so
    even a POST was not processed).
    """
    expected = frozenset(expected)
    http = http or session()
    timeout = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
    ctx = {"api_version": api_version, "operation": operation, "resource": resource}
    where = _loggable(url)
    refreshed = False
    broken_reads = 0
    while True:
        request_headers = {"x-ms-client-request-id": str(uuid.uuid4()), "Accept": "application/json"}
        if headers:
            request_headers.update(headers)
        if json_body is not None or data is not None:
            request_headers.setdefault("Content-Type", "application/json")
        request_headers.update(auth.headers())
        started = time.monotonic()
        try:
            response = http.request(method, url, headers=request_headers, json=json_body, data=data,
                                    timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            elapsed = (time.monotonic() - started) * 1000
            if (isinstance(exc, requests.exceptions.ChunkedEncodingError) and method.upper() in RETRY_METHODS
                    and broken_reads < BROKEN_READ_RETRIES):
                # The answer broke off mid-body (after urllib3's retries could act): safe to ask again.
                broken_reads += 1
                log.warning("%s %s %s on %s: response broke off after %.0f ms; retrying", operation, method,
                            where, resource, elapsed)
                time.sleep(0.1 * broken_reads)
                continue
            error = classify(status=None, exc=exc, **ctx)
            log.warning("%s %s %s on %s failed after %.0f ms: %s", operation, method, where, resource, elapsed,
                        error.code)
            raise error from exc
        elapsed = (time.monotonic() - started) * 1000
        request_id = response.headers.get("apim-request-id", "-")
        log.info("%s %s %s on %s -> %s in %.0f ms (apim-request-id %s)", operation, method, where, resource,
                 response.status_code, elapsed, request_id)
        if response.status_code in expected:
            return response
        if response.status_code == 401 and not refreshed:
            refreshed = True
            if auth.on_unauthorized():
                log.warning("%s on %s: 401, credential refreshed, retrying once", operation, resource)
                continue
        error = classify(status=response.status_code, headers=response.headers, body=response.content, **ctx)
        log.warning("%s %s %s on %s failed: HTTP %s %s (%s, apim-request-id %s)", operation, method, where,
                    resource, response.status_code, error.code, error.kind, request_id)
        raise error


def response_json(response: requests.Response, *, operation: str, api_version: str, resource: str) -> Any:
    """The JSON body of a success response, or a terminal FerryError if the service sent something else."""
    try:
        return response.json()
    except ValueError as exc:
        raise FerryError(kind="terminal", code="InvalidResponse",
                         message=f"HTTP {response.status_code} response is not JSON",
                         hint="The endpoint answered with something other than the Document Intelligence API: "
                              "check the endpoint in FERRY_RESOURCES.", status=response.status_code,
                         operation=operation, api_version=api_version, resource=resource,
                         request_id=response.headers.get("apim-request-id")) from exc
