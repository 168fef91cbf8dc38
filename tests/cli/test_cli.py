"""Every `modelferry` command against a running stack: output, --json, exit codes (0 / 1 / 2), bad arguments,
and errors as one message with a hint, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.operator_stack import REPO, Stack, unique


def no_traceback(result) -> None:
    assert "Traceback" not in result.out + result.err


# ------------------------------------------------------------------------------------------------ copy


def test_copy_wait_succeeds_with_a_table_per_target(stack: Stack, run) -> None:
    model_id = stack.seed("src", unique("cli-copy"))
    result = run("copy", model_id, "--wait")
    assert result.code == 0, result.err
    assert "west" in result.out and "europe" in result.out and result.out.count("succeeded") >= 3
    assert stack.model("west", model_id) is not None and stack.model("europe", model_id) is not None


def test_copy_json_and_without_wait(stack: Stack, run) -> None:
    model_id = stack.seed("src", unique("cli-json"))
    result = run("copy", model_id, "--to", "west", "--from", "src", "--wait", "--json")
    assert result.code == 0, result.err
    body = result.json()
    assert body["runtimeStatus"] == "Completed" and body["output"]["status"] == "succeeded"
    assert list(body["output"]["targets"]) == ["west"]
    started = run("copy", stack.seed("src", unique("cli-nowait")), "--to", "europe", "--json")
    assert started.code == 0 and started.json()["id"] and started.json()["statusQueryGetUri"]
    stack.host.wait_for(started.json()["id"], timeout=60)
    plain = run("copy", stack.seed("src", unique("cli-plain")), "--to", "europe")
    assert plain.code == 0 and "copy started:" in plain.out and "modelferry status" in plain.out
    stack.host.wait_for(plain.out.split("copy started:")[1].split()[0], timeout=60)


def test_copy_a_classifier(stack: Stack, run) -> None:
    classifier_id = unique("cli-cls")
    stack.resource("src").seed_classifier(classifier_id)
    result = run("copy", classifier_id, "--classifier", "--to", "west", "--wait")
    assert result.code == 0, result.out + result.err
    assert f"classifier {classifier_id}" in result.out and "succeeded" in result.out
    refused = run("copy", classifier_id, "--classifier", "--to", "v2dst")
    assert refused.code == 2 and "Hint:" in refused.err


def test_failed_copy_exits_1_with_error_code_and_hint(stack: Stack, run) -> None:
    model_id = stack.seed("src", unique("cli-fail"))
    stack.resource("src").set_copy_behaviour("fail", 3, code="2024")
    result = run("copy", model_id, "--to", "west", "--wait")
    assert result.code == 1
    assert "2024" in result.out and "failed" in result.out
    no_traceback(result)


def test_copy_bad_arguments_exit_2(run) -> None:
    missing = run("copy")
    assert missing.code == 2 and "Missing argument" in missing.err
    unknown = run("copy", "some-model", "--to", "nowhere")
    assert unknown.code == 2 and "nowhere" in unknown.err and "Hint:" in unknown.err
    no_traceback(unknown)
    as_json = run("copy", "some-model", "--to", "nowhere", "--json")
    assert as_json.code == 2 and as_json.json()["error"]["code"]
    assert run("copy", "x", "--bogus").code == 2


# ------------------------------------------------------------------------------------------------ status/runs


def test_status_of_a_run(stack: Stack, run) -> None:
    model_id = stack.seed("src", unique("cli-status"))
    done = stack.copy({"modelId": model_id, "targets": ["west"]})
    result = run("status", done["instanceId"])
    assert result.code == 0, result.err
    assert done["instanceId"] in result.out and model_id in result.out and "Completed" in result.out
    assert "west" in result.out
    body = run("status", done["instanceId"], "--json").json()
    assert body["run"]["outcome"] == "succeeded" and body["status"]["output"]["modelId"] == model_id
    unknown = run("status", "copy-no-such-run")
    assert unknown.code == 1 and "no copy or sync run" in unknown.err and "modelferry runs" in unknown.err
    assert run("status").code == 2


def test_status_of_a_failed_run_exits_1(stack: Stack, run) -> None:
    model_id = stack.seed("src", unique("cli-status-bad"))
    stack.resource("src").set_copy_behaviour("fail", 3, code="2024")
    done = stack.copy({"modelId": model_id, "targets": ["west"]})
    result = run("status", done["instanceId"])
    assert result.code == 1 and "2024" in result.out


def test_runs_table_filters_and_bad_since(stack: Stack, run) -> None:
    ok_model, bad_model = stack.seed("src", unique("cli-runs-ok")), stack.seed("src", unique("cli-runs-bad"))
    ok = stack.copy({"modelId": ok_model, "targets": ["west"]})
    stack.resource("src").set_copy_behaviour("fail", 3, code="2024")
    bad = stack.copy({"modelId": bad_model, "targets": ["west"]})
    table = run("runs")
    assert table.code == 0 and ok["instanceId"] in table.out and bad["instanceId"] in table.out
    assert table.out.index(bad["instanceId"]) < table.out.index(ok["instanceId"])  # newest first
    failed = run("runs", "--failed", "--since", "24h")
    assert failed.code == 0 and bad["instanceId"] in failed.out and ok["instanceId"] not in failed.out
    body = run("runs", "--kind", "copy", "--json").json()
    assert {r["kind"] for r in body["runs"]} == {"copy"}
    bad_since = run("runs", "--since", "yesterday")
    assert bad_since.code == 2 and "24h" in bad_since.err
    assert run("runs", "--kind", "batch").code == 2
    no_traceback(bad_since)


# ------------------------------------------------------------------------------------------------ replicas


def test_replicas_matrix_detail_lookup_and_export(stack: Stack, run, tmp_path: Path) -> None:
    model_id = stack.seed("src", unique("cli-rep"))
    stack.copy({"modelId": model_id})
    lonely = stack.seed("src", unique("cli-lonely"))
    matrix = run("replicas", "--refresh")
    assert matrix.code == 0, matrix.err
    line = next(row for row in matrix.out.splitlines() if model_id in row)
    assert line.count("current") == 2
    assert "missing" in next(row for row in matrix.out.splitlines() if lonely in row)
    assert "west (westus2)" in matrix.out and "europe (westeurope)" in matrix.out
    detail = run("replicas", model_id)
    assert detail.code == 0 and stack.resource("west").endpoint in detail.out
    use = run("replicas", model_id, "--region", "westus2")
    assert use.code == 0 and f"use {model_id} at {stack.resource('west').endpoint}" in use.out
    assert run("replicas", model_id, "--region", "westeurope", "--json").json()["region"] == "westeurope"
    none = run("replicas", lonely, "--region", "westus2")
    assert none.code == 1 and "ReplicaNotFound" in none.err
    assert run("replicas", "--region", "westus2").code == 2
    as_json = run("replicas", model_id, "--json").json()
    assert [r["id"] for r in as_json["replicas"]] == [model_id]
    target = tmp_path / "failover.json"
    exported = run("replicas", "--export", str(target))
    assert exported.code == 0 and str(target) in exported.out
    data = json.loads(target.read_text())
    assert data[model_id]["westus2"] == {"endpoint": stack.resource("west").endpoint, "modelId": model_id}
    assert lonely not in data
    unknown = run("replicas", "no-such-model")
    assert unknown.code == 1 and "no artifact" in unknown.err
    bad_source = run("replicas", "--from", "nowhere")
    assert bad_source.code == 2 and "nowhere" in bad_source.err


# ------------------------------------------------------------------------------------------------ doctor


def test_doctor_ok_and_broken(stack: Stack, run) -> None:
    ok = run("doctor")
    assert ok.code == 0 and "all checks passed" in ok.out
    assert "west" in ok.out and "westus2" in ok.out and "2024-11-30" in ok.out and "managed identity" in ok.out
    assert run("doctor", "--json").json()["ok"] is True
    assert run("doctor", "--bogus").code == 2
    handle = stack.resource("west")
    original = handle.keys[0]
    handle.rotate_key("key1")  # the vault still holds the old key
    try:
        broken = run("doctor")
        as_json = run("doctor", "--json")
    finally:
        handle.rotate_key("key1", original)
    assert broken.code == 1 and "FAILED" in broken.out and "problem" in broken.out
    assert as_json.code == 1 and any(p["where"] == "west" and p["fix"] for p in as_json.json()["problems"])


# ------------------------------------------------------------------------------------------------ plumbing


def test_unreachable_app_and_bad_key(stack: Stack, run) -> None:
    down = run("runs", "--url", "http://127.0.0.1:9", connect=False)
    assert down.code == 1 and "cannot reach ModelFerry" in down.err and "make up" in down.err
    no_traceback(down)
    wrong = run("runs", "--url", stack.url, "--key", "wrong", connect=False)
    assert wrong.code == 1 and "function key" in wrong.err
    assert run("runs", "--url", "ftp://x", connect=False).code == 2


def test_environment_variables_name_the_app(stack: Stack, run, monkeypatch) -> None:
    monkeypatch.setenv("MODELFERRY_URL", stack.url)
    monkeypatch.setenv("MODELFERRY_KEY", stack.key)
    assert run("runs", "--json", connect=False).code == 0


def test_the_console_script_entry_point(stack: Stack) -> None:
    proc = subprocess.run([sys.executable, "-m", "modelferry_cli", "runs", "--url", stack.url, "--key", stack.key,
                           "--json"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "runs" in json.loads(proc.stdout)
    usage = subprocess.run([sys.executable, "-m", "modelferry_cli", "nope"], cwd=REPO, capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 2 and "No such command" in usage.stderr
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'modelferry = "modelferry_cli.main:main"' in pyproject


def test_finds_the_running_make_up_stack_by_itself(stack: Stack, run, tmp_path: Path, monkeypatch) -> None:
    import os
    record = tmp_path / ".local" / "demo" / "7071" / "stack.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"command": "python -m demo --up", "pid": os.getpid(), "port": 7071,
                                  "host_url": stack.url}))
    monkeypatch.chdir(tmp_path)
    found = run("runs", "--key", stack.key, "--json", connect=False)
    assert found.code == 0, found.err
    record.write_text(json.dumps({"command": "python -m demo --up", "pid": 999_999_999, "port": 7071,
                                  "host_url": stack.url}))  # a stack that is gone is not used
    from modelferry_cli.client import DEFAULT_URL, App
    assert App.resolve(None, None).url == DEFAULT_URL
