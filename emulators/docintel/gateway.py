"""What the APIM gateway in front of the service does: key/token checks and per-operation rate limits."""

from __future__ import annotations

import math
import threading
from collections import deque

from . import errors
from .errors import ServiceError

COGNITIVE_RESOURCE = "https://cognitiveservices.azure.com"


def authenticate(headers: dict[str, str], keys: list[str], tokens) -> None:
    """Ocp-Apim-Subscription-Key (key1 or key2) or ``Authorization: Bearer`` issued for Cognitive Services."""
    key = headers.get("ocp-apim-subscription-key")
    if key is not None:
        if key in keys:
            return
        raise errors.unauthorized()
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        token = bearer[7:].strip()
        if tokens is not None and token and tokens.validate(token, COGNITIVE_RESOURCE):
            return
        raise errors.unauthorized()
    raise errors.unauthorized(missing=True)


class RateLimiter:
    """Sliding one-second windows per operation group, on the shared clock (rejected calls don't count)."""

    def __init__(self, clock, limits: dict[str, float | None]) -> None:
        self.clock = clock
        self.limits = dict(limits)
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def set_limits(self, limits: dict[str, float | None]) -> None:
        unknown = set(limits) - {"manage", "get", "list"}
        if unknown:
            raise ValueError(f"unknown rate-limit group(s) {sorted(unknown)}; groups are manage, get, list")
        for group, value in limits.items():
            if value is not None and (not isinstance(value, int | float) or value <= 0):
                raise ValueError(f"rate limit for {group!r} must be a positive number or None, got {value!r}")
        with self._lock:
            self.limits.update(limits)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    def admit(self, group: str, apim_name: str, api_label: str, tier: str) -> None:
        """Count the call or raise the gateway's 429 with Retry-After (whole seconds, at least 1)."""
        limit = self.limits.get(group)
        if limit is None:
            return
        now = self.clock.time()
        window = 1.0
        capacity = max(1, int(limit * window))
        with self._lock:
            calls = self._calls.setdefault(group, deque())
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= capacity:
                wait = calls[0] + window - now
                raise _throttled(apim_name, api_label, tier, max(1, math.ceil(wait)))
            calls.append(now)


def _throttled(apim_name: str, api_label: str, tier: str, retry_after: int) -> ServiceError:
    return errors.rate_limited(apim_name, api_label, tier, retry_after)
