"""``python -m emulators --config``: starts, writes the state file, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulators import ConfigError, LocalCloud

REPO = Path(__file__).resolve().parents[2]


def _run(config: dict, tmp_path: Path) -> subprocess.Popen:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.Popen([sys.executable, "-m", "emulators", "--config", str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_runner_writes_state_serves_and_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    config = json.loads((REPO / "emulators" / "sample-config.json").read_text())
    config["stateFile"] = str(tmp_path / "state.json")
    config["workdir"] = str(tmp_path / "work")
    process = _run(config, tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "state.json").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "state file never appeared"
            time.sleep(0.05)
        state = json.loads((tmp_path / "state.json").read_text())
        assert set(state["resources"]) == {"fr-eastus", "fr-westus2", "fr-westeurope"}
        assert state["keyVault"]["caBundle"].endswith(".pem")
        east = state["resources"]["fr-eastus"]
        r = requests.get(f"{east['endpoint']}/formrecognizer/v2.1/custom/models?op=summary",
                         headers={"Ocp-Apim-Subscription-Key": "eastus-key-2-local-only"}, timeout=5)
        assert r.status_code == 200 and r.json()["summary"]["count"] == 0
        assert east["endpoint"].startswith("http://127.0.0.1:")
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "fr-westeurope" in out and "local cloud stopped" in out
    assert "local-only" not in out + err  # keys are never printed


def test_runner_config_errors_name_the_field(tmp_path: Path) -> None:
    config = json.loads((REPO / "emulators" / "sample-config.json").read_text())
    config["resources"][1]["copySecs"] = 1
    process = _run(config, tmp_path)
    _out, err = process.communicate(timeout=15)
    assert process.returncode == 2
    assert "resources[1].copySecs: unknown field" in err


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda c: c.pop("resources"), "resources: missing required field"),
    (lambda c: c["resources"][0].pop("keys"), "resources[0].keys: missing required field"),
    (lambda c: c["resources"][0].update(keys=["same", "same"]), "resources[0].keys: must be two different"),
    (lambda c: c["resources"][0].update(region="East US"), "resources[0].region"),
    (lambda c: c["resources"][0].update(resourceId="/bad"), "resources[0].resourceId"),
    (lambda c: c["resources"][0].update(copySeconds=-1), "resources[0].copySeconds: must be a number >= 0"),
    (lambda c: c["resources"][0].update(port=70000), "resources[0].port"),
    (lambda c: c["resources"][0].update(rateLimits={"manage": 5, "gets": 1}), "resources[0].rateLimits.gets"),
    (lambda c: c["resources"][1].update(name=c["resources"][0]["name"]), "resources[1].name: duplicate"),
    (lambda c: c["keyVault"].update(secret={}), "keyVault.secret: unknown field"),
    (lambda c: c.update(statefile="x"), "statefile: unknown field"),
])
def test_config_errors_name_the_field(mutate, message: str) -> None:
    config = json.loads((REPO / "emulators" / "sample-config.json").read_text())
    mutate(config)
    with pytest.raises(ConfigError) as problem:
        LocalCloud.from_config(config)
    assert message in str(problem.value)


def test_port_zero_gives_distinct_free_ports_on_loopback() -> None:
    config = json.loads((REPO / "emulators" / "sample-config.json").read_text())
    config.pop("keyVault")
    config.pop("stateFile")
    with LocalCloud.from_config(config) as cloud:
        endpoints = [h.endpoint for h in cloud.resources.values()]
        assert len(set(endpoints)) == 3 and all(e.startswith("http://127.0.0.1:") for e in endpoints)
        assert "keyVault" not in cloud.state and cloud.keyvault is None
