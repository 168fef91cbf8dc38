"""`ferry/orchestration/` is pure: importing any of its modules loads no HTTP client, no Key Vault access, no
copy step (orchestrator code is replayed; decisions must not depend on I/O)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMPURE = ("ferry.steps", "ferry.http", "ferry.keys", "ferry.auth", "ferry.docintel.v2", "ferry.docintel.v3",
          "ferry.docintel.base", "requests", "azure")


def test_no_orchestration_module_loads_a_client_or_a_step():
    modules = sorted(f"ferry.orchestration.{p.stem}" for p in (REPO / "ferry" / "orchestration").glob("*.py")
                     if p.stem != "__init__")
    assert "ferry.orchestration.lost_answers" in modules and "ferry.orchestration.plan" in modules
    script = ("import importlib, sys\n"
              f"for name in {modules!r}: importlib.import_module(name)\n"
              f"print(sorted(m for m in sys.modules if m in {IMPURE!r} or m.startswith(('requests.', 'azure.'))))")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_check_sees_an_impure_import():
    script = "import sys, ferry.steps; print('ferry.steps' in sys.modules and 'requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
