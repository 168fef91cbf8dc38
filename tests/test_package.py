"""What `.funcignore` leaves is exactly the Function App, and it stands on its own runtime dependencies.

The local cloud, the local host, tests and tooling must never ship; and the shipped code must not import them
(nor any dev-only package), or the app would work here and fail in Azure.
"""

from __future__ import annotations

import ast
import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIME_IMPORTS = {"azure", "requests", "urllib3"}  # requirements.txt (urllib3 comes with requests)
EXPECTED_FUNCTIONS = {"start_copy", "on_model_trained", "copy_model", "copy_model_to_target", "plan_copy",
                      "check_source_model", "authorize_and_start_copy", "poll_copy", "get_target_model",
                      "delete_target_model", "list_target_copies", "compose_on_target", "resource_budget",
                      "replica_catalog", "list_replicas", "get_replica", "list_runs", "doctor", "dashboard",
                      "start_sync", "sync_on_schedule", "sync_estate", "sync_chunk", "sync_lane", "v2_replicas",
                      "sync_progress", "sync_prepare", "sync_plan", "sync_prune"}


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            if pattern.rstrip("/") in parts[:-1]:
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def packaged_files() -> list[str]:
    patterns = [line.strip() for line in (REPO / ".funcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [rel for rel in tracked.split() if not _ignored(rel, patterns)]


def test_only_the_app_is_packaged() -> None:
    files = packaged_files()
    tops = {rel.split("/")[0] for rel in files}
    assert tops == {"function_app.py", "host.json", "requirements.txt", "README.md", "HttpStart",
                    "EventGridStart", "CopyOrchestrator", "activities", "ResourceBudget", "ferry", "OperatorApi",
                    "SyncStart", "SyncOrchestrator"}, tops


def test_packaged_code_imports_only_itself_the_stdlib_and_runtime_requirements() -> None:
    files = packaged_files()
    local = {rel.split("/")[0].removesuffix(".py") for rel in files if rel.endswith(".py")}
    offending = []
    for rel in files:
        if not rel.endswith(".py"):
            continue
        for node in ast.walk(ast.parse((REPO / rel).read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local and top not in RUNTIME_IMPORTS:
                    offending.append(f"{rel}: import {name}")
    assert offending == []


def test_the_package_alone_indexes_every_function(tmp_path: Path) -> None:
    for rel in packaged_files():
        dest = tmp_path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest)
    probe = ("import function_app; "
             "print(sorted(f.get_function_name() for f in function_app.app.get_functions()))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert set(ast.literal_eval(out.stdout.strip().splitlines()[-1])) == EXPECTED_FUNCTIONS


def test_the_dashboard_page_ships_with_the_app() -> None:
    files = set(packaged_files())
    for name in ("index.html", "dashboard.css", "dashboard.js"):
        assert f"OperatorApi/dashboard/{name}" in files
    assert not any(rel.startswith("modelferry_cli/") for rel in files)
