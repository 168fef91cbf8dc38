"""Live progress of a sync: the custom status counts rows while a chunk runs, not only when it finishes.

HTTP in (`POST /api/sync`, the status query URI the CLI and dashboard poll), emulator state out. The source's
third and fourth copies never finish (emulator copy behaviour), so the sync holds mid-way inside its only chunk
until those copies reach their deadline: its status must show the two finished rows meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sync_support import SyncStack

MODELS = 6


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncStack]:
    with SyncStack.running(tmp_path_factory.mktemp("sync-progress"),
                           extra={"FERRY_SYNC_MAX_PARALLEL_COPIES": "2", "FERRY_COPY_DEADLINE_SECONDS": "900"}) as s:
        yield s


def test_custom_status_shows_rows_done_while_the_chunk_runs(stack: SyncStack) -> None:
    models = sorted(stack.train("src") for _ in range(MODELS))
    src = stack.handle("src")
    src.set_copy_behaviour("normal", 2)
    src.set_copy_behaviour("never_finish", 2)

    resp = stack.sync({"source": "src", "targets": ["dst"]})
    assert resp.status_code == 202, resp.text
    instance_id, status_uri = resp.json()["id"], resp.json()["statusQueryGetUri"]
    seen: list[dict[str, Any]] = []

    def mid_way() -> dict[str, Any] | None:
        body = requests.get(status_uri, timeout=10).json()
        custom = body.get("customStatus") or {}
        seen.append({"runtimeStatus": body.get("runtimeStatus"), **custom})
        dst = (custom.get("progress") or {}).get("dst") or {}
        if body.get("runtimeStatus") == "Running" and 0 < int(dst.get("done") or 0) < int(dst.get("total") or 0):
            return body
        return None

    held = stack.host.wait_until(mid_way, timeout=60, what="a sync status with some but not all rows done")
    custom = held["customStatus"]
    assert custom["stage"] == "copying" and custom["source"] == "src", custom
    assert custom["progress"]["dst"] == {"done": 2, "total": MODELS, "throttled": 0}, custom
    assert custom["throughput"] and custom["throughput"] > 0, custom
    # the sync is held inside its only chunk
    assert stack.host.status(f"{instance_id}:c0000")["runtimeStatus"] == "Running"

    final = stack.host.wait_for(instance_id, timeout=120)
    assert final["runtimeStatus"] == "Completed", final
    output = final["output"]
    assert output["counts"]["dst"]["copied"] == MODELS - 2 and output["counts"]["dst"]["failed"] == 2, output
    assert final["customStatus"]["progress"]["dst"] == {"done": MODELS, "total": MODELS, "throttled": 0}
    assert len(set(stack.models("dst")) & set(models)) == MODELS - 2
    # progress never went backwards, and the live entity was deleted at the end
    done = [int(((s.get("progress") or {}).get("dst") or {}).get("done") or 0) for s in seen]
    assert done == sorted(done), done
    # (the delete is a signal, processed just after the sync finished)
    stack.host.wait_until(lambda: stack.host.read_entity("sync_progress", instance_id) is None, timeout=30,
                          what="the sync's progress entity deleted")
