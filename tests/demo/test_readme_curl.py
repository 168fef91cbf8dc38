"""The README's "Drive it with curl" block, run as a bash script against a stack started like `make up`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import requests
from demo_support import REPO, free_port, start_up


def curl_block() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Drive it with curl"):]
    section = section[:section.index("\n## ")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section has exactly one command block"
    return blocks[0]


def test_the_curl_block_has_no_fixed_host_port() -> None:
    block = curl_block()
    assert "7071" not in block.replace("${PORT:-7071}", "")  # the host address comes from PORT
    assert "<id>" not in block  # nothing to fill in by hand


def test_every_command_of_the_curl_block_works_in_order(tmp_path: Path) -> None:
    # The block reads .local/demo/$PORT/ relative to where it runs: a scratch folder laid out like the repository.
    port = free_port()
    stack = start_up(port, tmp_path / ".local" / "demo" / str(port))
    try:
        script = tmp_path / "curl-block.sh"
        script.write_text("set -euo pipefail\n" + curl_block())
        run = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                             env=dict(os.environ, PORT=str(port)))
        out = run.stdout
        assert run.returncode == 0, f"exit {run.returncode}\n{out[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"

        lines = [line for line in out.splitlines() if line.strip()]
        copy = json.loads(next(line for line in lines if line.startswith('{"name": "copy_model"')))
        assert copy["runtimeStatus"] == "Completed", copy  # the copy started right after the build succeeded
        assert {alias: t["status"] for alias, t in copy["output"]["targets"].items()} == {
            "westus2": "succeeded", "westeurope": "succeeded"}
        assert re.search(r"on_model_trained: event evt-1 started replication \S+ of invoices-2026", out)
        runs_api = json.loads(next(line for line in lines if line.startswith('{"runs"')))["runs"]
        assert [r["kind"] for r in runs_api] == ["copy", "copy"], runs_api  # the HTTP run and the event's run
        assert {r["instanceId"]: r["runtimeStatus"] for r in runs_api}[copy["instanceId"]] == "Completed"
        listed = json.loads(next(line for line in lines if line.startswith("[{")))
        runs = [i for i in listed if ":" not in i["instanceId"]]  # child ids are "<parent>:<target>"
        assert [i["name"] for i in runs] == ["copy_model", "copy_model"]  # the HTTP run and the event's run
        control = json.loads(next(line for line in lines if '"controlRoutes"' in line))
        assert any(r["path"] == "/_emulator/models" for r in control["controlRoutes"])
        west_models = json.loads(lines[-1])["models"]
        assert any(m["modelId"] == "invoices-2026" for m in west_models)

        # what the README says about an event that does nothing: the host log names it and says why
        ignored = [{"id": "evt-2", "eventType": "ModelDeleted", "subject": "models/x",
                    "eventTime": "2026-11-26T10:00:00Z", "dataVersion": "1.0", "data": {"modelId": "x"}}]
        resp = requests.post(f"{stack.host}/runtime/webhooks/eventgrid", params={"functionName": "on_model_trained"},
                             json=ignored, headers={"aeg-event-type": "Notification"}, timeout=30)
        assert resp.status_code in (200, 202), resp.text
        log = stack.workdir / "devhost.log"
        assert "on_model_trained: ignoring event evt-2" in log.read_text()
    finally:
        assert stack.stop() == 0
