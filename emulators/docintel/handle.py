"""``ResourceHandle``: one running emulated resource and its control/inspection API (Python side).

Tests and the runner use these methods; ``control.py`` exposes the same operations over HTTP under
``/_emulator/``. Keys are never logged; ``rotate_key`` returns the new value to its caller only.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from typing import Any

from . import errors, gateway
from .api import Request
from .backend import COPY_BEHAVIOURS, ResourceBackend
from .faults import KINDS, Fault, FaultPlan
from .routes import OPERATIONS
from .server import ResourceServer
from .settings import COMPOSED_COPY_MODES, ResourceSettings
from .state import iso_z
from .world import World


class ResourceHandle:
    def __init__(self, settings: ResourceSettings, world: World, tokens: Any = None) -> None:
        self.settings = settings
        self.world = world
        self.tokens = tokens  # emulators.identity.TokenRegistry or None (then bearer tokens are refused)
        self.backend = ResourceBackend(settings, world)
        self.limiter = gateway.RateLimiter(world.clock, settings.rate_limits)
        self.faults = FaultPlan(settings.seed)
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._server: ResourceServer | None = None
        world.add(self.backend)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._server is not None:
            return
        self._server = ResourceServer(self, self.settings.port)
        self.backend.endpoint = f"http://127.0.0.1:{self._server.port}"
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def endpoint(self) -> str:
        return self.backend.endpoint

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def resource_id(self) -> str:
        return self.settings.resource_id

    @property
    def keys(self) -> tuple[str, str]:
        return self.backend.keys[0], self.backend.keys[1]

    @property
    def key(self) -> str:
        return self.backend.keys[0]

    def describe(self) -> dict[str, Any]:
        """The state-file entry of this resource (no keys)."""
        s = self.settings
        return {"endpoint": self.endpoint, "region": s.region, "resourceId": s.resource_id, "cmk": s.cmk,
                "copySeconds": s.copy_seconds, "modelLimit": s.model_limit, "composedCopy": self.composed_copy,
                "control": f"{self.endpoint}/_emulator/"}

    def authenticate(self, headers: dict[str, str]) -> None:
        gateway.authenticate(headers, self.backend.keys, self.tokens)

    # ------------------------------------------------------------------ inspection
    def models(self, include_invalid: bool = True) -> list[dict[str, Any]]:
        with self.world.lock:
            self.world.tick()
            return [m.inspect() for m in sorted(self.backend.models.values(), key=lambda m: m.created)
                    if include_invalid or m.status == "ready"]

    def model(self, model_id: str) -> dict[str, Any] | None:
        with self.world.lock:
            self.world.tick()
            found = self.backend.models.get(model_id)
            return found.inspect() if found else None

    def operations(self) -> list[dict[str, Any]]:
        with self.world.lock:
            now = self.world.tick()
            return [job.inspect(now) for job in sorted(self.backend.all_jobs(), key=lambda j: j.created)]

    def seed_model(self, family: str = "v3", model_id: str | None = None, **fields: Any) -> str:
        """Create a ready model directly (family "v2" or "v3"); returns its id."""
        with self.world.lock:
            return self.backend.seed_model(family, model_id, **fields).model_id

    def seed_composed(self, model_id: str | None = None, **fields: Any) -> str:
        """Create a ready composed model directly (v2.1, 2023-07-31 or 2024-11-30 shape); returns its id."""
        with self.world.lock:
            return self.backend.seed_composed(model_id, **fields).model_id

    def classifiers(self) -> list[dict[str, Any]]:
        with self.world.lock:
            self.world.tick()
            return [c.inspect() for c in self.backend.sorted_classifiers()]

    def classifier(self, classifier_id: str) -> dict[str, Any] | None:
        with self.world.lock:
            self.world.tick()
            found = self.backend.classifiers.get(classifier_id)
            return found.inspect() if found else None

    def seed_classifier(self, classifier_id: str | None = None, **fields: Any) -> str:
        """Create a ready classifier directly (``description``, ``doc_types`` names, ``api_version``)."""
        with self.world.lock:
            return self.backend.seed_classifier(classifier_id, **fields).classifier_id

    def set_composed_copy(self, mode: str) -> None:
        """Whether this resource, as a copy source, accepts copying a 2024-11-30 composed model in one
        operation ("accept", the default) or refuses it ("refuse"). Undocumented either way: inferred."""
        if mode not in COMPOSED_COPY_MODES:
            raise ValueError(f"composed copy mode must be one of {', '.join(COMPOSED_COPY_MODES)}, got {mode!r}")
        with self.world.lock:
            self.backend.composed_copy = mode

    @property
    def composed_copy(self) -> str:
        return self.backend.composed_copy

    def record(self, request: Request, operation: str, status: int, fault: Fault | None) -> None:
        entry = {"time": iso_z(self.world.now()), "method": request.method, "path": request.path,
                 "apiVersion": request.query.get("api-version", [None])[0], "operation": operation,
                 "status": status, "fault": fault.kind if fault else None, "requestId": request.request_id}
        with self._log_lock:
            self._log.append(entry)

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def request_counts(self) -> dict[str, int]:
        with self._log_lock:
            return dict(Counter(entry["operation"] for entry in self._log))

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # ------------------------------------------------------------------ control
    def reset(self) -> None:
        """Back to the configured state: no models/operations/authorizations, configured keys, no faults."""
        with self.world.lock:
            self.backend.reset()
        self.faults.clear()
        self.limiter.reset()
        self.limiter.set_limits(dict(self.settings.rate_limits))
        self.clear_request_log()

    def rotate_key(self, which: str = "key1", value: str | None = None) -> str:
        """Regenerate key1 or key2 (the other stays valid); returns the new value."""
        index = {"key1": 0, "key2": 1}.get(which)
        if index is None:
            raise ValueError(f"which must be 'key1' or 'key2', got {which!r}")
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError("a key must be a non-empty string")
        new = value or secrets.token_hex(16)
        self.backend.keys[index] = new
        return new

    def set_faults(self, *, error_rate: float = 0.0, drop_rate: float = 0.0, slow_rate: float = 0.0,
                   status: int = 503, slow_seconds: float = 0.5, seed: int | None = None,
                   operations: list[str] | None = None) -> None:
        """Random faults with a seed (repeatable): probabilities per request, optionally for some operations."""
        _check_operations(operations or [])
        self.faults.configure(error_rate=error_rate, drop_rate=drop_rate, slow_rate=slow_rate, status=status,
                              slow_seconds=slow_seconds, seed=seed, operations=operations)

    def fail_next(self, operation: str, count: int = 1, kind: str = "5xx", *, status: int = 503,
                  seconds: float = 0.5, retry_after: int = 1) -> None:
        """The next ``count`` calls of ``operation`` ("*" = any) get fault ``kind`` (5xx, drop, slow, 429)."""
        if operation != "*":
            _check_operations([operation])
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; kinds are {', '.join(KINDS)}")
        self.faults.add_next(operation, count, Fault(kind, status=status, seconds=seconds, retry_after=retry_after))

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_copy_behaviour(self, behaviour: str, count: int = 1, *, code: str | None = None,
                           message: str | None = None) -> None:
        """The next ``count`` copies from (or, if the source has none queued, into) this resource behave so.

        behaviour: "normal", "fail_3013" (fails mid-way, leaves an invalid model on the target),
        "never_finish" (stays running), "fail" (fails with ``code``, e.g. "2024", "AuthorizationError"),
        "expire_authorization" (the copy POST is answered 400 1002 as for an expired authorization; nothing starts).
        """
        if behaviour not in COPY_BEHAVIOURS:
            raise ValueError(f"unknown copy behaviour {behaviour!r}; use one of {', '.join(COPY_BEHAVIOURS)}")
        if behaviour == "fail" and not code:
            raise ValueError("behaviour 'fail' needs a code, e.g. '2024' or 'AuthorizationError'")
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        with self.world.lock:
            for _ in range(count):
                self.backend.copy_behaviours.append({"behaviour": behaviour, "code": code, "message": message})

    def fail_next_builds(self, count: int = 1, *, code: str = "InvalidRequest",
                         message: str = "Invalid request.", inner_code: str = "TrainingContentMissing",
                         inner_message: str = "Training data is missing: Could not find any training data at the "
                                              "given path.") -> None:
        """The next ``count`` v3+ builds/composes on this resource end ``failed`` with this error (the model never
        appears). Error shape as the service's failed operations; the default wording is inferred."""
        if count < 1:
            raise ValueError("count must be >= 1")
        failure = errors.CopyFailure(code, code, message, inner_code, inner_message)
        with self.world.lock:
            self.backend.build_failures.extend([failure] * count)

    def copy_behaviours(self) -> list[dict[str, Any]]:
        with self.world.lock:
            return list(self.backend.copy_behaviours)

    def set_rate_limits(self, **limits: float | None) -> None:
        """Per-second limits for the groups manage / get / list (None = unlimited)."""
        self.limiter.set_limits(limits)

    def rate_limits(self) -> dict[str, float | None]:
        return dict(self.limiter.limits)

    def control(self, request: Request) -> tuple[int, Any]:
        from .control import dispatch

        return dispatch(self, request)


def _check_operations(operations: list[str]) -> None:
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown operation(s) {unknown}; operations are {', '.join(OPERATIONS)}")
