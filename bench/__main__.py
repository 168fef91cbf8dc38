"""`make bench`: runs every `bench/*_bench.py` module's `main()` in turn and prints their reports."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.endswith("_bench"))
    if not names:
        print("no benchmarks found under bench/", file=sys.stderr)
        return 1
    failed = 0
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        failed += bool(module.main())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
