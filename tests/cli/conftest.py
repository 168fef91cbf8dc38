"""The operator stack for the command-line tests, and `run(...)`: the real `modelferry` entry point in-process
(its exit code, stdout and stderr), pointed at the stack with --url/--key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from modelferry_cli.main import main
from tests.operator_stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("cli")) as running:
        yield running


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Callable[..., Result]]:
    monkeypatch.delenv("MODELFERRY_URL", raising=False)
    monkeypatch.delenv("MODELFERRY_KEY", raising=False)

    def invoke(*args: str, connect: bool = True) -> Result:
        capsys.readouterr()
        argv = list(args) + (["--url", stack.url, "--key", stack.key] if connect else [])
        code = main(argv)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield invoke
    for handle in stack.cloud.resources.values():
        handle.clear_faults()
        with handle.world.lock:
            handle.backend.copy_behaviours.clear()
