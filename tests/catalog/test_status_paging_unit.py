"""`list_statuses` reads every run although the SDK's `get_status_by` returns only one page (oldest first)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from OperatorApi.endpoints import list_statuses

T0 = datetime(2026, 6, 1, tzinfo=UTC)


class PagedClient:
    """Like the local host: instances created at or after `created_time_from`, oldest first, `page` at most."""

    def __init__(self, count: int, page: int = 100, same_time: int = 1) -> None:
        self.items = [SimpleNamespace(instance_id=f"i{n:04d}", created_time=T0 + timedelta(seconds=n // same_time))
                      for n in range(count)]
        self.page = page
        self.calls = 0

    async def get_status_by(self, created_time_from=None, **_):
        self.calls += 1
        chosen = [i for i in self.items if created_time_from is None or i.created_time >= created_time_from]
        return chosen[: self.page]


def test_every_run_across_pages() -> None:
    client = PagedClient(250)
    found = asyncio.run(list_statuses(client, None))
    assert sorted(s.instance_id for s in found) == [f"i{n:04d}" for n in range(250)]
    assert client.calls <= 5


def test_since_and_a_single_page() -> None:
    client = PagedClient(30)
    found = asyncio.run(list_statuses(client, T0 + timedelta(seconds=10)))
    assert len(found) == 20 and client.calls == 2


def test_runs_created_at_the_same_instant_do_not_loop_forever() -> None:
    client = PagedClient(300, page=100, same_time=300)
    found = asyncio.run(list_statuses(client, None))
    assert len(found) == 100 and client.calls == 2
