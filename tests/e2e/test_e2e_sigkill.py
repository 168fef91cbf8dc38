"""Crash safety: SIGKILL the devhost process in the middle of a copy, restart it on the same store.

Real processes and the real clock, as a user runs them: the local cloud in process (real clock), the app under
`python -m devhost start --store ... --clock real`. The copy is started by HTTP; once the target's orchestration
shows the copy running on the service, the host is killed with SIGKILL, then started again on the same store.
The run must finish with exactly one model on the target and nothing else left there (no orphan, no invalid
model, no second copy operation still pending).
"""

import time

import pytest
import requests
from e2e_support import resource_id

from tests.host_process import HostProcess, wait_for
from tests.host_process import real_cloud as cloud_of
from tests.host_process import write_settings as settings_of

pytestmark = pytest.mark.slow


@pytest.fixture
def real_cloud(tmp_path):
    with cloud_of(tmp_path / "cloud", "crash-src", "crash-dst", resource_id) as cloud:
        yield cloud


def write_settings(cloud, tmp_path, api_version: str = "2024-11-30"):
    return settings_of(cloud, tmp_path, "crash-src", "crash-dst", api_version)


def start_copy(host: HostProcess, model_id: str) -> str:
    """Start the host and POST /api/copies for `model_id`: the run's instance id."""
    host.start()
    resp = requests.post(f"{host.url}/api/copies", json={"modelId": model_id}, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def finish_after_restart(host: HostProcess, iid: str) -> dict:
    host.kill()
    host.start()  # same store, same port
    return wait_for(lambda: host.ended(iid), 60, "the copy to finish after the restart")


COPY_KINDS = ("documentModelCopyTo", "v2copy")


def assert_one_model_no_orphan(cloud, final: dict, model_id: str | None) -> list[dict]:
    """Exactly one ready model on the target: `model_id` (v3+), or the one the output names (v2)."""
    assert final["runtimeStatus"] == "Completed", final
    assert final["output"]["status"] == "succeeded", final["output"]

    def copies_settled():
        ops = [op for op in cloud.resource("crash-src").operations() if op["kind"] in COPY_KINDS]
        return ops if ops and all(op["status"] in ("succeeded", "failed") for op in ops) else None
    # a request the killed process had in flight may still be carried out by the service: let it settle too
    copies = wait_for(copies_settled, 15, "every copy operation to end")
    kept = final["output"]["targets"]["crash-dst"]["targetModelId"]
    target_models = cloud.resource("crash-dst").models()
    assert [m["modelId"] for m in target_models] == [model_id or kept], (final["output"], target_models)
    assert target_models[0]["status"] == "ready" and kept == target_models[0]["modelId"]
    return copies


def test_sigkill_mid_copy_then_restart_finishes_with_one_model_and_no_orphan(real_cloud, tmp_path):
    cloud = real_cloud
    settings_file = write_settings(cloud, tmp_path)
    src = cloud.resource("crash-src")
    model_id = src.seed_model("v3", "crash-model", description="to be copied", api_version="2024-11-30")

    host = HostProcess.in_dir(settings_file, tmp_path)
    try:
        iid = start_copy(host, model_id)
        child_url = f"{host.url}/runtime/webhooks/durabletask/instances/{iid}:crash-dst"

        def copying():
            r = requests.get(child_url, timeout=5)
            custom = r.json().get("customStatus") if r.status_code in (200, 202) else None
            return isinstance(custom, dict) and custom.get("stage") in ("copying", "polling")
        wait_for(copying, 30, "the copy to be running on the service")
        running = [op for op in src.operations() if op["kind"] == "documentModelCopyTo"]
        assert [op["status"] for op in running] in (["notStarted"], ["running"])
        final = finish_after_restart(host, iid)
    finally:
        host.stop()

    copies = assert_one_model_no_orphan(cloud, final, model_id)
    assert len(copies) == 1  # the copy was recorded before the crash: not issued a second time


def test_sigkill_during_the_copy_activity_then_restart(real_cloud, tmp_path):
    """Killed while `authorize_and_start_copy` waits on the copy POST: the activity runs again after the restart
    (at least once), the service still carries out the first POST, and the run ends with one good model."""
    cloud = real_cloud
    settings_file = write_settings(cloud, tmp_path)
    src, dst = cloud.resource("crash-src"), cloud.resource("crash-dst")
    model_id = src.seed_model("v3", "crash-model-2", description="to be copied", api_version="2024-11-30")
    src.fail_next("copy", 1, "slow", seconds=2.0)  # the first copy POST answers only after 2 s

    host = HostProcess.in_dir(settings_file, tmp_path)
    try:
        iid = start_copy(host, model_id)
        wait_for(lambda: any(e["operation"] == "authorizeCopy" for e in dst.request_log()), 30,
                 "the activity to authorize on the target")
        time.sleep(0.3)  # now inside the slow copy POST
        assert not any(e["operation"] == "copy" for e in src.request_log())  # not answered yet
        final = finish_after_restart(host, iid)
    finally:
        host.stop()

    assert_one_model_no_orphan(cloud, final, model_id)


@pytest.mark.parametrize("api_version", ["v2.1", "2024-11-30"])
def test_repeated_sigkills_inside_the_copy_activity_leave_exactly_one_model(real_cloud, tmp_path, api_version):
    """Killed three times while `authorize_and_start_copy` waits on its copy POST: every killed execution's POST
    is still carried out by the service (v2: each into a NEW service-assigned id), the activity runs again after
    each restart, and the run still ends with exactly one model on the target, the one its output names."""
    kills = 3
    cloud = real_cloud
    settings_file = write_settings(cloud, tmp_path, api_version)
    src, dst = cloud.resource("crash-src"), cloud.resource("crash-dst")
    v2 = api_version.startswith("v2")
    model_id = src.seed_model("v2" if v2 else "v3", None if v2 else "crash-model-3",
                              **({} if v2 else {"description": "to be copied", "api_version": api_version}))
    src.fail_next("copy", kills, "slow", seconds=2.0)  # each killed execution's copy POST answers only after 2 s

    host = HostProcess.in_dir(settings_file, tmp_path)
    try:
        iid = start_copy(host, model_id)

        def done():
            return host.ended(iid)

        def authorized(n):
            return sum(e["operation"] == "authorizeCopy" for e in dst.request_log()) >= n

        killed = 0
        for kill in range(1, kills + 1):
            # v3+: once the first killed execution's copy has landed, a re-run finds the id taken and the run
            # ends without another copy POST, so fewer kills may be possible there
            wait_for(lambda n=kill: authorized(n) or done(), 30, f"execution {kill} of the activity")
            if not authorized(kill):
                break
            time.sleep(0.3)  # now inside the slow copy POST
            assert sum(e["operation"] == "copy" for e in src.request_log()) < kill  # this POST not answered yet
            host.kill()
            killed += 1
            if v2:  # the killed execution's POST reaches the service before the host is back: the case the
                # product bounds (an abandoned copy started before the kept one; see docs/architecture.md)
                wait_for(lambda n=kill: sum(op["kind"] in COPY_KINDS for op in src.operations()) >= n, 15,
                         f"the service to start the copy of killed execution {kill}")
            host.start()
        final = wait_for(done, 90, "the copy to finish after the restarts")
    finally:
        host.stop()

    copies = assert_one_model_no_orphan(cloud, final, None if v2 else model_id)
    assert killed == kills if v2 else killed >= 2
    if v2:  # each killed execution's POST was carried out (a copy each); all but one were deleted, and reported
        assert len(copies) == kills + 1
        result = final["output"]["targets"]["crash-dst"]
        assert len(result["cleanedUpTargetModelIds"]) == kills, result
    else:  # v3+: the re-runs authorized the same id, so the service refused or joined the copies into it
        assert 1 <= len(copies) <= kills + 1
