"""What both API generations' clients share: the result types and the client interface.

Why a common interface: `ferry.steps` (and so the orchestration) must not care whether a resource speaks v2
(`/formrecognizer/v2.x/custom/models`) or v3+ (`documentModels:authorizeCopy` / `:copyTo` / `operations`).
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from ferry import http as ferry_http
from ferry import pacer as ferry_pacer
from ferry.errors import FerryError
from ferry.kinds import MODEL_KIND, Kind
from ferry.settings import Resource

COPY_STATUSES = ("notStarted", "running", "succeeded", "failed")
LIST_PAGE_ATTEMPTS = 4
MAX_LIST_WAIT = 10.0
"""A throttled list page is read again inside the activity (waiting its Retry-After, at most MAX_LIST_WAIT s),
so one 429 in the middle of a 5,000-model inventory does not start the whole listing over."""
_sleep = time.sleep  # replaced in tests


@dataclass(frozen=True, repr=False)
class CopyAuthorization:
    """A copy authorization issued by a target resource.

    `raw` is the service's response body, byte for byte: it is sent back unmodified (any change makes the copy
    fail with "missing or invalid authorization claims"). It contains the access token, so this object never
    leaves `ferry.steps.authorize_and_start_copy`; its repr shows no token.
    """

    raw: bytes
    payload: dict[str, Any]
    target_model_id: str
    expires_at: str | None

    def __repr__(self) -> str:
        return f"CopyAuthorization(target_model_id={self.target_model_id!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class CopyStatus:
    """One poll of a copy operation, mapped to notStarted | running | succeeded | failed."""

    status: str
    target_model_id: str | None = None
    error: FerryError | None = None
    retry_after: float | None = None
    service_status: str | None = None  # the status word the service used (e.g. "canceled")
    result: dict[str, Any] | None = field(default=None, repr=False)  # v3+: the copied model's details

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")


def iso_utc(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_v2_expiry(value: Any) -> str | None:
    """expirationDateTimeTicks: Unix seconds in GA, .NET ticks in the v2.0 preview (recorded)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if value > 10**15:  # .NET ticks: 100 ns since 0001-01-01
        return iso_utc((value - 621355968000000000) / 10**7)
    return iso_utc(value)


