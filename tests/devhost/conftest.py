"""Fixtures for the devhost engine tests: an in-process host on the features sample app."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.testing import DevHost

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def run_log(tmp_path: Path) -> Path:
    return tmp_path / "runs.jsonl"


@pytest.fixture
def host(tmp_path: Path, run_log: Path):
    """The features app on a virtual clock (time skips only while a wait_* call blocks)."""
    with DevHost.start(APPS / "features", store=tmp_path / "store.sqlite",
                       settings={"RUN_LOG": str(run_log)}) as h:
        yield h
        h.index.module.GATE.set()  # never leave a blocked activity behind
