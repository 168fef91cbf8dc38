"""Exceptions of the engine's management surface; the HTTP layer maps them to statuses (see ``http_status``)."""

from __future__ import annotations


class EngineError(Exception):
    """Base class. ``http_status`` is what the Durable HTTP API answers for this condition."""

    http_status = 500


class BadRequestError(EngineError):
    """Malformed or impossible request (HTTP 400)."""

    http_status = 400


class OrchestratorNotFoundError(BadRequestError):
    """``start_new`` named a function that is not an orchestrator (the extension's text, HTTP 400)."""


class InstanceExistsError(BadRequestError):
    """An instance with that id is Pending/Running/Suspended, so it cannot be replaced (HTTP 400)."""


class InvalidOperationError(EngineError):
    """An operation the instance's state does not allow (DTFx's InvalidOperationException → the API's 500)."""

    http_status = 500


class InstanceNotFoundError(EngineError):
    """No instance (or entity) with that id (HTTP 404)."""

    http_status = 404


class InstanceGoneError(EngineError):
    """The instance is in a state where the operation no longer applies, e.g. raise an event on a completed
    instance (HTTP 410)."""

    http_status = 410


class EngineTimeoutError(EngineError, TimeoutError):
    """A wait helper timed out; the message says what was awaited and the last observed state."""

    http_status = 504


class NonDeterminismError(Exception):
    """Replay found that the orchestrator code no longer matches its history (raised inside the engine; the
    instance fails with this message)."""
