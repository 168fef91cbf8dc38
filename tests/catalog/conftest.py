"""The operator stack (local cloud + app on devhost over HTTP, keys enforced) for the catalog tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.operator_stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("catalog")) as running:
        yield running


@pytest.fixture
def ops(stack: Stack) -> Iterator[Stack]:
    """The stack, with injected faults and copy behaviours cleared after the test."""
    yield stack
    for handle in stack.cloud.resources.values():
        handle.clear_faults()
        with handle.world.lock:
            handle.backend.copy_behaviours.clear()
