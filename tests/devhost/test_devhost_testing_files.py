"""devhost.testing's readers for files the app under test writes: content, never mere existence."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from devhost.testing import read_json_lines, wait_for_json


def test_wait_for_json_waits_past_an_empty_and_a_half_written_file(tmp_path: Path) -> None:
    marker = tmp_path / "timer.json"
    marker.write_text("")  # what a reader at existence saw: the writer has opened (truncated) the file
    half = threading.Timer(0.05, lambda: marker.write_text('{"past_'))
    full = threading.Timer(0.15, lambda: marker.write_text(json.dumps({"past_due": False})))
    half.start()
    full.start()
    try:
        assert wait_for_json(marker, timeout=10) == {"past_due": False}
    finally:
        half.cancel()
        full.cancel()


def test_wait_for_json_says_what_it_last_saw(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(AssertionError, match="does not parse yet"):
        wait_for_json(tmp_path / "empty.json", timeout=0.1)
    with pytest.raises(AssertionError, match="does not exist"):
        wait_for_json(tmp_path / "missing.json", timeout=0.1)


def test_read_json_lines_skips_the_line_still_being_written(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    assert read_json_lines(log) == []  # not there yet
    log.write_text('{"step": "a"}\n\n{"step": "b"}\n{"step": "c", "ev')
    assert read_json_lines(log) == [{"step": "a"}, {"step": "b"}]
    with log.open("a") as fh:
        fh.write('ent": "end"}\n')
    assert read_json_lines(log)[-1] == {"step": "c", "event": "end"}
