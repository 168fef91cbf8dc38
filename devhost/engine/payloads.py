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
    """The extension's entity instance id: ``@{name.lower()}@{key}``."""
    if not name or not key:
        raise BadRequestError("an entity id needs a non-empty name and key")
    return f"@{name.lower()}@{key}"


def activity_failure(name: str, exc: BaseException) -> tuple[str, str]:
    """TaskFailed Reason/Details for an activity that raised, shaped like the extension's out-of-proc failure.

    [inferred from user reports of the real host: Reason starts ``Activity function 'X' failed:``, Details is the
    serialized .NET exception whose Message is ``<Type>: <message>``.]
    """
    text = f"{type(exc).__name__}: {exc}"
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    rpc = {"$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
           "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
           "Message": f"Result: Failure\nException: {text}\nStack: {stack}", "Data": None, "InnerException": None}
    details = {"$type": "System.Exception, System.Private.CoreLib", "ClassName": "System.Exception",
               "Message": text, "Data": None, "InnerException": rpc, "HResult": -2146233088}
    return f"Activity function '{name}' failed: {text}", json.dumps(details)


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
