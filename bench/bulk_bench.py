"""Bulk benchmark: many copies at once at the service's S0 rate limits, side by side in one run.

Against the local cloud on the REAL clock, with the emulator enforcing S0 limits (5 model-management calls per
second per resource, 50 gets, 10 lists), `MODELS` source models × 2 targets (`MODELS × 2` copy POSTs, all on the
one source resource), each contender on its own fresh source/targets:
  * ModelFerry, twice: `POST /api/sync` of the whole source (when the app has the sync orchestrator), and
    `MODELS` concurrent `POST /api/copies` (one per model, both targets) — over HTTP to devhost running the app
    on the real clock;
  * the official SDK (`azure-ai-documentintelligence`: `authorize_model_copy` + `begin_copy_model_to`) in a plain
    8-thread pool, one job per (model, target), azure-core's retry policy honouring Retry-After on 429;
  * the rate-limit bound: `MODELS × 2` copy POSTs on one source at 5 per second, plus one copy time — the bound of
    copies sent from the source. A sync relays part of its copies from a target that received the model first
    (`ferry.orchestration.relay`; concurrent `/api/copies` do too once the source's budget is booked ahead),
    which spreads the management calls over every budget: its own floor is the
    busiest budget's share, 2·MODELS·2/3 calls at 5 per second, plus two copy times (a relay waits for the
    first copy), printed beside it, with the copy POSTs each contender's source sent.
Every contender runs ROUNDS times (`BULK_ROUNDS`, default 3), the rounds interleaved so a busy moment of the
machine does not fall on one contender only. For each: the median wall time (first request to last copy done)
and its range, the median's fraction of the bound, model-management calls and how many were answered 429. Also
the plan of a `PLAN_MODELS`-model source (a dry-run sync): its time, list calls and the memory the host grew by
while planning.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
MODELS = int(os.environ.get("BULK_MODELS", "30"))
ROUNDS = int(os.environ.get("BULK_ROUNDS", "3"))
TARGETS = ("a", "b")
COPY_SECONDS = 1.0
API_VERSION = "2024-11-30"
S0 = {"manage": 5, "get": 50, "list": 10}
SDK_THREADS = 8
SDK_RETRY_STATUS = 20
PLAN_MODELS = 5000
SUB = "00000000-0000-0000-0000-00000000b4c5"
MANAGE_OPS = frozenset({"authorizeCopy", "copy", "deleteModel"})
GOAL_FRACTION = 0.8
GOAL_THROTTLED = 0.05


def _rid(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.CognitiveServices/accounts/{name}"


def _names(contender: str) -> tuple[str, ...]:
    return (f"{contender}-src", *(f"{contender}-{t}" for t in TARGETS))


KINDS = ("sync", "copies", "sdk")
FERRY_KINDS = ("sync", "copies")
# each contender of each round on its own fresh source and targets ("sync1-src", "sdk3-a", ...)
CONTENDERS = tuple(f"{kind}{n}" for n in range(1, ROUNDS + 1) for kind in KINDS)
FERRY_CONTENDERS = tuple(c for c in CONTENDERS if c.rstrip("0123456789") in FERRY_KINDS)


def _cloud_config(workdir: Path) -> tuple[dict[str, Any], dict[str, list[str]]]:
    keys: dict[str, list[str]] = {}
    resources = []
    regions = ("eastus", "westus2", "westeurope")
    for contender in CONTENDERS:
        for name, region in zip(_names(contender), regions, strict=True):
            keys[name] = [secrets.token_hex(16), secrets.token_hex(16)]
            resources.append({"name": name, "region": region, "port": 0, "keys": keys[name],
                              "resourceId": _rid(name), "copySeconds": COPY_SECONDS, "rateLimits": dict(S0)})
    for name, region in (("plan-src", "eastus"), ("plan-dst", "westus2")):
        keys[name] = [secrets.token_hex(16), secrets.token_hex(16)]
        resources.append({"name": name, "region": region, "port": 0, "keys": keys[name], "resourceId": _rid(name),
                          "rateLimits": dict(S0)})
    config = {"resources": resources,
              "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys.items()}},
              "workdir": str(workdir)}
    return config, keys


def _settings(cloud: Any) -> dict[str, str]:
    state = cloud.state
    resources = {}
    for contender in (*FERRY_CONTENDERS, "plan"):
        for name in (f"{contender}-src", f"{contender}-dst") if contender == "plan" else _names(contender):
            entry = state["resources"][name]
            resources[name] = {"endpoint": entry["endpoint"], "region": entry["region"],
                               "resourceId": entry["resourceId"], "apiVersion": API_VERSION,
                               "keySecretName": f"key-{name}", "tier": "S0"}
    kv = state["keyVault"]
    return {"FERRY_RESOURCES": json.dumps(resources), "FERRY_KEY_VAULT_URI": kv["uri"],
            "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"], "IDENTITY_ENDPOINT": kv["identityEndpoint"],
            "IDENTITY_HEADER": kv["identityHeader"]}


def _seed(cloud: Any, contender: str) -> list[str]:
    handle = cloud.resource(_names(contender)[0])
    return [handle.seed_model("v3", model_id=f"bulk-{i:03d}", api_version=API_VERSION) for i in range(MODELS)]


def _manage_counts(cloud: Any, contender: str) -> tuple[int, int, Counter]:
    """(management calls, of which 429, all calls by operation/status) over the contender's resources; the ops
    also count ("copy sent by", source|target) for every accepted copy POST."""
    calls = throttled = 0
    ops: Counter = Counter()
    for k, name in enumerate(_names(contender)):
        for entry in cloud.resource(name).request_log():
            ops[(entry["operation"], entry["status"])] += 1
            if entry["operation"] == "copy" and entry["status"] < 400:
                ops[("copy sent by", "source" if k == 0 else "target")] += 1
            if entry["operation"] in MANAGE_OPS:
                calls += 1
                throttled += entry["status"] == 429
    return calls, throttled, ops


def _on_targets(cloud: Any, contender: str, models: list[str]) -> int:
    """How many (model, target) pairs hold a ready copy."""
    present = 0
    for name in _names(contender)[1:]:
        ready = {m["modelId"] for m in cloud.resource(name).models(include_invalid=False)}
        present += sum(model in ready for model in models)
    return present


# ---------------------------------------------------------------------------------------------- ModelFerry
def _run_ferry(cloud: Any, host: Any, contender: str) -> dict[str, Any] | None:
    """One ModelFerry run: the whole source by POST /api/sync, or one POST /api/copies per model, concurrently."""
    models = _seed(cloud, contender)
    source, *targets = _names(contender)
    started = time.monotonic()
    if contender.startswith("sync"):
        mode = "POST /api/sync"
        resp = requests.post(f"{host.url}/api/sync", json={"source": source, "targets": targets}, timeout=30)
        resp.raise_for_status()
        ids = [resp.json()["id"]]
    else:
        mode = f"{MODELS} concurrent POST /api/copies"

        def post(model: str) -> str:
            resp = requests.post(f"{host.url}/api/copies", json={"modelId": model, "source": source,
                                                                "targets": targets}, timeout=30)
            resp.raise_for_status()
            return resp.json()["id"]

        with ThreadPoolExecutor(MODELS) as pool:
            ids = list(pool.map(post, models))
    statuses = [host.wait_for(iid, timeout=600) for iid in ids]
    seconds = time.monotonic() - started
    ok = all(s["runtimeStatus"] == "Completed" for s in statuses)
    calls, throttled, ops = _manage_counts(cloud, contender)
    return {"client": "ModelFerry", "mode": mode, "seconds": seconds, "ok": ok,
            "present": _on_targets(cloud, contender, models), "calls": calls, "throttled": throttled, "ops": ops}


def _run_rounds(cloud: Any, tmp: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """ROUNDS rounds of sync, concurrent copies and the SDK pool, one after the other, then the plan row."""
    from devhost.engine.clock import RealClock
    from devhost.testing import DevHost

    host = DevHost.start(REPO, settings=_settings(cloud), clock=RealClock(), store=tmp / "bulk.sqlite", http=True,
                         time_skipping="never")
    try:
        has_sync = host.index.orchestrator("sync_estate") is not None
        runs = []
        for contender in CONTENDERS:
            if contender.startswith("sync") and not has_sync:
                continue
            run = _run_sdk(cloud, contender) if contender.startswith("sdk") else _run_ferry(cloud, host, contender)
            run["round"] = int(contender.lstrip("abcdefghijklmnopqrstuvwxyz"))
            runs.append(run)
            print(f"round {run['round']}: {run['client']} {run['mode']}: {run['seconds']:.1f} s, {run['throttled']} of "
                  f"{run['calls']} management calls answered 429", flush=True)
        if not has_sync:
            print("(this app has no sync_estate orchestrator: no sync row)", flush=True)
        plan = _plan(cloud, host) if has_sync else None
        return runs, plan
    finally:
        host.stop()


# ---------------------------------------------------------------------------------------------- official SDK
def _run_sdk(cloud: Any, contender: str) -> dict[str, Any]:
    from azure.ai.documentintelligence import DocumentIntelligenceAdministrationClient
    from azure.ai.documentintelligence.models import AuthorizeCopyRequest
    from azure.core.credentials import AzureKeyCredential

    models = _seed(cloud, contender)
    src, *targets = (cloud.resource(n) for n in _names(contender))
    # azure-core retries a 429 after Retry-After, but only 3 times by default (retry_status): with 8 threads on
    # one source that fails copies, so the script raises it, as a user of the pool would have to.
    retries = {"retry_status": SDK_RETRY_STATUS, "retry_total": SDK_RETRY_STATUS}
    source = DocumentIntelligenceAdministrationClient(src.endpoint, AzureKeyCredential(src.key), **retries)
    clients = [DocumentIntelligenceAdministrationClient(t.endpoint, AzureKeyCredential(t.key), **retries)
               for t in targets]

    def one(job: tuple[str, Any]) -> bool:
        model, target = job
        auth = target.authorize_model_copy(AuthorizeCopyRequest(model_id=model))
        return source.begin_copy_model_to(model, auth).result().model_id == model

    jobs = [(m, client) for m in models for client in clients]
    started = time.monotonic()
    with ThreadPoolExecutor(SDK_THREADS) as pool:
        ok = all(pool.map(one, jobs))
    seconds = time.monotonic() - started
    calls, throttled, ops = _manage_counts(cloud, contender)
    return {"client": "SDK", "mode": f"{SDK_THREADS}-thread pool", "seconds": seconds, "ok": ok,
            "present": _on_targets(cloud, contender, models), "calls": calls, "throttled": throttled, "ops": ops}


# ---------------------------------------------------------------------------------------------- plan of 5,000
def _plan(cloud: Any, host: Any) -> dict[str, Any]:
    """The plan of a PLAN_MODELS-model source: a dry-run POST /api/sync (lists the source and the target at their
    list rate, plans every model); its time, list calls and the growth of the process's memory (devhost runs
    in it) while it runs."""
    from bench.memory import RssPeak

    handle = cloud.resource("plan-src")
    for i in range(PLAN_MODELS):
        handle.seed_model("v3", model_id=f"plan-{i:05d}", api_version=API_VERSION)
    memory = RssPeak()
    started = time.monotonic()
    with memory:
        resp = requests.post(f"{host.url}/api/sync", json={"source": "plan-src", "targets": ["plan-dst"],
                                                           "dryRun": True}, timeout=30)
        resp.raise_for_status()
        status = host.wait_for(resp.json()["id"], timeout=600)
    seconds = time.monotonic() - started
    lists = [e for e in handle.request_log() if e["operation"] == "listModels"]
    output = status.get("output") or {}
    return {"models": (output.get("counts") or {}).get("plan-dst", {}).get("copied", 0), "pages": len(lists),
            "throttled": sum(e["status"] == 429 for e in lists), "seconds": seconds,
            "peak_mib": memory.peak / 2**20, "growth_mib": memory.growth_mib,
            "ok": status["runtimeStatus"] == "Completed" and output.get("status") == "planned"}


# ---------------------------------------------------------------------------------------------- report
def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the table from a contender's rounds: the median time and the range; calls, 429s and copies
    summed over the rounds."""
    times = sorted(run["seconds"] for run in runs)
    ops: Counter = Counter()
    for run in runs:
        ops.update(run["ops"])
    return {"client": runs[0]["client"], "mode": runs[0]["mode"], "seconds": statistics.median(times),
            "low": times[0], "high": times[-1], "calls": sum(run["calls"] for run in runs),
            "throttled": sum(run["throttled"] for run in runs), "present": sum(run["present"] for run in runs),
            "wanted": MODELS * len(TARGETS) * len(runs), "ops": ops}


