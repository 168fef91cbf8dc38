"""checkov on infra/: no failed check, and every suppression is a `// checkov:skip=ID: reason` next to the resource.

checkov lives in its own virtualenv (.venv-checkov, made by the Makefile's `# infra` block) because its pinned
dependencies (pycep-parser 0.5.1 among them) conflict with the app's. It runs offline (--skip-download, and
BC_SKIP_MAPPING so it does not fetch its guideline mapping).

One file is not scanned: infra/core/placement.bicep uses Bicep's fail(), which checkov's parser (pycep-parser
0.5.1) cannot read. It declares no resource (a test below insists), so nothing checkov could check is hidden.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import infra_checks as ic
import pytest

CHECKOV = ic.REPO / ".venv-checkov" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"//\s*checkov:skip=([A-Z0-9_]+):(.*)$", re.M)
# Files checkov's parser cannot read (relative to infra/); each must declare no resource.
NOT_SCANNED = ("core/placement.bicep",)


def start_checkov(directory: Path) -> subprocess.Popen:
    """Start checkov on `directory` (infra/ or a copy of it); `report_of` waits for its JSON report."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make test` (its .venv-checkov stamp target installs checkov)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "CKV_", "PRISMA_"))}
    env["BC_SKIP_MAPPING"] = "TRUE"
    skips = [arg for rel in NOT_SCANNED for arg in ("--skip-path", re.escape(rel))]
    return subprocess.Popen(
        [str(CHECKOV), "-d", str(directory), "--framework", "bicep", "-o", "json", "--skip-download", *skips],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=directory.parent,
    )


def report_of(proc: subprocess.Popen) -> dict[str, Any]:
    """Wait for a started checkov (killed after 120 s) and return its bicep report."""
    try:
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 1), f"checkov crashed ({proc.returncode}): {stderr[-2000:]}"
    report = json.loads(stdout)
    if isinstance(report, list):  # one entry per framework; we ask for bicep only
        (report,) = [r for r in report if r.get("check_type") == "bicep"]
    return report


def _break(root: Path) -> None:
    """In a copy of infra/: remove one justified suppression and turn HTTPS-only off."""
    key_module = root / "app" / "document-intelligence-key.bicep"
    text = key_module.read_text()
    assert "checkov:skip=CKV_AZURE_41:" in text
    key_module.write_text(re.sub(r"  // checkov:skip=CKV_AZURE_41:.*\n", "", text))
    function = root / "app" / "function.bicep"
    text = function.read_text()
    assert "httpsOnly: true" in text
    function.write_text(text.replace("httpsOnly: true", "httpsOnly: false"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """checkov on infra/ and on a broken copy, run side by side (each takes several seconds)."""
    broken = tmp_path_factory.mktemp("checkov") / "infra"
    shutil.copytree(ic.INFRA, broken)
    _break(broken)
    started = time.monotonic()
    procs = {"real": start_checkov(ic.INFRA), "broken": start_checkov(broken)}
    out = {name: report_of(proc) for name, proc in procs.items()}
    out["real"]["_seconds"] = time.monotonic() - started
    return out


@pytest.fixture(scope="module")
def report(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return reports["real"]


def _suppressions_in_sources(root: Path) -> set[tuple[str, str]]:
    found = set()
    for path in root.rglob("*.bicep"):
        for check_id, _reason in SKIP_COMMENT.findall(path.read_text(encoding="utf-8")):
            found.add(("/" + path.relative_to(root).as_posix(), check_id))
    return found


def test_checkov_scans_every_file_and_finds_nothing_unexplained(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
    failed = [(c["check_id"], c["file_path"], c["resource"], c["check_name"])
              for c in report["results"]["failed_checks"]]
    assert failed == []
    # a file checkov cannot parse is listed in parsing_errors (checked above) and not scanned; the rest are
    declared = sum(len(bf.section("resources")) for bf in ic.load_template().files.values())
    assert summary["resource_count"] >= declared
    assert summary["passed"] > 0
    assert report["_seconds"] < 110  # two checkov runs side by side; a loaded 2-core machine needs the margin


def test_every_suppression_has_a_reason_and_is_used(report: dict[str, Any]) -> None:
    skipped = report["results"]["skipped_checks"]
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "").strip()
        assert len(reason) >= 30, f"{check['check_id']} in {check['file_path']} is skipped without a real reason"
    used = {(c["file_path"], c["check_id"]) for c in skipped}
    # a suppression checkov no longer raises is stale: it would hide a future regression silently
    assert _suppressions_in_sources(ic.INFRA) == used


def test_checkov_catches_a_regression(reports: dict[str, dict[str, Any]]) -> None:
    """The removed suppression and HTTPS-only turned off both surface as failed checks."""
    failed = {(c["check_id"], c["file_path"]) for c in reports["broken"]["results"]["failed_checks"]}
    assert ("CKV_AZURE_41", "/app/document-intelligence-key.bicep") in failed
    assert any(path == "/app/function.bicep" for _, path in failed), failed


def test_only_resource_free_files_are_left_unscanned() -> None:
    """The files kept from checkov declare nothing it could check, and no other file needs the exemption."""
    template = ic.load_template()
    for rel in NOT_SCANNED:
        bf = template.files[rel]
        assert bf.section("resources") == {} and bf.section("modules") == {}, rel
        assert "fail(" in bf.text  # the reason for the exemption; without it, scan the file again
    assert [rel for rel, bf in template.files.items() if "fail(" in bf.text] == list(NOT_SCANNED)
