"""The main job, told as a user would live it: train, replicate on the training event, fail over by HTTP, then
keep the whole estate in sync (a model trained without an event: dry run, then the real sync)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from demo.stack import API_VERSION, REGIONS, LocalStack

SOURCE = REGIONS[0]["alias"]
TARGETS = [r["alias"] for r in REGIONS[1:]]
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}
TOPIC = "/subscriptions/demo/resourceGroups/rg-modelferry-demo/providers/Microsoft.EventGrid/topics/model-events"


@dataclass
class Run:
    """One copy orchestration the demo follows."""

    model_id: str
    trigger: str
    status_url: str = ""
    status: dict | None = None
    last_line: str = ""


def say(text: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {text}", flush=True)


def train_model(stack: LocalStack, model_id: str) -> None:
    """Builds a template model in the source region through the real REST API (training data is not fetched)."""
    base = f"{stack.endpoint(SOURCE)}/documentintelligence"
    headers = {"Ocp-Apim-Subscription-Key": stack.key(SOURCE)}
    body = {
        "modelId": model_id,
        "description": f"{model_id} (trained by the ModelFerry demo)",
        "buildMode": "template",
        "azureBlobSource": {"containerUrl": f"https://contosodocs.blob.core.windows.net/{model_id}"},
    }
    resp = requests.post(f"{base}/documentModels:build", params={"api-version": API_VERSION},
                         json=body, headers=headers, timeout=10)
    resp.raise_for_status()
    operation = resp.headers["Operation-Location"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        op = requests.get(operation, headers=headers, timeout=10).json()
        if op["status"] == "succeeded":
            return
        if op["status"] in ("failed", "canceled"):
            raise RuntimeError(f"training {model_id} failed: {op.get('error')}")
        time.sleep(0.25)
    raise TimeoutError(f"training {model_id} did not finish")


def publish_model_trained(stack: LocalStack, model_id: str) -> str:
    """What the training pipeline does: a `ModelTrained` event (Event Grid schema) to the custom topic."""
    event_id = str(uuid.uuid4())
    event = [{
        "id": event_id,
        "eventType": "ModelTrained",
        "subject": f"models/{model_id}",
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "dataVersion": "1.0",
        "topic": TOPIC,
        "data": {"modelId": model_id, "source": SOURCE},
    }]
    resp = requests.post(f"{stack.host_url}/runtime/webhooks/eventgrid",
                         params={"functionName": "on_model_trained"},
                         headers={"aeg-event-type": "Notification"}, json=event, timeout=30)
    resp.raise_for_status()
    return event_id


def find_instance(stack: LocalStack, model_id: str, since: datetime, timeout: float = 20) -> str:
    """The Event Grid trigger answers the topic, not us: find its orchestration through the Durable HTTP API."""
    url = f"{stack.host_url}/runtime/webhooks/durabletask/instances"
    created_from = since.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        query = {"showInput": "true", "createdTimeFrom": created_from}
        for inst in requests.get(url, params=query, timeout=10).json():
            value = inst.get("input")
            value = json.loads(value) if isinstance(value, str) else value
            if inst.get("name") == "copy_model" and isinstance(value, dict) and value.get("modelId") == model_id:
                return f"{url}/{inst['instanceId']}"
        time.sleep(0.2)
    raise TimeoutError(f"no copy_model orchestration appeared for {model_id}")


def start_failover_copy(stack: LocalStack, model_id: str) -> str:
    resp = requests.post(f"{stack.host_url}/api/copies", json={"modelId": model_id}, timeout=30)
    if resp.status_code != 202:
        raise RuntimeError(f"POST /api/copies answered {resp.status_code}: {resp.text}")
    return resp.json()["statusQueryGetUri"]


def target_stage(stack: LocalStack, entry: dict) -> str:
    """A target's stage: the parent shows `copying` while the child copy orchestration has the detail."""
    stage = entry.get("stage", "?")
    child_id = entry.get("instanceId")
    if stage == "copying" and child_id:
        child = requests.get(f"{stack.host_url}/runtime/webhooks/durabletask/instances/{child_id}", timeout=10)
        detail = (child.json().get("customStatus") or {}) if child.status_code in (200, 202) else {}
        stage = detail.get("stage", stage)
        if detail.get("polls"):
            stage += f"#{detail['polls']}"
        if detail.get("attempts", 1) > 1:
            stage += f" (authorization {detail['attempts']})"
    return stage


def progress_line(stack: LocalStack, run: Run) -> str:
    status = run.status or {}
    custom = status.get("customStatus") or {}
    targets = custom.get("targets", {}) if isinstance(custom, dict) else {}
    parts = [f"{alias}={target_stage(stack, targets[alias])}" for alias in sorted(targets)]
    return f"{run.model_id:<14} [{run.trigger:<10}] {status.get('runtimeStatus', '?'):<9} " + " ".join(parts)


