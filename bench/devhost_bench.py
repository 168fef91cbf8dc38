"""devhost benchmark: orchestration throughput and replay cost, on a virtual clock.

* throughput: 1,000 short orchestrations (one activity each) started at once, completed per second;
* replay: an orchestration (batches of 20 parallel activities) whose history reaches 2,000 events; the time of
  one full replay of that history (the SDK's replay of the context JSON plus the host-side action replay),
  median of five runs. The SDK part is dominated by ``dateutil`` parsing every event's Timestamp.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "tests" / "devhost" / "apps" / "features"
N_ORCHESTRATIONS = 1000
HISTORY_EVENTS = 2000


def _throughput(tmp: Path) -> dict:
    from devhost.testing import DevHost

    with DevHost.start(APP, store=tmp / "throughput.sqlite", settings={"RUN_LOG": ""}) as host:
        t0 = time.perf_counter()
        ids = [host.start_new("one_activity", i) for i in range(N_ORCHESTRATIONS)]
        for iid in ids:
            st = host.wait_for(iid, timeout=600)
            if st["runtimeStatus"] != "Completed":
                raise RuntimeError(f"{iid} ended {st['runtimeStatus']}: {st['output']}")
        elapsed = time.perf_counter() - t0
        return {"orchestrations": N_ORCHESTRATIONS, "seconds": elapsed, "per_second": N_ORCHESTRATIONS / elapsed,
                "max_activities": host.engine.max_activities, "max_orchestrators": host.engine.max_orchestrators}


def _replay(tmp: Path) -> dict:
    from devhost import functions as fx
    from devhost.engine import history as h
    from devhost.engine.replay import Replayer
    from devhost.testing import DevHost

    width = 20
    batches = -(-(HISTORY_EVENTS - 4) // (2 * width + 2))  # a batch adds >= 2*width + 2 events
    with DevHost.start(APP, store=tmp / "replay.sqlite", settings={"RUN_LOG": ""}) as host:
        t0 = time.perf_counter()
        iid = host.start_new("batched_history", [batches, width])
        st = host.wait_for(iid, timeout=600)
        total = time.perf_counter() - t0
        if st["runtimeStatus"] != "Completed":
            raise RuntimeError(f"batched_history ended {st['runtimeStatus']}: {st['output']}")
        events = host.history(iid)
        info = host.index.orchestrator("batched_history")
        replayed = [dict(e, IsPlayed=True) for e in events if e["EventType"] != h.EXECUTION_COMPLETED]
        row = host.engine.store.instance(iid)
        ctx = json.dumps({"history": replayed, "input": json.loads(row["input"]), "instanceId": iid,
                          "isReplaying": True, "parentInstanceId": None, "upperSchemaVersion": 1,
                          "upperSchemaVersionNew": 2, "longRunningTimerIntervalDuration": "3.00:00:00",
                          "maximumShortTimerDuration": "6.00:00:00"})
        sdk, host_side = [], []
        for _ in range(5):
            a = time.perf_counter()
            state = json.loads(fx.invoke_orchestrator(info, ctx))
            b = time.perf_counter()
            Replayer(iid, state["actions"][0]).run(replayed)
            c = time.perf_counter()
            sdk.append(b - a)
            host_side.append(c - b)
        if not state.get("isDone"):
            raise RuntimeError("the replay of the full history did not reach the end")
        episodes = sum(1 for e in events if e["EventType"] == h.ORCHESTRATOR_STARTED)
        return {"events": len(events), "episodes": episodes, "run_seconds": total,
                "sdk_replay_ms": statistics.median(sdk) * 1000, "host_replay_ms": statistics.median(host_side) * 1000}


def main() -> int:
    """Print the devhost figures and the machine they come from; 0 on success."""
    import logging

    logging.getLogger("devhost").setLevel(logging.WARNING)
    print(f"machine: {platform.platform()} | {platform.machine()} | {platform.processor() or 'cpu?'} | "
          f"os.cpu_count()={os.cpu_count()} | Python {platform.python_version()}")
    print("clock: virtual (devhost.testing, time skipping while waiting); store: SQLite WAL in a temp dir")
    with tempfile.TemporaryDirectory(prefix="devhost-bench-") as tmp:
        t = _throughput(Path(tmp))
        print(f"throughput: {t['orchestrations']} orchestrations x 1 activity in {t['seconds']:.2f} s "
              f"-> {t['per_second']:.0f} orchestrations/s (activity pool {t['max_activities']}, "
              f"orchestrator pool {t['max_orchestrators']})")
        r = _replay(Path(tmp))
        print(f"replay: history of {r['events']} events ({r['episodes']} episodes, whole run "
              f"{r['run_seconds']:.2f} s); one full replay: SDK {r['sdk_replay_ms']:.1f} ms + "
              f"host action replay {r['host_replay_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
