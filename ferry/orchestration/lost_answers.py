"""Copies whose start answer was lost: remember their target ids, adopt one that lands, delete the others.

Why: when the copy POST fails without an answer (kind "transient": the connection dropped, a 5xx) the service may
have started the copy anyway. In v2 a re-issue gets a NEW service-assigned id, so without this the target could
end with two copies, one unknown to anybody. The activity's error carries the target id it had authorized (never
the token); the workflow hands every such error to `remember`, and asks at three points:

1. `landed()` before it re-issues the copy after a wait: did a lost copy land meanwhile? Then it keeps that one
   and makes no second copy.
2. `sweep(keep, watch_seconds)` once the copy it keeps is verified: it looks for the other lost copies on durable
   timers (bounded, `ferry.orchestration.polling.lost_copy_watch_seconds`) and deletes those that land, so the
   target ends with exactly one model; ids never seen are reported as unresolved.
3. `sweep(keep, 0, adopt=True)` when the kept copy failed: a lost copy that landed is adopted instead.

Pure orchestration logic: it works through the `TargetOps` the workflow gives it (look at / delete a target
model, wait on a durable timer), never calls a service itself.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from ferry.errors import FerryError

from .policy import CopyPolicy
from .polling import next_fire_at, poll_delay

# At most this many rounds of looks for the copies of lost answers (each round also bounded by the watch time).
MAX_LOST_CHECKS = 12


class Found(Enum):
    """What a target id holds, as far as this copy is concerned."""

    ABSENT = "absent"  # nothing (or the look failed)
    COPY = "copy"  # a ready copy of this source model
    OTHER = "other"  # a ready model that is not this model's copy: never touched
    LEFTOVER = "leftover"  # an unfinished or invalid model


class TargetOps(Protocol):
    """What the workflow lends: looks and deletes on the target, durable timers, its clock and log."""

    @property
    def now(self) -> datetime: ...

    def look(self, model_id: str) -> Generator[Any, Any, Found]: ...

    def delete(self, model_id: str) -> Generator[Any, Any, bool]: ...

    def wait_until(self, fire_at: datetime) -> Generator[Any, Any, None]: ...

    def show(self, stage: str | None = None) -> None: ...

    def log(self, message: str, *args: Any) -> None: ...


class LostAnswers:
    """The target ids of copy POSTs whose answer was lost, and what became of them."""

    def __init__(self, ops: TargetOps, policy: CopyPolicy) -> None:
        self.ops = ops
        self.policy = policy
        self.unconfirmed: list[str] = []  # authorized target ids whose copy POST answer was lost
        self.cleaned: list[str] = []  # of those, deleted from the target (abandoned copies that landed)
        self.unresolved: list[str] = []  # of those, never seen on the target while watched

    def remember(self, error: FerryError) -> bool:
        """A failed copy POST: if its answer was lost, its authorized id may yet receive a copy. True if new."""
        lost = error.target_model_id
        if not lost or error.kind != "transient" or lost in self.unconfirmed:
            return False
        self.unconfirmed.append(str(lost))
        return True

    def pending(self, keep: str | None) -> list[str]:
        """The lost copies still to resolve, other than `keep`."""
        return [i for i in self.unconfirmed if i != keep and i not in self.cleaned]

    def landed(self) -> Generator[Any, Any, str | None]:
        """Before re-issuing: the id of a lost copy that has landed (keep it), else None (leftovers removed)."""
        for lost in self.pending(None):
            found = yield from self.ops.look(lost)
            if found is Found.COPY:
                self.ops.log("the copy whose answer was lost landed in %s; adopting it", lost)
                return lost
            if found is Found.LEFTOVER and (yield from self.ops.delete(lost)):
                self.cleaned.append(lost)
        return None

    def sweep(self, keep: str | None, watch_seconds: float, *, adopt: bool = False
              ) -> Generator[Any, Any, str | None]:
        """Resolve the lost copies other than `keep`: delete those that landed, watching the rest on durable
        timers for `watch_seconds`. With `adopt`, the first ready copy found is kept instead and its id
        returned. Ids still unseen at the end are reported as unresolved."""
        pending = self.pending(keep)
        if not pending:
            return None
        adopted: str | None = None
        until = self.ops.now + timedelta(seconds=max(watch_seconds, 0.0))
        for check in range(1, MAX_LOST_CHECKS + 1):
            self.ops.show("cleaning-up")
            unseen = []
            for lost in pending:
                found = yield from self.ops.look(lost)
                if found is Found.ABSENT:
                    unseen.append(lost)
                elif found is Found.COPY and adopt and adopted is None:
                    adopted = lost
                elif found is Found.OTHER:
                    self.ops.log("%s holds a model that is not this model's copy; left alone", lost)
                elif (yield from self.ops.delete(lost)):
                    self.ops.log("deleted %s, the copy of a POST whose answer was lost", lost)
                    self.cleaned.append(lost)
                else:
                    unseen.append(lost)
            pending = unseen
            if not pending:
                break
            fire_at = next_fire_at(self.ops.now, poll_delay(self.policy, check), until)
            if fire_at is None:
                break
            yield from self.ops.wait_until(fire_at)
        self.unresolved = [i for i in pending if i != adopted]
        if self.unresolved:
            self.ops.log("no copy appeared in %s; reported as unresolved", ", ".join(self.unresolved))
        return adopted