def follow(stack: LocalStack, runs: list[Run], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs:
            run.status = requests.get(run.status_url, timeout=10).json()
            line = progress_line(stack, run)
            if line != run.last_line:
                say(line)
                run.last_line = line
        if all(r.status and r.status.get("runtimeStatus") in TERMINAL for r in runs):
            return
        time.sleep(0.2)
    raise TimeoutError("the copies did not finish in time")


def verify_on_targets(stack: LocalStack, run: Run) -> list[tuple[str, str, str, str, float]]:
    """Reads each target model back from the target region itself: the copy is only done if it is there."""
    rows = []
    output = (run.status or {}).get("output") or {}
    for alias in TARGETS:
        result = output.get("targets", {}).get(alias, {})
        model = result.get("targetModelId") or "-"
        found = "missing"
        if model != "-":
            resp = requests.get(
                f"{stack.endpoint(alias)}/documentintelligence/documentModels/{model}",
                params={"api-version": API_VERSION},
                headers={"Ocp-Apim-Subscription-Key": stack.key(alias)}, timeout=10)
            found = "present" if resp.status_code == 200 else f"HTTP {resp.status_code}"
        rows.append((alias, result.get("status", "?"), model, found, result.get("durationSeconds", 0.0)))
    return rows




def run_sync(stack: LocalStack, dry_run: bool, timeout: float = 120) -> dict:
    """POST /api/sync (the whole source to the default targets) and follow it to the end; its output."""
    resp = requests.post(f"{stack.host_url}/api/sync", json={"dryRun": dry_run}, timeout=30)
    if resp.status_code != 202:
        raise RuntimeError(f"POST /api/sync answered {resp.status_code}: {resp.text}")
    url, last, deadline = resp.json()["statusQueryGetUri"], "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(url, timeout=10).json()
        progress = (status.get("customStatus") or {}).get("progress") or {}
        line = f"sync [{status.get('runtimeStatus', '?'):<9}] " + " ".join(
            f"{alias}={p.get('done')}/{p.get('total')}" for alias, p in sorted(progress.items()))
        if line != last:
            say(line)
            last = line
        if status.get("runtimeStatus") in TERMINAL:
            return status.get("output") or {}
        time.sleep(0.2)
    raise TimeoutError("the sync did not finish in time")


def show_sync(output: dict) -> None:
    for alias, counts in sorted((output.get("counts") or {}).items()):
        print(f"  {alias:<11} " + " ".join(f"{key}={value}" for key, value in counts.items()))
    for item in output.get("items") or []:
        print(f"  {item['id']:<14} {item['target']:<11} {item['action']:<8} {item['result']}")


def sync_the_estate(stack: LocalStack) -> bool:
    """A model trained without an event (in Studio) is found by the sync: dry run first, then the real one."""
    studio = "contracts-2026"
    say(f"'{studio}' is trained in Studio: no ModelTrained event ...")
    train_model(stack, studio)
    say("operator previews the estate sync: POST /api/sync {\"dryRun\": true} ...")
    plan = run_sync(stack, dry_run=True)
    print("\nSync plan (dry run: nothing changed)")
    show_sync(plan)
    say("operator runs the estate sync: POST /api/sync ...")
    done = run_sync(stack, dry_run=False)
    print(f"\nSync {done.get('status')}")
    show_sync(done)
    copied = {alias: c.get("copied") for alias, c in (done.get("counts") or {}).items()}
    return (plan.get("status") == "planned" and done.get("status") == "succeeded"
            and copied == {alias: 1 for alias in TARGETS})


def run_main_job(stack: LocalStack) -> bool:
    trained, failover = "invoices-2026", "receipts-2026"
    say(f"training '{trained}' and '{failover}' in {SOURCE} ...")
    train_model(stack, trained)
    train_model(stack, failover)

    say(f"training pipeline publishes ModelTrained for '{trained}' (Event Grid) ...")
    published = datetime.now(UTC)
    publish_model_trained(stack, trained)
    runs = [Run(trained, "event-grid", status_url=find_instance(stack, trained, since=published))]

    say(f"operator triggers a failover copy of '{failover}': POST /api/copies ...")
    runs.append(Run(failover, "http", status_url=start_failover_copy(stack, failover)))

    follow(stack, runs)

    ok = True
    print("\nSummary")
    print(f"  {'model':<14} {'trigger':<10} {'target':<11} {'status':<10} {'target model id':<16} "
          f"{'on target':<9} {'duration':>8}")
    for run in runs:
        rows = verify_on_targets(stack, run)
        for alias, status, model, found, seconds in rows:
            ok &= status == "succeeded" and found == "present"
            print(f"  {run.model_id:<14} {run.trigger:<10} {alias:<11} {status:<10} {model:<16} {found:<9} "
                  f"{seconds:>7.1f}s")
        overall = (run.status or {}).get("output", {}) or {}
        if overall.get("status") != "succeeded":
            ok = False
            print(f"  -> {run.model_id}: {json.dumps(overall.get('targets', overall))}")
    print()
    return sync_the_estate(stack) and ok