def int_or_none(value: Any) -> int | None:
    """A count/limit from a service body: an int, or None when absent or not a number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class DocIntelClient(ABC):
    """A REST client for one resource at its configured API version. Immutable; cheap to create per call."""

    generation = ""
    id_pattern: re.Pattern[str]

    def __init__(self, resource: Resource, auth: ferry_http.Authenticator, *,
                 http: requests.Session | None = None, timeout: tuple[float, float] | None = None):
        self.resource = resource
        self.auth = auth
        self._http = http
        self._timeout = timeout

    @property
    def api_version(self) -> str:
        return self.resource.api_version

    def _call(self, method: str, url: str, *, operation: str, expected: tuple[int, ...] = (200,),
              **kwargs: Any) -> requests.Response:
        return ferry_http.call(method, url, auth=self.auth, operation=operation, api_version=self.api_version,
                               resource=self.resource.alias, expected=expected, http=self._http,
                               timeout=self._timeout, **kwargs)

    def _json(self, response: requests.Response, operation: str) -> Any:
        return ferry_http.response_json(response, operation=operation, api_version=self.api_version,
                                        resource=self.resource.alias)

    def _error(self, code: str, message: str, hint: str, operation: str, *, kind: str = "terminal",
               status: int | None = None) -> FerryError:
        return FerryError(kind=kind, code=code, message=message, hint=hint, status=status, operation=operation,
                          api_version=self.api_version, resource=self.resource.alias)

    def check_operation_url(self, url: str, pattern: re.Pattern[str]) -> str:
        """Refuse to send this resource's credential anywhere but this resource's own copy-operation URLs."""
        try:
            parts, mine = urlsplit(url), urlsplit(self.resource.endpoint)
            same_origin = (parts.scheme == mine.scheme and (parts.hostname or "") == (mine.hostname or "")
                           and parts.port == mine.port)
        except (ValueError, TypeError, AttributeError):
            same_origin, parts = False, None
        if not same_origin or parts is None or not pattern.match(parts.path):
            raise self._error("InvalidOperationUrl",
                              f"{str(url)[:200]!r} is not a copy operation URL of resource "
                              f"{self.resource.alias!r} ({self.resource.endpoint})",
                              "Pass the operationUrl returned by authorize_and_start_copy for this source.",
                              "poll_copy")
        return url

    def _read_copy_operation(self, operation_url: str,
                             pattern: re.Pattern[str]) -> tuple[requests.Response, dict[str, Any], str]:
        """GET a copy operation (only on this source's own operation path): (response, body, status word)."""
        response = self._call("GET", self.check_operation_url(operation_url, pattern), operation="poll_copy")
        body = self._json(response, "poll_copy")
        body = body if isinstance(body, dict) else {}
        return response, body, str(body.get("status") or "")

    # -- interface ------------------------------------------------------------------------------------------
    @abstractmethod
    def _model_url(self, model_id: str, kind: Kind | None = None) -> str:
        """The URL of the model (or artifact of `kind`) on this resource (with the api-version query where the
        generation has one)."""

    def _model_read_url(self, model_id: str, kind: Kind | None = None) -> str:
        return self._model_url(model_id, kind)

    def only_models(self, kind: Kind | None, operation: str) -> None:
        """Refuse an artifact kind this generation cannot copy (v2 has models only)."""
        if kind is not None and kind.name != MODEL_KIND:
            raise self._error("KindNotSupported", f"API version {self.api_version} cannot copy a {kind.name}",
                              f"Copy {kind.name}s between resources at apiVersion "
                              f"{' or '.join(kind.api_versions or ())}.", operation)

    def get_model(self, model_id: str, *, kind: Kind | None = None) -> dict[str, Any] | None:
        """The details of the model (or artifact of `kind`), or None if the resource has no such id."""
        op = "get_model"
        try:
            response = self._call("GET", self._model_read_url(model_id, kind), operation=op)
        except FerryError as exc:
            if exc.kind == "not_found":
                return None
            raise
        return self._json(response, op)

    def delete_model(self, model_id: str, *, kind: Kind | None = None) -> bool:
        """Delete the model (or artifact of `kind`); False if it did not exist."""
        try:
            self._call("DELETE", self._model_url(model_id, kind), operation="delete_model",
                       expected=(200, 202, 204))
        except FerryError as exc:
            if exc.kind == "not_found":
                return False
            raise
        return True

    def next_page_url(self, url: Any, operation: str) -> str | None:
        """A list's `nextLink`, only if it points at this resource (the credential goes nowhere else); None at
        the end of the list (absent or empty)."""
        if not url:
            return None
        try:
            parts, mine = urlsplit(str(url)), urlsplit(self.resource.endpoint)
            same_origin = (parts.scheme == mine.scheme and (parts.hostname or "") == (mine.hostname or "")
                           and parts.port == mine.port)
        except (ValueError, TypeError, AttributeError):
            same_origin = False
        if not same_origin:
            raise self._error("InvalidNextLink", f"the list's nextLink {str(url)[:200]!r} is not on resource "
                              f"{self.resource.alias!r} ({self.resource.endpoint})",
                              "Check the resource's endpoint in FERRY_RESOURCES (a gateway may rewrite links).",
                              operation)
        return str(url)

    def _list_page(self, url: str, operation: str) -> dict[str, Any]:
        """One page of a list, spaced at the resource's list rate (`ferry.pacer`), waited out and read again while
        throttled (bounded)."""
        for attempt in range(1, LIST_PAGE_ATTEMPTS + 1):
            try:
                # pages go at the list rate (the module's pacer, looked up per call: tests may swap its clock)
                with ferry_pacer.LIST_PACER.call(self.resource.alias, self.resource.rate("list")):
                    response = self._call("GET", url, operation=operation)
                body = self._json(response, operation)
                return body if isinstance(body, dict) else {}
            except FerryError as exc:
                if exc.kind != "throttled" or attempt == LIST_PAGE_ATTEMPTS:
                    raise
                _sleep(min(exc.retry_after if exc.retry_after is not None else 1.0, MAX_LIST_WAIT))
        raise AssertionError("unreachable")

    def _list_items(self, url: str, operation: str, field: str) -> Iterator[dict[str, Any]]:
        """Every object in `field` of a list, page after page (`nextLink` followed while it stays on this
        resource)."""
        next_url: str | None = url
        while next_url:
            body = self._list_page(next_url, operation)
            for item in body.get(field) or []:
                if isinstance(item, dict):
                    yield item
            next_url = self.next_page_url(body.get("nextLink"), operation)

    def _count_and_limit(self, url: str, field: str) -> dict[str, int | None]:
        """{"count", "limit"} from the object `field` of a GET (the v2 list summary, the v3+ info)."""
        op = "get_info"
        body = self._json(self._call("GET", url, operation=op), op)
        counts = body.get(field) if isinstance(body, dict) else None
        counts = counts if isinstance(counts, dict) else {}
        return {"count": int_or_none(counts.get("count")), "limit": int_or_none(counts.get("limit"))}

    @abstractmethod
    def list_models(self, kind: Kind | None = None) -> Iterator[dict[str, Any]]:
        """Every custom model (or artifact of `kind`) of the resource (all pages, `nextLink` followed), as the
        list returns them."""

    @abstractmethod
    def get_info(self) -> dict[str, int | None]:
        """{"count", "limit"}: how many custom models the resource holds and may hold (info / list summary)."""

    @abstractmethod
    def model_status(self, model: dict[str, Any]) -> str:
        """"creating" | "ready" | "invalid" (v3+ models exist only once ready)."""

    @abstractmethod
    def fingerprint(self, model: dict[str, Any], kind: Kind | None = None) -> dict[str, Any]:
        """What lets the kind's `is_copy_of` recognise a copy of this model / artifact (see ferry.kinds)."""

    @abstractmethod
    def authorize_copy(self, *, model_id: str | None, description: str | None = None,
                       tags: dict[str, str] | None = None, kind: Kind | None = None) -> CopyAuthorization:
        """On the TARGET: authorize a copy into it (v2: service-assigned id, `model_id` must be None)."""

    @abstractmethod
    def start_copy(self, model_id: str, authorization: CopyAuthorization, *, target: Resource,
                   degrade: bool = False, kind: Kind | None = None) -> str:
        """On the SOURCE: start copying `model_id` with `authorization`; returns the Operation-Location URL."""

    @abstractmethod
    def get_copy_status(self, operation_url: str, *, target_model_id: str | None = None) -> CopyStatus:
        """On the SOURCE: poll the copy operation."""

    def _operation_location(self, response: requests.Response, operation: str) -> str:
        location = response.headers.get("Operation-Location")
        if not location:
            raise self._error("MissingOperationLocation",
                              f"HTTP {response.status_code} without an Operation-Location header",
                              "The endpoint does not behave like the Document Intelligence API: check the "
                              "source's endpoint and apiVersion in FERRY_RESOURCES.", operation,
                              status=response.status_code)
        return location
