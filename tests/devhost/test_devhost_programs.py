"""Property test: random programs mixing activities, retries (hidden ids), WhenAll, WhenAny, timers,
sub-orchestrations, entity calls and signals all complete with the predicted output. Any id the host numbered
differently from the SDK would fail the instance (non-determinism) or hang it (caught by the wait timeout)."""

from __future__ import annotations

import random

import pytest


def random_task(rng: random.Random, tag: str) -> list:
    kind = rng.choice(["act", "act", "retry", "timer"])
    if kind == "act":
        return ["act", rng.randint(0, 50)]
    if kind == "retry":
        return ["retry", tag, rng.randint(0, 3), rng.randint(1, 3)]
    return ["timer", rng.randint(1, 120)]


def random_program(seed: int) -> list:
    rng = random.Random(seed)
    steps = []
    for i in range(rng.randint(3, 8)):
        tag = f"s{seed}-{i}"
        kind = rng.choice(["act", "retry", "timer", "all", "any", "sub", "entity", "signal"])
        if kind == "act":
            steps.append(["act", rng.randint(0, 50)])
        elif kind == "retry":
            steps.append(["retry", tag, rng.randint(0, 3), rng.randint(1, 3)])
        elif kind == "timer":
            steps.append(["timer", rng.randint(1, 600)])
        elif kind == "all":
            steps.append(["all", [random_task(rng, f"{tag}-{j}") for j in range(rng.randint(1, 4))]])
        elif kind == "any":
            # an activity against a long timer: the activity wins (time never jumps while it runs)
            steps.append(["any", [["act", rng.randint(0, 9)], ["timer", 3600]]])
        elif kind == "sub":
            steps.append(["sub", rng.randint(0, 9)])
        else:
            steps.append([kind, f"k{seed}", rng.randint(1, 9)])
    return steps


def expected(program: list) -> list:
    totals: dict[str, int] = {}

    def task_value(step: list):
        if step[0] == "act":
            return 2 * step[1], True
        if step[0] == "retry":
            _, _, fails, max_attempts = step
            return (f"ok after {fails + 1}", True) if fails < max_attempts else ("failed", False)
        return None, True  # timer

    out: list = []
    for step in program:
        kind = step[0]
        if kind in ("act", "retry"):
            out.append(task_value(step)[0])
        elif kind == "timer":
            out.append("timer")
        elif kind == "all":
            values = [task_value(s) for s in step[1]]
            out.append([v for v, _ in values] if all(ok for _, ok in values) else "failed")
        elif kind == "any":
            out.append("any")
        elif kind == "sub":
            v = step[1]
            out.append({"a": 2 * v, "b": 4 * v, "c": f"Hello {4 * v}!"})
        elif kind == "entity":
            totals[step[1]] = totals.get(step[1], 0) + step[2]
            out.append(totals[step[1]])
        elif kind == "signal":
            totals[step[1]] = totals.get(step[1], 0) + step[2]
            out.append("signalled")
    return out


@pytest.mark.parametrize("seed", range(40))
def test_random_program_completes_as_predicted(host, seed):
    """Covers (over the seeds) retries failing inside WhenAll: the SDK fails fast, the shim awaits the rest."""
    program = random_program(seed)
    iid = host.start_new("program", program)
    st = host.wait_for(iid, timeout=30)
    assert st["runtimeStatus"] == "Completed", st["output"]
    assert st["output"] == expected(program), program
