"""Request-body checks shared by the operations; each failure names the offending field."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import errors
from .errors import ServiceError

MODEL_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._~-]{1,63}$")  # v3+ swagger pattern
RESOURCE_ID = re.compile(
    r"^/subscriptions/[^/]*/resourceGroups/[^/]*/providers/Microsoft\.CognitiveServices/accounts/[^/]*$",
    re.IGNORECASE,
)  # v2 swagger CopyRequest.targetResourceId
REGION = re.compile(r"^[a-z0-9]{1,24}$")  # v2 swagger CopyRequest.targetResourceRegion
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Checker:
    """Field checks that raise the generation's 400 (v2 code 1002, v3+ InvalidRequest)."""

    def __init__(self, family: str) -> None:
        self.family = family

    def fail(self, message: str, inner: str = "InvalidParameter") -> ServiceError:
        if self.family == "v2":
            return errors.v2_bad_request(message)
        return errors.v3_invalid(message, inner)

    def body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise self.fail("The request body must be a JSON object.", "InvalidContent")
        return body

    def allowed(self, body: dict[str, Any], allowed: set[str], where: str = "") -> None:
        extra = sorted(set(body) - allowed)
        if extra:
            raise self.fail(f"Unknown field '{where}{extra[0]}' in the request body; allowed: "
                            f"{', '.join(sorted(allowed))}.")

    def string(self, body: dict[str, Any], name: str, *, required: bool = True, where: str = "",
               pattern: re.Pattern[str] | None = None, max_len: int | None = None) -> str | None:
        value = body.get(name)
        if value is None:
            if required:
                raise self.fail(f"The parameter '{where}{name}' is required.", "ParameterMissing")
            return None
        if not isinstance(value, str):
            raise self.fail(f"The parameter '{where}{name}' must be a string.")
        if pattern is not None and not pattern.match(value):
            raise self.fail(f"The parameter '{where}{name}' ('{value}') does not match {pattern.pattern}.")
        if max_len is not None and len(value) > max_len:
            raise self.fail(f"The parameter '{where}{name}' is longer than {max_len} characters.")
        return value

    def boolean(self, body: dict[str, Any], name: str, default: bool = False) -> bool:
        value = body.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"The parameter '{name}' must be true or false.")
        return value

    def obj(self, body: dict[str, Any], name: str, *, required: bool = False) -> dict[str, Any] | None:
        value = body.get(name)
        if value is None:
            if required:
                raise self.fail(f"The parameter '{name}' is required.", "ParameterMissing")
            return None
        if not isinstance(value, dict):
            raise self.fail(f"The parameter '{name}' must be a JSON object.")
        return value

    def tags(self, body: dict[str, Any]) -> dict[str, str] | None:
        tags = self.obj(body, "tags")
        if tags is not None and not all(isinstance(v, str) for v in tags.values()):
            raise self.fail("Every value in 'tags' must be a string.")
        return tags

    def string_list(self, body: dict[str, Any], name: str, check: Callable[[str], bool] | None = None) -> list[str]:
        value = body.get(name)
        if value is None:
            raise self.fail(f"The parameter '{name}' is required.", "ParameterMissing")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(f"The parameter '{name}' must be a non-empty list of strings.")
        if check is not None:
            for item in value:
                if not check(item):
                    raise self.fail(f"'{item}' in '{name}' is not a valid model id.")
        return value