def main() -> int:
    """Run the bulk contenders and the plan measurement; 0 when every copy landed."""
    sys.path.insert(0, str(REPO))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    from bench.report import finish
    from emulators import LocalCloud

    bound = MODELS * len(TARGETS) / S0["manage"] + COPY_SECONDS
    busiest = 2 * MODELS * len(TARGETS) / (len(TARGETS) + 1)  # the relays' balance (ferry.orchestration.relay)
    relay_bound = busiest / S0["manage"] + 2 * COPY_SECONDS
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp:
        config, _ = _cloud_config(Path(tmp) / "cloud")
        with LocalCloud.from_config(config) as cloud:
            runs, plan = _run_rounds(cloud, Path(tmp))

    print(f"bulk benchmark — local cloud on the real clock, S0 limits (manage {S0['manage']}/s, get {S0['get']}/s, "
          f"list {S0['list']}/s), {MODELS} models × {len(TARGETS)} targets, copies of {COPY_SECONDS:g} s, "
          f"{ROUNDS} round(s) of every contender, interleaved")
    print(f"machine: {platform.platform()} | Python {platform.python_version()} | {os.cpu_count()} CPUs | "
          f"{threading.active_count()} threads at the end")
    print()
    print(f"{'client':<11} {'how':<34} {'median (s)':>10} {'range (s)':>11} {'of bound':>8} {'copies':>9} "
          f"{'mgmt calls':>10} {'429s':>5} {'429 %':>6}")
    failures = 0
    rows = []
    for mode in dict.fromkeys(run["mode"] for run in runs):
        of_mode = [run for run in runs if run["mode"] == mode]
        row = _summary(of_mode)
        rows.append(row)
        failures += sum((not run["ok"]) or run["present"] != MODELS * len(TARGETS) for run in of_mode)
        share = row["throttled"] / max(row["calls"], 1)
        print(f"{row['client']:<11} {mode:<34} {row['seconds']:>10.1f} {row['low']:>5.1f}–{row['high']:<5.1f} "
              f"{bound / row['seconds']:>8.2f} {row['present']:>4}/{row['wanted']:<4} {row['calls']:>10} "
              f"{row['throttled']:>5} {100 * share:>5.1f}%")
    print(f"{'bound':<11} {f'{MODELS * len(TARGETS)} copy POSTs at 5/s + one copy':<34} {bound:>10.1f} {'':>11} "
          f"{1:>8.2f}")
    print(f"{'bound':<11} {f'relayed: {busiest:.0f} calls at 5/s + two copies':<34} {relay_bound:>10.1f} {'':>11} "
          f"{bound / relay_bound:>8.2f}")
    sdk = next(row for row in rows if row["client"] == "SDK")
    print()
    for ferry in (row for row in rows if row["client"] == "ModelFerry"):
        print(f"ModelFerry, {ferry['mode']}: {bound / ferry['seconds']:.2f} of the bound (goal ≥ {GOAL_FRACTION}), "
              f"{sdk['seconds'] / ferry['seconds']:.2f}× the thread pool's speed (goal ≥ 1; medians), "
              f"{100 * ferry['throttled'] / max(ferry['calls'], 1):.1f} % of management calls answered 429 "
              f"(goal ≤ {100 * GOAL_THROTTLED:g} %)")
        sent = ferry["ops"]
        print(f"  copy POSTs sent by the source: {sent[('copy sent by', 'source')]}, relayed by a target: "
              f"{sent[('copy sent by', 'target')]} (all rounds)")
        print(f"  requests by operation/status, all rounds: "
              f"{', '.join(f'{op} {st}: {n}' for (op, st), n in sorted(sent.items()) if op != 'copy sent by')}")
    if plan is not None:
        failures += not plan["ok"]
        print(f"plan of a {PLAN_MODELS}-model source (dry-run POST /api/sync to an empty target): {plan['models']} "
              f"copies planned in {plan['seconds']:.1f} s, the source listed in {plan['pages']} pages at the list "
              f"limit ({plan['throttled']} answered 429); process memory peak {plan['peak_mib']:.0f} MiB "
              f"(+{plan['growth_mib']:.0f} MiB while planning)")
    return finish(started, failures, "contender(s) did not land every copy")


if __name__ == "__main__":
    sys.exit(main())
