"""When to poll a copy operation next, and how long to wait before retrying a transient failure.

Why this schedule: the seed guide recommends polling about once a second, the service limits ask clients to
back off, and each poll is a durable timer plus an activity. Poll number n waits
`min(initial × factor^(n−1), max)` (the FERRY_POLL_* settings): with the
defaults (1 s, ×1.1, 15 s) a copy that takes a few seconds is noticed within about a second, and a 30-minute copy
costs about 140 polls. A Retry-After sent by the service replaces the computed delay, and no wait ever runs past
the copy deadline.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from .policy import TRANSIENT_BACKOFF_CAP_SECONDS, TRANSIENT_BACKOFF_SECONDS, CopyPolicy

# A Retry-After of 0 must not turn polling into a busy loop.
MIN_RETRY_AFTER_SECONDS = 0.25
# A throttled call waits the service's Retry-After, at least this long, plus at most MAX_JITTER_SECONDS (never
# more than a fifth of the wait): callers throttled together do not all come back in the same instant.
MIN_THROTTLE_WAIT_SECONDS = 1.0
MAX_JITTER_SECONDS = 1.0


def poll_delay(policy: CopyPolicy, poll_number: int, retry_after: float | None = None) -> float:
    """Seconds to wait before poll number `poll_number` (1-based) of a started copy."""
    if retry_after is not None:
        return max(float(retry_after), MIN_RETRY_AFTER_SECONDS)
    n = max(1, int(poll_number))
    try:
        delay = policy.poll_initial_seconds * policy.poll_backoff_factor ** (n - 1)
    except OverflowError:
        delay = policy.poll_max_seconds
    return min(delay, policy.poll_max_seconds)


def transient_delay(retry_number: int, retry_after: float | None = None) -> float:
    """Wait before retry `retry_number` (1-based) of a throttled/transient failure; Retry-After is a floor."""
    index = max(retry_number, 1) - 1
    base = TRANSIENT_BACKOFF_SECONDS[index] if index < len(TRANSIENT_BACKOFF_SECONDS) else TRANSIENT_BACKOFF_CAP_SECONDS
    if retry_after is not None and retry_after > base:
        return float(retry_after)
    return base


def throttle_delay(throttle_number: int, retry_after: float | None, seed: str) -> float:
    """Wait before retry `throttle_number` (1-based) of a 429: Retry-After (or, without one, the transient
    backoff) plus a jitter derived from `seed` (the instance id), so a replay computes the same wait."""
    base = transient_delay(throttle_number) if retry_after is None else float(retry_after)
    base = max(base, MIN_THROTTLE_WAIT_SECONDS)
    digest = hashlib.sha256(f"{seed}#{throttle_number}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return base + fraction * min(MAX_JITTER_SECONDS, base / 5)


def deadline_at(started: datetime, policy: CopyPolicy) -> datetime:
    """The instant after which a copy is abandoned, cleaned up and reported."""
    return started + timedelta(seconds=policy.deadline_seconds)


def next_fire_at(now: datetime, delay_seconds: float, deadline: datetime) -> datetime | None:
    """When the timer should fire: `now + delay`, clamped to the deadline; None once the deadline has passed."""
    if now >= deadline:
        return None
    return min(now + timedelta(seconds=max(delay_seconds, 0.0)), deadline)


def lost_copy_watch_seconds(copy_started_at: datetime | None, now: datetime, policy: CopyPolicy) -> float:
    """How long to keep looking for the copies of lost answers after the kept copy has landed.

    Why this bound: an abandoned copy was accepted no later than the last re-issue, and copies of the same model
    take about as long, so it lands within about the time the kept copy took; one polling cap more covers the
    poll interval. A lost POST the service never accepted simply never appears and costs only this wait."""
    took = (now - copy_started_at).total_seconds() if copy_started_at is not None else 0.0
    return max(took, 0.0) + policy.poll_max_seconds
