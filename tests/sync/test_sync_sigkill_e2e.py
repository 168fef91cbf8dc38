"""Crash safety of a sync: SIGKILL the devhost process while the sync's copies run, restart it on the same store.

Real processes and the real clock, as a user runs them (the local cloud in process, the app under
`python -m devhost start --clock real`). The sync must finish after the restart with every source model on the
target exactly once, each copied by exactly one successful copy operation, and nothing else left there.
"""

from __future__ import annotations

import pytest
import requests
from sync_support import resource_id

from tests.host_process import HostProcess, real_cloud, wait_for, write_settings

pytestmark = pytest.mark.slow
MODELS = 8
COPY_KINDS = ("documentModelCopyTo",)


@pytest.fixture
def cloud(tmp_path):
    with real_cloud(tmp_path / "cloud", "kill-src", "kill-dst", resource_id) as local_cloud:
        yield local_cloud


def test_sigkill_mid_sync_then_restart_copies_every_model_exactly_once(cloud, tmp_path):
    src, dst = cloud.resource("kill-src"), cloud.resource("kill-dst")
    models = sorted(src.seed_model("v3", f"estate-{i}", api_version="2024-11-30") for i in range(MODELS))
    settings_file = write_settings(cloud, tmp_path, "kill-src", "kill-dst", FERRY_SYNC_SCHEDULE="",
                                   FERRY_SYNC_MAX_PARALLEL_COPIES="4")
    host = HostProcess.in_dir(settings_file, tmp_path)
    try:
        host.start()
        resp = requests.post(f"{host.url}/api/sync", json={}, timeout=30)
        assert resp.status_code == 202, resp.text
        iid = resp.json()["id"]
        # kill while copies run on the service and others have not started yet (4 at a time, 8 models)
        wait_for(lambda: any(op["kind"] in COPY_KINDS for op in src.operations()), 60, "a copy to start")
        assert len(dst.models()) < MODELS
        host.kill()
        host.start()  # same store, same port
        final = wait_for(lambda: host.ended(iid), 120, "the sync to finish after the restart")
    finally:
        host.stop()

    assert final["runtimeStatus"] == "Completed", final
    output = final["output"]
    assert output["status"] == "succeeded", output
    assert output["counts"]["kill-dst"]["copied"] == MODELS and output["counts"]["kill-dst"]["failed"] == 0

    def copies_settled():
        ops = [op for op in src.operations() if op["kind"] in COPY_KINDS]
        return ops if ops and all(op["status"] in ("succeeded", "failed") for op in ops) else None
    copies = wait_for(copies_settled, 15, "every copy operation to end")
    succeeded = sorted(op["sourceModelId"] for op in copies if op["status"] == "succeeded")
    assert succeeded == models  # each model copied by exactly one successful copy operation
    on_target = dst.models()
    assert sorted(m["modelId"] for m in on_target) == models and all(m["status"] == "ready" for m in on_target)
