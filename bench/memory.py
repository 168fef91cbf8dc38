"""Peak resident memory of this process while a block runs: what the bulk bench and the scale test report.

Linux only (`/proc/self/status`); elsewhere it reads 0 and the growth is 0.
"""

from __future__ import annotations

import threading
from pathlib import Path


class RssPeak:
    """Samples this process's resident memory every `every` seconds while the `with` block runs."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mib(self) -> float:
        """How much the peak is above the resident memory at the start, in MiB."""
        return (self.peak - self.start) / 2**20
