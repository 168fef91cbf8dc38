"""Fixtures shared by the offline infrastructure checks: the parsed template and mutated copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import infra_checks as ic
import pytest


@pytest.fixture(scope="module")
def template() -> ic.Template:
    return ic.load_template()


@pytest.fixture
def mutate(tmp_path: Path):
    """Copy infra/ to a temp dir, apply (file, old, new) replacements, return the parsed copy."""

    def apply(*edits: tuple[str, str, str]) -> ic.Template:
        root = tmp_path / "infra"
        if not root.exists():
            shutil.copytree(ic.INFRA, root)
        for rel, old, new in edits:
            path = root / rel
            text = path.read_text(encoding="utf-8")
            assert old in text, f"mutation target {old!r} not found in {rel}: update the test"
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return ic.load_template(root)

    return apply
