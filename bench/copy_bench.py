"""Copy benchmark: how soon ModelFerry notices a finished copy, and how many requests a copy costs.

Against the local cloud on the REAL clock (copies take `COPY_SECONDS`), for v2.1 and 2024-11-30:
  (a) the time from the service completing the copy (the emulator's completion instant of the copy operation)
      to the copy being done for the client: the `copy_model` orchestration Completed (ModelFerry on devhost),
      or `poller.result()` returning (official SDK: `FormTrainingClient.begin_copy_model`,
      `DocumentIntelligenceAdministrationClient.begin_copy_model_to`);
  (b) the Document Intelligence requests each copy makes, by operation (emulator request log).
Copies of one client/version run concurrently (N at once); rate limits are lifted so that throttling does not
blur the polling behaviour being measured. Prints a table and the machine; returns 0 if every copy succeeded.
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

REPO = Path(__file__).resolve().parents[1]
# Two copy durations: one a whole number of seconds (the SDK's 1 s polling lands right on it) and one not.
DURATIONS = (3.0, 4.5)
COPIES = 10
VERSIONS = ("v2.1", "2024-11-30")
SUB = "00000000-0000-0000-0000-00000000b3c4"
GOAL_SECONDS = 1.0
OPS = ("getModel", "authorizeCopy", "copy", "getCopyResult", "getOperation")


def _rid(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.CognitiveServices/accounts/{name}"


def _names(version: str, duration: float) -> tuple[str, str]:
    tag = version.replace(".", "").replace("-", "") + f"-{int(duration * 10)}"
    return f"b{tag}-src", f"b{tag}-dst"


def _cloud_config(keys: dict[str, list[str]], workdir: Path) -> dict[str, Any]:
    resources = []
    for version in VERSIONS:
        for duration in DURATIONS:
            for name, region in zip(_names(version, duration), ("eastus", "westus2"), strict=True):
                keys[name] = [secrets.token_hex(16), secrets.token_hex(16)]
                resources.append({"name": name, "region": region, "port": 0, "keys": keys[name],
                                  "resourceId": _rid(name), "copySeconds": duration,
                                  "rateLimits": {"manage": None, "get": None, "list": None}})
    return {"resources": resources, "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys.items()}},
            "workdir": str(workdir)}


def _settings(cloud: Any) -> dict[str, str]:
    state = cloud.state
    resources = {}
    for version in VERSIONS:
        for duration in DURATIONS:
            for name in _names(version, duration):
                entry = state["resources"][name]
                resources[name] = {"endpoint": entry["endpoint"], "region": entry["region"],
                                   "resourceId": entry["resourceId"], "apiVersion": version,
                                   "keySecretName": f"key-{name}"}
    kv = state["keyVault"]
    return {"FERRY_RESOURCES": json.dumps(resources), "FERRY_KEY_VAULT_URI": kv["uri"],
            "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"], "IDENTITY_ENDPOINT": kv["identityEndpoint"],
            "IDENTITY_HEADER": kv["identityHeader"], "FERRY_MAX_PARALLEL_TARGETS": "4"}


def _seed(cloud: Any, version: str, duration: float, count: int) -> list[str]:
    src, _ = _names(version, duration)
    family = "v2" if version.startswith("v2") else "v3"
    kwargs = {} if family == "v2" else {"api_version": version}
    return [cloud.resource(src).seed_model(family, **kwargs) for _ in range(count)]


def _completion_instants(cloud: Any, version: str, duration: float) -> dict[str, float]:
    """source model id → the instant the service completed its copy (emulator job end)."""
    src, _ = _names(version, duration)
    handle = cloud.resource(src)
    with handle.world.lock:
        handle.world.tick()
        return {job.source_model_id: job.end_at for job in handle.backend.all_jobs()
                if job.source_model_id and job.end_at is not None and job.applied}


def _request_counts(cloud: Any, names: tuple[str, str], start: dict[str, int]) -> Counter:
    counts: Counter = Counter()
    for name in names:
        log = cloud.resource(name).request_log()[start[name]:]
        counts.update(entry["operation"] for entry in log)
    return counts


def _log_marks(cloud: Any, names: tuple[str, str]) -> dict[str, int]:
    return {name: len(cloud.resource(name).request_log()) for name in names}


# ---------------------------------------------------------------------------------------------- ModelFerry
def _run_ferry(cloud: Any, host: Any, version: str, duration: float) -> tuple[list[float], Counter, int]:
    src, dst = _names(version, duration)
    models = _seed(cloud, version, duration, COPIES)
    marks = _log_marks(cloud, (src, dst))
    done_at: dict[str, float] = {}
    ok = 0

    def one(model_id: str) -> bool:
        iid = host.start_new("copy_model", {"modelId": model_id, "source": src, "targets": [dst]})
        status = host.wait_for(iid, timeout=120)
        done_at[model_id] = time.time()
        return status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded"

    with ThreadPoolExecutor(COPIES) as pool:
        ok = sum(pool.map(one, models))
    ends = _completion_instants(cloud, version, duration)
    lags = [done_at[m] - ends[m] for m in models if m in ends]
    return lags, _request_counts(cloud, (src, dst), marks), ok


# ---------------------------------------------------------------------------------------------- official SDKs
def _run_sdk(cloud: Any, version: str, duration: float) -> tuple[list[float], Counter, int]:
    from azure.core.credentials import AzureKeyCredential

    src, dst = _names(version, duration)
    src_h, dst_h = cloud.resource(src), cloud.resource(dst)
    models = _seed(cloud, version, duration, COPIES)
    marks = _log_marks(cloud, (src, dst))
    done_at: dict[str, float] = {}

    if version.startswith("v2"):
        from azure.ai.formrecognizer import FormTrainingClient

        source = FormTrainingClient(src_h.endpoint, AzureKeyCredential(src_h.key), api_version="2.1")
        target = FormTrainingClient(dst_h.endpoint, AzureKeyCredential(dst_h.key), api_version="2.1")

        def one(model_id: str) -> bool:
            auth = target.get_copy_authorization(resource_region=dst_h.region, resource_id=dst_h.resource_id)
            result = source.begin_copy_model(model_id, target=auth).result()
            done_at[model_id] = time.time()
            return result.status == "ready"
    else:
        from azure.ai.documentintelligence import DocumentIntelligenceAdministrationClient
        from azure.ai.documentintelligence.models import AuthorizeCopyRequest

        source = DocumentIntelligenceAdministrationClient(src_h.endpoint, AzureKeyCredential(src_h.key))
        target = DocumentIntelligenceAdministrationClient(dst_h.endpoint, AzureKeyCredential(dst_h.key))

        def one(model_id: str) -> bool:
            auth = target.authorize_model_copy(AuthorizeCopyRequest(model_id=f"{model_id}-sdk"))
            result = source.begin_copy_model_to(model_id, auth).result()
            done_at[model_id] = time.time()
            return result.model_id == f"{model_id}-sdk"

    with ThreadPoolExecutor(COPIES) as pool:
        ok = sum(pool.map(one, models))
    ends = _completion_instants(cloud, version, duration)
    lags = [done_at[m] - ends[m] for m in models if m in ends]
    return lags, _request_counts(cloud, (src, dst), marks), ok


# ---------------------------------------------------------------------------------------------- report
def _row(client: str, version: str, duration: float, lags: list[float], counts: Counter, ok: int) -> str:
    if not lags:
        return f"{client:<11} {version:<11} {duration:>4.1f} {'no completed copies':>40}"
    lags = sorted(lags)
    p90 = lags[min(len(lags) - 1, round(0.9 * (len(lags) - 1)))]
    per_copy = {op: counts.get(op, 0) / max(ok, 1) for op in OPS}
    polls = per_copy["getCopyResult"] + per_copy["getOperation"]
    total = sum(counts.values()) / max(ok, 1)
    return (f"{client:<11} {version:<11} {duration:>4.1f} {ok:>2}/{COPIES:<3} {statistics.median(lags):>7.3f} "
            f"{p90:>7.3f} {lags[-1]:>7.3f}   {total:>6.1f} {per_copy['getModel']:>6.1f} "
            f"{per_copy['authorizeCopy']:>6.1f} {per_copy['copy']:>5.1f} {polls:>6.1f}")


def main() -> int:
    """Run the benchmark, print the table; 0 when every copy succeeded."""
    sys.path.insert(0, str(REPO))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    from bench.report import finish
    from devhost.engine.clock import RealClock
    from devhost.testing import DevHost
    from emulators import LocalCloud

    started = time.monotonic()
    rows: list[str] = []
    medians: dict[str, float] = {}
    failures = 0
    with tempfile.TemporaryDirectory(prefix="copy-bench-") as tmp:
        keys: dict[str, list[str]] = {}
        with LocalCloud.from_config(_cloud_config(keys, Path(tmp) / "cloud")) as cloud:
            host = DevHost.start(REPO, settings=_settings(cloud), clock=RealClock(), store=Path(tmp) / "s.sqlite",
                                 time_skipping="never")
            try:
                for version in VERSIONS:
                    for duration in DURATIONS:
                        lags, counts, ok = _run_ferry(cloud, host, version, duration)
                        failures += COPIES - ok
                        medians[f"ModelFerry {version}, {duration:g} s copies"] = (
                            statistics.median(lags) if lags else float("nan"))
                        rows.append(_row("ModelFerry", version, duration, lags, counts, ok))
            finally:
                host.stop()
            for version in VERSIONS:
                for duration in DURATIONS:
                    lags, counts, ok = _run_sdk(cloud, version, duration)
                    failures += COPIES - ok
                    rows.append(_row("SDK poller", version, duration, lags, counts, ok))

    print(f"copy benchmark — local cloud on the real clock, copies of {' and '.join(f'{d:g}' for d in DURATIONS)} s, "
          f"{COPIES} concurrent copies per client, API version and duration")
    print(f"machine: {platform.platform()} | Python {platform.python_version()} | {os.cpu_count()} CPUs | "
          f"{threading.active_count()} threads at the end")
    print()
    print(f"{'client':<11} {'api':<11} {'copy':>4} {'ok':<6} {'copy completed → done (s)':^25}   "
          f"{'DI requests per copy':^34}")
    print(f"{'':<11} {'':<11} {'(s)':>4} {'':<6} {'median':>7} {'p90':>7} {'max':>7}   {'total':>6} {'getMdl':>6} "
          f"{'auth':>6} {'copy':>5} {'polls':>6}")
    for row in rows:
        print(row)
    print()
    for name, median in medians.items():
        verdict = "meets" if median < GOAL_SECONDS else "MISSES"
        print(f"{name}: median {median:.3f} s {verdict} the goal (< {GOAL_SECONDS:g} s from copy completion to "
              "orchestration completion)")
    print("ModelFerry's two getModel requests are the source check before the copy and the verification on the "
          "target after it; the SDK pollers poll once a second from the start and check neither.")
    return finish(started, failures, "copies did not succeed")


if __name__ == "__main__":
    sys.exit(main())
