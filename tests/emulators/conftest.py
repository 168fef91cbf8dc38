"""Fixtures: a three-region local cloud on a frozen clock (deterministic), handles and clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emu_helpers import FrozenClock, three_regions

from emulators import LocalCloud


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def cloud(clock: FrozenClock) -> Iterator[LocalCloud]:
    with LocalCloud.from_config(three_regions(), clock=clock) as running:
        yield running


@pytest.fixture
def src(cloud: LocalCloud):
    return cloud.resource("src")


@pytest.fixture
def west(cloud: LocalCloud):
    return cloud.resource("west")


@pytest.fixture
def cmk(cloud: LocalCloud):
    return cloud.resource("cmk")


@pytest.fixture(params=["v2.0", "v2.1"])
def v2(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["2022-08-31", "2023-07-31", "2024-11-30"])
def v3(request: pytest.FixtureRequest) -> str:
    return request.param
