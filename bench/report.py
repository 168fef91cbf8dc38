"""How every bench ends its report: the total time, then its exit status (`python -m bench` adds them up)."""

from __future__ import annotations

import sys
import time


def finish(started: float, failures: int, failed: str) -> int:
    """Print the bench's total time since `started` (time.monotonic); 1 when anything failed (`failures` and what
    `failed` said on stderr), else 0."""
    print(f"total bench time {time.monotonic() - started:.1f} s")
    if failures:
        print(f"{failures} {failed}", file=sys.stderr)
        return 1
    return 0
