"""`CopyPolicy`: the tuning values an orchestration runs with, frozen into its input.

Why: an orchestrator is replayed from history, possibly in another process after settings changed. Reading the
environment inside it would make a replay take different decisions than the original run. So the values are read
once (by the `plan_copy` activity, whose result is recorded in history) and travel as plain JSON from then on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ferry.settings import default_of

# Transient-failure (429/5xx/connection) backoff, in seconds: the sequence the Document Intelligence
# service-limits page recommends (2-5-13-34 s), then a flat cap.
TRANSIENT_BACKOFF_SECONDS: tuple[float, ...] = (2.0, 5.0, 13.0, 34.0)
TRANSIENT_BACKOFF_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class CopyPolicy:
    """Everything the copy orchestrators need to decide timing and retries, and nothing secret.

    The defaults are the settings registry's (`ferry.settings.SETTINGS`), the one definition of each."""

    deadline_seconds: float = float(default_of("FERRY_COPY_DEADLINE_SECONDS"))
    poll_initial_seconds: float = float(default_of("FERRY_POLL_INITIAL_SECONDS"))
    poll_max_seconds: float = float(default_of("FERRY_POLL_MAX_SECONDS"))
    poll_backoff_factor: float = float(default_of("FERRY_POLL_BACKOFF_FACTOR"))
    max_parallel_targets: int = int(default_of("FERRY_MAX_PARALLEL_TARGETS"))
    allow_cmk_degrade: bool = default_of("FERRY_ALLOW_CMK_DEGRADE") == "true"
    max_authorization_attempts: int = int(default_of("FERRY_MAX_AUTHORIZATION_ATTEMPTS"))
    max_transient_retries: int = int(default_of("FERRY_MAX_TRANSIENT_RETRIES"))
    pacing_lead_ms: float = float(default_of("FERRY_PACING_LEAD_MS"))

    def __post_init__(self) -> None:
        problems = []
        if self.deadline_seconds <= 0:
            problems.append("deadline_seconds must be > 0")
        if self.poll_initial_seconds <= 0:
            problems.append("poll_initial_seconds must be > 0")
        if self.poll_max_seconds < self.poll_initial_seconds:
            problems.append("poll_max_seconds must be >= poll_initial_seconds")
        if self.poll_backoff_factor < 1:
            problems.append("poll_backoff_factor must be >= 1")
        if self.max_parallel_targets < 1:
            problems.append("max_parallel_targets must be >= 1")
        if self.max_authorization_attempts < 1:
            problems.append("max_authorization_attempts must be >= 1")
        if self.max_transient_retries < 0:
            problems.append("max_transient_retries must be >= 0")
        if self.pacing_lead_ms <= 0:
            problems.append("pacing_lead_ms must be > 0")
        if problems:
            raise ValueError("invalid copy policy: " + "; ".join(problems))

    @classmethod
    def from_settings(cls, settings: Any) -> CopyPolicy:
        """From a validated `ferry.settings.Settings` (duck-typed: this package imports nothing with I/O)."""
        return cls(
            deadline_seconds=float(settings.copy_deadline_seconds),
            poll_initial_seconds=float(settings.poll_initial_seconds),
            poll_max_seconds=float(settings.poll_max_seconds),
            poll_backoff_factor=float(settings.poll_backoff_factor),
            max_parallel_targets=int(settings.max_parallel_targets),
            allow_cmk_degrade=bool(settings.allow_cmk_degrade),
            max_authorization_attempts=int(settings.max_authorization_attempts),
            max_transient_retries=int(settings.max_transient_retries),
            pacing_lead_ms=float(settings.pacing_lead_ms),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form carried in orchestration input."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CopyPolicy:
        """Rebuild from `to_dict()` output; unknown keys are ignored, missing ones take defaults."""
        data = data or {}
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name in known:
            if name in data and data[name] is not None:
                default = getattr(cls, name)
                raw = data[name]
                if isinstance(default, bool):
                    values[name] = bool(raw)
                elif isinstance(default, int):
                    values[name] = int(raw)
                else:
                    values[name] = float(raw)
        return cls(**values)
