"""Pure payload shaping of the engine: the exact texts the extension would produce or store.

Why separate: these are the fidelity-sensitive details (error texts, double encodings, entity ids) and are easier
to check in isolation than inside the scheduler.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from .errors import BadRequestError


def entity_parts(entity_id: str) -> tuple[str, str]:
    body = entity_id[1:] if entity_id.startswith("@") else entity_id
    name, _, key = body.partition("@")
    return name, key


def scheduler_id(name: str, key: str) -> str:
    """The extension's entity instance id: ``@{name.lower()}@{key}``.

    As the extension's ``EntityId``: the name must be non-empty, the key may be empty (not None); the HTTP API
    reads an empty key as ``GET entities/{name}/$`` and signals one as ``POST entities/{name}``.
    """
    if not name:
        raise BadRequestError("Invalid entity id: entity name must not be a null or empty string.")
    if key is None:
        raise BadRequestError("Invalid entity id: entity key must not be null.")
    return f"@{name.lower()}@{key}"


def activity_failure(name: str, exc: BaseException) -> tuple[str, str]:
    """TaskFailed Reason/Details for an activity that raised, as the extension's ``TaskActivityShim`` builds them.

    The host reports the worker's failure as an RpcException ``Result: Failure\nException: <Type>: <msg>\nStack: …``;
    ``OutOfProcExceptionHelpers`` keeps what lies between ``\nException:`` and ``\nStack:`` (note the leading space)
    as the friendly message; Reason = ``Activity function 'X' failed: <friendly>`` and Details = the serialized
    exception (``Utils.SerializeCause``): Message = the friendly text, InnerException = the RpcException.
    """
    text = f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    rpc_message = f"Result: Failure\nException: {text}\nStack: {stack}"
    friendly = rpc_message[rpc_message.index("\nException:") + len("\nException:"):rpc_message.index("\nStack:")]
    return f"Activity function '{name}' failed: {friendly}", _serialized_exception(friendly, rpc_message)


def activity_timeout(name: str, seconds: float) -> tuple[str, str]:
    """TaskFailed Reason/Details of an activity that exceeded ``functionTimeout`` (FunctionTimeoutException)."""
    message = f"Timeout value of {timespan(seconds)} was exceeded by function: Functions.{name}"
    return f"Activity function '{name}' failed: {message}", _serialized_exception(message, None)


def _serialized_exception(message: str, rpc_message: str | None) -> str:
    inner = None
    if rpc_message is not None:
        inner = {"$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
                 "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException", "Message": rpc_message,
                 "Data": None, "InnerException": None}
    return json.dumps({"$type": "System.Exception, System.Private.CoreLib", "ClassName": "System.Exception",
                       "Message": message, "Data": None, "InnerException": inner, "HResult": -2146233088})


def timespan(seconds: float) -> str:
    """.NET ``TimeSpan.ToString()`` (``hh:mm:ss[.fffffff]``) as the host writes timeouts."""
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    frac = round((seconds - whole) * 10_000_000)
    return f"{text}.{frac:07d}" if frac else text


def stored_input(action_input: Any) -> str | None:
    """How the extension stores an input the SDK passed as JSON text (sub-orchestration, continue-as-new): the
    action's ``input`` is a string, which the extension serializes again, so the instance input is its JSON."""
    if action_input is None:
        return None
    return json.dumps(action_input if isinstance(action_input, str) else json.dumps(action_input))




def json_token(text: str | None) -> Any:
    """The JSON value of a stored text (the extension returns JTokens); non-JSON text is returned as is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
