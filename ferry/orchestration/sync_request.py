"""Validate and normalize a sync request: `POST /api/sync`'s body (or the timer's `{}`) → a `SyncRequest`.

Why pure and here: the HTTP trigger must answer 400 before anything starts, the timer trigger builds the same
request from the defaults, and `sync_estate` re-validates input started directly through the Durable API; one
function keeps the rules from drifting. The normalized form (sorted targets and patterns) is what makes two
requests "identical" (an identical request joins the running sync, a different one gets 409).

    {"source"?, "targets"?, "include"?: ["invoices-*"], "exclude"?: [...], "dryRun"?: false, "prune"?: false,
     "onStale"?: "replace" | "keep" | "fail"}

Patterns are shell-style (`fnmatch`: `*`, `?`, `[seq]`, `[!seq]`), matched case-sensitively against model ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ferry.orchestration.plan import RequestError, ResourceView, resolve_aliases

FIELDS = ("source", "targets", "include", "exclude", "dryRun", "prune", "onStale")
ON_STALE = ("replace", "keep", "fail")
MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 100
# What a pattern may contain: model-id characters (v3+ ids and v2 GUIDs) and the shell wildcards.
_PATTERN = re.compile(r"^[A-Za-z0-9._~\-*?\[\]!]+$")
SHAPE = ('{"source"?: "<alias>", "targets"?: ["<alias>"], "include"?: ["invoices-*"], "exclude"?: [...], '
         '"dryRun"?: false, "prune"?: false, "onStale"?: "replace" | "keep" | "fail"}')
HINTS = {
    "InvalidPattern": "Use shell-style model id patterns: letters, digits, . _ ~ - and the wildcards * ? [abc] "
                      "[!abc], e.g. \"invoices-*\".",
    "InvalidRequest": f"Send a JSON object {SHAPE}.",
    "InvalidJson": f"Send a JSON object {SHAPE} (or an empty body for the defaults).",
}


def _error(code: str, message: str) -> RequestError:
    """A RequestError (a FerryError) whose hint speaks of a sync request, not a copy request."""
    error = RequestError(code, message)
    error.hint = HINTS.get(code, error.hint)
    return error


@dataclass(frozen=True)
class SyncRequest:
    """A validated sync request: aliases known to settings, patterns checked, options typed."""

    source: str
    targets: tuple[str, ...]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    dry_run: bool = False
    prune: bool = False
    on_stale: str = "replace"

    def selects(self, model_id: str) -> bool:
        """Whether `model_id` is in scope: matches an include pattern (all when none) and no exclude pattern."""
        if self.include and not any(fnmatchcase(model_id, p) for p in self.include):
            return False
        return not any(fnmatchcase(model_id, p) for p in self.exclude)

    def to_input(self) -> dict[str, Any]:
        """The normalized, JSON-able form: orchestration input and the identity of a request."""
        return {"source": self.source, "targets": list(self.targets), "include": list(self.include),
                "exclude": list(self.exclude), "dryRun": self.dry_run, "prune": self.prune,
                "onStale": self.on_stale}

    @classmethod
    def from_input(cls, data: Mapping[str, Any]) -> SyncRequest:
        """Inverse of `to_input` (input already validated)."""
        return cls(source=data["source"], targets=tuple(data["targets"]), include=tuple(data.get("include", ())),
                   exclude=tuple(data.get("exclude", ())), dry_run=bool(data.get("dryRun")),
                   prune=bool(data.get("prune")), on_stale=data.get("onStale", "replace"))


def _pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str) or not pattern:
        return "patterns must be non-empty strings"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"pattern {pattern[:40]!r}… is longer than {MAX_PATTERN_CHARS} characters"
    if not _PATTERN.match(pattern):
        return (f"pattern {pattern!r} contains characters no model id has; use letters, digits, . _ ~ - and the "
                "shell wildcards * ? [seq] [!seq]")
    depth = 0
    for ch in pattern:
        depth += ch == "["
        depth -= ch == "]" and depth > 0
        if depth > 1:
            return f"pattern {pattern!r} nests '[' — write character sets as [abc] or [!abc]"
    if depth:
        return f"pattern {pattern!r} opens a '[' set that is never closed"
    return None


def _patterns(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _error("InvalidRequest", f"'{name}' must be a list of shell-style model id patterns, "
                           'e.g. ["invoices-*"]')
    if len(value) > MAX_PATTERNS:
        raise _error("InvalidPattern", f"'{name}' has {len(value)} patterns; at most {MAX_PATTERNS}")
    for pattern in value:
        problem = _pattern_problem(pattern)
        if problem:
            raise _error("InvalidPattern", f"'{name}': {problem}")
    return tuple(sorted(set(value)))


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _error("InvalidRequest", f"'{name}' must be true or false")
    return value


def parse_sync_request(body: Any, resources: Mapping[str, ResourceView], *, default_source: str | None,
                       default_targets: tuple[str, ...] | list[str] = ()) -> SyncRequest:
    """Validate `body` against the configured `resources`; raise `RequestError` saying what to change.

    A target of the other API generation than the source (v2 ↔ v3+) is accepted: the plan reports its models
    as skipped with the reason, as for any other model that cannot be copied there."""
    if not isinstance(body, Mapping):
        raise _error("InvalidRequest", 'the request body must be a JSON object like {"source": "<alias>", '
                           '"targets": ["<alias>"], "include": ["invoices-*"]} (every field is optional)')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _error("InvalidRequest", f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    try:
        source, targets = resolve_aliases(body, resources, default_source=default_source,
                                          default_targets=default_targets)
    except RequestError as exc:
        raise _error(exc.code, exc.message) from exc

    on_stale = body.get("onStale", "replace")
    if on_stale not in ON_STALE:
        raise _error("InvalidRequest", f"'onStale' must be one of {', '.join(ON_STALE)}, got {on_stale!r}")
    return SyncRequest(source=source, targets=tuple(sorted(targets)), include=_patterns(body, "include"),
                       exclude=_patterns(body, "exclude"), dry_run=_flag(body, "dryRun"),
                       prune=_flag(body, "prune"), on_stale=on_stale)


def sync_instance_prefix(source: str) -> str:
    """`sync-<source>`: the request prefix of every run of a sync of `source` (runs are `<prefix>~<run>`, see
    `ferry.orchestration.ids`), one per source whatever the request, so one query finds the running sync.
    Aliases are instance-id safe (letters, digits, _ and -)."""
    return f"sync-{source}"
