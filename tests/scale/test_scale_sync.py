"""Scale: 1,500 copies (500 models × 3 targets) through `POST /api/sync` on the devhost virtual clock, and the plan
of a 5,000-model source listed within the list budget.

Asserted: the sync completes with every model on every target (emulator state), at most 5 % of management calls
answered 429 and no faster than the source's management limit allows (the budget paced it), no orchestration
history above `MAX_HISTORY_EVENTS` (read from the devhost store), the host's memory growth bounded (the peak is
printed). The 5,000-model dry run lists the source page by page at most at its list rate (no 429).

Slow: the devhost does every copy's work for real (about 1,700 orchestrations, 3,000 management calls), so the
1,500 copies take a few minutes of CPU; `SCALE_MODELS=60 pytest tests/scale` runs the same checks on 180 copies.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.memory import RssPeak
from devhost.engine.clock import VirtualClock
from devhost.testing import DevHost
from emulators import LocalCloud
from ferry import pacer as ferry_pacer
from ferry.orchestration import pacing
from tests.virtual_time import app_on_clock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-0000000005ca"
API = "2024-11-30"
MODELS = int(os.environ.get("SCALE_MODELS", "500"))
TARGETS = ("t1", "t2", "t3")
PLAN_MODELS = 5000
MAX_HISTORY_EVENTS = 3000
MAX_GROWTH_MIB = 1024
MANAGE = {"authorizeCopy", "copy", "deleteModel"}


def rid(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg-scale/providers/Microsoft.CognitiveServices/accounts/{name}"


def forget_app() -> None:
    """The app registers its sync timer at import from FERRY_SYNC_SCHEDULE: import it afresh for these settings."""
    for name in [n for n in sys.modules if n == "function_app" or n.split(".")[0] in ("SyncStart",)]:
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scale")
    clock = VirtualClock()
    names = ("src", *TARGETS, "big")
    keys = {n: [secrets.token_hex(16), secrets.token_hex(16)] for n in names}
    config = {"resources": [{"name": n, "region": region, "port": 0, "keys": keys[n], "resourceId": rid(n),
                             "copySeconds": 3.0}
                            for n, region in zip(names, ("eastus", "westus2", "westeurope", "japaneast", "eastus2"),
                                                 strict=True)],
              "keyVault": {"port": 0, "secrets": {f"key-{n}": k[0] for n, k in keys.items()}},
              "workdir": str(tmp / "cloud")}
    cloud = LocalCloud.from_config(config, clock=clock)
    cloud.start()
    state = cloud.state
    resources = {n: {"endpoint": e["endpoint"], "region": e["region"], "resourceId": e["resourceId"],
                     "apiVersion": API, "keySecretName": f"key-{n}", "tier": "S0"}
                 for n, e in state["resources"].items()}
    kv = state["keyVault"]
    settings = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "src", "FERRY_TARGETS": ",".join(TARGETS),
                "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
                "FERRY_SYNC_SCHEDULE": "", "IDENTITY_ENDPOINT": kv["identityEndpoint"],
                "IDENTITY_HEADER": kv["identityHeader"]}
    # list pages (ferry.pacer) and held copy calls (ferry.steps) are timed in process: on the host's virtual clock
    with app_on_clock(clock):
        forget_app()
        host = DevHost.start(REPO, settings=settings, clock=clock, store=tmp / "store.sqlite", http=True)
        forget_app()
        try:
            yield cloud, host, clock
        finally:
            try:
                host.stop()
            finally:
                cloud.stop()
                forget_app()


def sync(host: Any, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    resp = requests.post(f"{host.url}/api/sync", json=body, timeout=30)
    assert resp.status_code == 202, resp.text
    status = host.wait_for(resp.json()["id"], timeout=timeout)
    assert status["runtimeStatus"] == "Completed", status
    return status


def test_1500_copies_through_one_sync(stack, monkeypatch):
    cloud, host, clock = stack
    # the plan's list pages (models and classifiers of every resource) are paced on this test's clock: the host
    # runs in this process, and the virtual clock does not move while an activity runs
    monkeypatch.setattr(ferry_pacer, "LIST_PACER", ferry_pacer.Pacer(clock.time, clock.advance))
    models = [cloud.resource("src").seed_model("v3", model_id=f"scale-{i:04d}", api_version=API)
              for i in range(MODELS)]
    begun_virtual, begun = clock.time(), time.monotonic()
    with RssPeak(every=0.2) as memory:
        status = sync(host, {"source": "src", "targets": list(TARGETS)}, timeout=1500)
    wall, virtual = time.monotonic() - begun, clock.time() - begun_virtual
    output = status["output"]
    assert output["status"] == "succeeded", ({k: output[k] for k in ("status", "counts")},
                                             [i for i in output["items"] if i.get("result") == "failed"][:5])
    for target in TARGETS:
        assert output["counts"][target]["copied"] == MODELS and output["counts"][target]["failed"] == 0
        ready = {m["modelId"] for m in cloud.resource(target).models(include_invalid=False)}
        assert ready >= set(models), f"{len(set(models) - ready)} models missing on {target}"
    assert len(json.dumps(output)) < 1_000_000  # far below the Durable Task Scheduler's 1 MB payload limit

    # paced: each resource took its management calls no faster than its limit, 429s stayed the exception, and
    # relays (`ferry.orchestration.relay`) spread the 1,500 copy POSTs so no budget carries all of them
    calls: Counter = Counter()
    accepted: Counter = Counter()
    for name in ("src", *TARGETS):
        for entry in cloud.resource(name).request_log():
            if entry["operation"] in MANAGE:
                calls["all"] += 1
                calls["429"] += entry["status"] == 429
                accepted[name] += entry["status"] < 400
    assert calls["429"] <= 0.05 * calls["all"], calls
    copies = MODELS * len(TARGETS)
    assert max(accepted.values()) <= 0.55 * copies, accepted   # direct copies only: 1,500 on src
    assert virtual >= (max(accepted.values()) - 1) / 5.0

    # no history above a few thousand events: the sync is chunked into sub-orchestrations
    sizes = {row["instance_id"]: len(host.history(row["instance_id"]))
             for row in host.engine.store.q("SELECT instance_id FROM instances")}
    biggest = max(sizes, key=sizes.get)
    assert sizes[biggest] <= MAX_HISTORY_EVENTS, (biggest, sizes[biggest])
    assert memory.growth_mib < MAX_GROWTH_MIB
    print(f"\n{MODELS * len(TARGETS)} copies: {wall:.0f} s wall, {virtual:.0f} s virtual; {len(sizes)} orchestrations, "
          f"largest history {sizes[biggest]} events ({biggest}); management calls {calls['all']}, 429: {calls['429']}, "
          f"accepted per resource {dict(accepted)}; "
          f"devhost process memory peak {memory.peak / 2**20:.0f} MiB (+{memory.growth_mib:.0f} MiB)")


def test_the_plan_of_5000_models_is_listed_within_the_list_budget(stack):
    cloud, host, clock = stack
    big = cloud.resource("big")
    for i in range(PLAN_MODELS):
        big.seed_model("v3", model_id=f"plan-{i:05d}", api_version=API)
    mark = len(big.request_log())
    begun_virtual, begun = clock.time(), time.monotonic()
    with RssPeak(every=0.2) as memory:
        status = sync(host, {"source": "big", "targets": ["t1"], "dryRun": True}, timeout=600)
    wall, virtual = time.monotonic() - begun, clock.time() - begun_virtual
    output = status["output"]
    assert output["dryRun"] is True and output["status"] == "planned"
    # a dry run counts what the sync would do: every model, but what the target's model limit (5,000) has no room for
    room = 5000 - len(cloud.resource("t1").models())
    assert output["counts"]["t1"]["copied"] == min(PLAN_MODELS, room)
    assert output["counts"]["t1"]["copied"] + output["counts"]["t1"]["skipped"] == PLAN_MODELS
    lists = [e for e in big.request_log()[mark:] if e["operation"] == "listModels"]
    pages = -(-PLAN_MODELS // 50)
    assert len(lists) >= pages and not [e for e in lists if e["status"] == 429]
    # no faster than 10 list calls in any second (ten pages, then ten more a window later, ...)
    assert virtual >= pacing.list_pages_seconds(PLAN_MODELS, 50, 10) - 0.01
    assert not [e for e in big.request_log()[mark:] if e["operation"] in MANAGE]  # a dry run changes nothing
    print(f"\nplan of {PLAN_MODELS} models: {wall:.1f} s wall, {virtual:.1f} s virtual for {len(lists)} list pages; "
          f"devhost process memory peak {memory.peak / 2**20:.0f} MiB (+{memory.growth_mib:.0f} MiB)")
