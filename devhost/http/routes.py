"""HTTP trigger route templates (ASP.NET Core syntax, as the Functions host uses) and the route table.

Supports literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults `{name=value}`,
catch-all `{*rest}` / `{**rest}`, and the inline constraints the host accepts: int, long, bool, datetime,
decimal, double, float, guid, alpha, min(n), max(n), range(a,b), minlength(n), maxlength(n),
length(n) / length(a,b), regex(expr), required. Routes are tried in ASP.NET precedence order
(literals before parameters, constrained before free, catch-alls last), so `/products/new` beats
`/products/{id}` whatever the declaration order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

__all__ = ["Route", "RouteError", "RouteTable", "compile_route"]

T = TypeVar("T")


class RouteError(ValueError):
    """A route template the host would refuse at start."""


def _is_number(kind: type) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            kind(value)
        except (ValueError, InvalidOperation):
            return False
        return True

    return check


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _int_value(value: str) -> int | None:
    return int(value) if re.fullmatch(r"[+-]?\d+", value) else None


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": lambda v: _int_value(v) is not None and -(2**31) <= int(v) < 2**31,
    "long": lambda v: _int_value(v) is not None and -(2**63) <= int(v) < 2**63,
    "bool": lambda v: v.lower() in ("true", "false"),
    "datetime": _is_datetime,
    "decimal": _is_number(Decimal),
    "double": _is_number(float),
    "float": _is_number(float),
    "guid": _is_guid,
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
    "required": lambda v: v != "",
}


def _constraint(text: str, template: str) -> Callable[[str], bool]:
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.S)
    if not match:
        raise RouteError(f"route '{template}': constraint '{text}' is malformed")
    name, arg = match.group(1).lower(), match.group(2)
    if arg is None:
        if name not in _SIMPLE:
            raise RouteError(f"route '{template}': unknown constraint '{text}'")
        return _SIMPLE[name]
    if name == "regex":
        pattern = re.compile(arg, re.IGNORECASE)
        return lambda v: pattern.search(v) is not None
    try:
        nums = [int(x) for x in arg.split(",")]
    except ValueError:
        raise RouteError(f"route '{template}': constraint '{text}' needs integer arguments") from None
    if name == "min" and len(nums) == 1:
        return lambda v: _int_value(v) is not None and int(v) >= nums[0]
    if name == "max" and len(nums) == 1:
        return lambda v: _int_value(v) is not None and int(v) <= nums[0]
    if name == "range" and len(nums) == 2:
        return lambda v: _int_value(v) is not None and nums[0] <= int(v) <= nums[1]
    if name == "minlength" and len(nums) == 1:
        return lambda v: len(v) >= nums[0]
    if name == "maxlength" and len(nums) == 1:
        return lambda v: len(v) <= nums[0]
    if name == "length" and len(nums) == 1:
        return lambda v: len(v) == nums[0]
    if name == "length" and len(nums) == 2:
        return lambda v: nums[0] <= len(v) <= nums[1]
    raise RouteError(f"route '{template}': unknown constraint '{text}'")


@dataclass
class _Param:
    name: str
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: list[Callable[[str], bool]] = field(default_factory=list)


@dataclass
class Route(Generic[T]):
    """A compiled template: `match(path)` returns the route parameters or None."""

    template: str
    segments: list[str | _Param]
    target: T
    methods: frozenset[str] | None = None

    def match(self, path: str) -> dict[str, str] | None:
        """Match a request path (without the route prefix, no leading slash) against the template."""
        from urllib.parse import unquote

        parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
        values: dict[str, str] = {}
        i = 0
        for seg in self.segments:
            if isinstance(seg, str):
                if i >= len(parts) or unquote(parts[i]).lower() != seg.lower():
                    return None
                i += 1
                continue
            if seg.catch_all:  # implicitly optional; absent from the route values when empty (ASP.NET)
                rest = "/".join(unquote(p) for p in parts[i:])
                i = len(parts)
                if rest == "" and seg.default is None:
                    continue
                value = rest or seg.default or ""
            elif i < len(parts):
                value = unquote(parts[i])
                i += 1
            elif seg.optional or seg.default is not None:
                if seg.default is not None:
                    values[seg.name] = seg.default
                continue
            else:
                return None
            if not all(check(value) for check in seg.constraints):
                return None
            values[seg.name] = value
        if i != len(parts):
            return None
        return values

    def allows(self, method: str) -> bool:
        """True when the route accepts the HTTP method (no list = every method)."""
        return self.methods is None or method.upper() in self.methods

    def precedence(self) -> tuple:
        """Sort key: ASP.NET-style, lower sorts first."""
        key = []
        for seg in self.segments:
            if isinstance(seg, str):
                key.append(0)
            elif seg.catch_all:
                key.append(4)
            elif seg.constraints:
                key.append(1 if not seg.optional else 2)
            else:
                key.append(2 if not seg.optional else 3)
        return (*key, 5)


_PARAM = re.compile(r"^\{(?P<star>\*{1,2})?(?P<name>[A-Za-z_][\w]*)(?P<rest>.*)\}$", re.S)


def compile_route(template: str, target: T, methods: Iterable[str] | None = None) -> Route[T]:
    """Parse a route template; raises RouteError with the reason when it is invalid."""
    text = template.strip().strip("/")
    segments: list[str | _Param] = []
    names: set[str] = set()
    raw_segments = text.split("/") if text else []
    for index, raw in enumerate(raw_segments):
        if not raw:
            raise RouteError(f"route '{template}' has an empty segment ('//')")
        if "{" not in raw and "}" not in raw:
            segments.append(raw)
            continue
        match = _PARAM.match(raw)
        if not match:
            raise RouteError(
                f"route '{template}': segment '{raw}' must be a literal or one whole parameter like {{id}}"
            )
        param = _Param(match["name"], catch_all=bool(match["star"]))
        rest = match["rest"]
        if rest.endswith("?"):
            param.optional, rest = True, rest[:-1]
        if "=" in rest:
            rest, param.default = rest.split("=", 1)
        for text_constraint in _split_constraints(rest, template):
            param.constraints.append(_constraint(text_constraint, template))
        if param.name.lower() in names:
            raise RouteError(f"route '{template}' uses parameter '{param.name}' twice")
        names.add(param.name.lower())
        if param.catch_all and index != len(raw_segments) - 1:
            raise RouteError(f"route '{template}': a catch-all parameter must be the last segment")
        segments.append(param)
    for later in segments[next((i for i, s in enumerate(segments) if isinstance(s, _Param) and s.optional),
                               len(segments)) + 1:]:
        if isinstance(later, str) or not (later.optional or later.catch_all or later.default is not None):
            raise RouteError(f"route '{template}': an optional parameter must come after every required segment")
    return Route(template, segments, target, frozenset(m.upper() for m in methods) if methods else None)


def _split_constraints(rest: str, template: str) -> list[str]:
    if not rest:
        return []
    if not rest.startswith(":"):
        raise RouteError(f"route '{template}': unexpected '{rest}' in a parameter")
    out, depth, current = [], 0, ""
    for ch in rest[1:]:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == ":" and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    out.append(current)
    return out


class RouteTable(Generic[T]):
    """Routes in precedence order; `find(method, path)` → (target, route params) or None."""

    def __init__(self) -> None:
        self._routes: list[Route[T]] = []

    def add(self, template: str, target: T, methods: Iterable[str] | None = None) -> Route[T]:
        """Compile and add a route (raises RouteError for bad templates)."""
        route = compile_route(template, target, methods)
        self._routes.append(route)
        self._routes.sort(key=Route.precedence)
        return route

    def find(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        """First route (by precedence) that matches both the path and the method."""
        for route in self._routes:
            if not route.allows(method):
                continue
            values = route.match(path)
            if values is not None:
                return route.target, values
        return None

    def __iter__(self):
        return iter(self._routes)
