"""`modelferry sync` against a running stack: dry run, live progress and the final table, a failure (exit 1),
a second sync that finds everything up to date, bad arguments (exit 2)."""

from __future__ import annotations

from tests.operator_stack import Stack, unique


def test_sync_dry_run_then_real_then_up_to_date(stack: Stack, run) -> None:
    prefix = unique("sync")
    ids = [stack.seed("src", f"{prefix}-{n}") for n in range(3)]
    dry = run("sync", "--dry-run", "--include", f"{prefix}-*", "--wait")
    assert dry.code == 0, dry.out + dry.err
    assert "dry run" in dry.out and "west" in dry.out and "europe" in dry.out
    assert all(stack.model("west", i) is None for i in ids)  # a dry run changes nothing

    real = run("sync", "--include", f"{prefix}-*", "--wait")
    assert real.code == 0, real.out + real.err
    assert "429s:" in real.out and "3/3" in real.out  # the progress bar per target, at its end
    table = real.out.split("sync of src")[1]
    west_row = next(line for line in table.splitlines() if "west" in line)
    assert west_row.split("│")[2].strip() == "3"  # copied
    assert all(stack.model("west", i) and stack.model("europe", i) for i in ids)

    again = run("sync", "--include", f"{prefix}-*", "--wait", "--json")
    assert again.code == 0
    counts = again.json()["output"]["counts"]
    assert counts["west"]["upToDate"] == 3 and counts["west"]["copied"] == 0
    shown = run("status", again.json()["instanceId"])
    assert shown.code == 0 and "sync of src" in shown.out and "upToDate" in shown.out
    listed = run("runs", "--kind", "sync", "--json").json()["runs"]
    assert again.json()["instanceId"] in [r["instanceId"] for r in listed]
    matrix = run("replicas", "--refresh")
    assert all(next(row for row in matrix.out.splitlines() if i in row).count("current") == 2 for i in ids)


def test_sync_with_a_failed_copy_exits_1_and_lists_it(stack: Stack, run) -> None:
    model_id = stack.seed("src", unique("syncfail"))
    stack.resource("src").set_copy_behaviour("fail", 3, code="2024")
    result = run("sync", "--include", model_id, "--to", "west", "--wait")
    assert result.code == 1
    assert model_id in result.out and "2024" in result.out and "failed" in result.out


def test_sync_without_wait_and_bad_arguments(stack: Stack, run) -> None:
    started = run("sync", "--dry-run", "--include", "nothing-matches-*", "--json")
    assert started.code == 0 and started.json()["statusQueryGetUri"]
    stack.host.wait_for(started.json()["id"], timeout=60)
    assert run("sync", "--on-stale", "bogus").code == 2
    bad = run("sync", "--to", "nowhere")
    assert bad.code == 2 and "nowhere" in bad.err and "Hint:" in bad.err
    assert "Traceback" not in bad.out + bad.err
