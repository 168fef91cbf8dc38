"""The portal workbook and alert rules (infra/app/run-monitoring.bicep, infra/monitoring/): they parse, read only
what the app writes, and the alerts watch the workbook's data and notify the action group.

"What the app writes" is measured, not assumed: copies (targets succeeding, one failing, one throttled) and a
sync (copying a new model, finding a replica that expires within 30 days) run on devhost against the emulators,
and the `modelferry.runs` records they log are captured: every field a query reads must be in the records of
the kinds it selects.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import infra_checks as ic
import pytest
import requests

from devhost.engine.clock import VirtualClock
from devhost.testing import DevHost
from emulators import LocalCloud
from ferry import telemetry

RUNS_KQL = (ic.INFRA / "monitoring" / "runs.kql").read_text(encoding="utf-8").strip()
API = "2024-11-30"


DECLARED_FIELDS = set(telemetry.ALL_FIELDS)
DECLARED_KINDS = set(telemetry.KINDS)


# ------------------------------------------------------------------------------------------------------------
# the workbook and the queries as deployed


def test_the_workbook_is_a_valid_workbook_document(template: ic.Template) -> None:
    texts = ic.monitoring_texts(template)
    (serialized,) = [t for t in texts.values() if t.lstrip().startswith("{")]
    data = json.loads(serialized)  # the runs definition put in place keeps it valid JSON
    assert data["version"] == "Notebook/1.0"
    names = [item["name"] for item in data["items"]]
    assert len(names) == len(set(names))
    queries = [item for item in data["items"] if item["type"] == 3]
    assert {q["name"] for q in queries} >= {"copies-over-time", "failures-by-code", "duration-percentiles",
                                            "throughput-and-429s", "last-successful-sync", "expiring-replicas"}
    for item in queries:
        content = item["content"]
        assert content["queryType"] == 0 and content["resourceType"] == "microsoft.insights/components"
        assert content["visualization"] in ("timechart", "table", "barchart")
        assert "__RUNS__" not in content["query"] and content["query"].startswith(RUNS_KQL)
        assert "timeContextFromParameter" in content or "timeContext" in content
    # the time range parameter every query item's time context refers to
    (params,) = [item for item in data["items"] if item["type"] == 9]
    assert [p["name"] for p in params["content"]["parameters"]] == ["TimeRange"]


def test_the_runs_definition_fits_in_a_json_string_and_reads_the_message_prefix() -> None:
    assert "\n" not in RUNS_KQL and '"' not in RUNS_KQL and "\\" not in RUNS_KQL
    assert f"'{telemetry.MESSAGE_PREFIX}'" in RUNS_KQL
    assert ic.kql_syntax_errors(RUNS_KQL + "\nruns | take 1") == []


def test_every_query_parses_and_reads_only_declared_fields(template: ic.Template) -> None:
    assert ic.check_monitoring(template, RUNS_KQL, DECLARED_FIELDS, DECLARED_KINDS) == []
    queries = ic.all_queries(template)
    assert {n for n in queries if n.startswith("alert:")} == {"alert:copyFailedAlert", "alert:syncStaleAlert",
                                                             "alert:replicaExpiringAlert"}
    # the alerts cover the three situations of the issue
    assert ic.record_kinds_read(queries["alert:copyFailedAlert"]) == {"copy"}
    assert ic.record_kinds_read(queries["alert:syncStaleAlert"]) == {"sync"}
    assert ic.record_kinds_read(queries["alert:replicaExpiringAlert"]) == {"replicaExpiring"}


@pytest.mark.parametrize(("hours", "sources", "expected"), [
    (12, ["eastus"], ("let maxAge = 12h;", 'dynamic(["eastus"])')),
    (47, [], ("let maxAge = 47h;", "dynamic([])")),
])
def test_the_sync_staleness_alert_is_built_from_its_parameters(template, hours, sources, expected) -> None:
    query = ic.monitoring_texts(template, {"syncStaleAfterHours": hours, "sources": sources})["syncStaleAlert"]
    assert all(part in query for part in expected)
    assert "__" not in query  # every placeholder filled
    assert ic.kql_syntax_errors(query) == []


def test_the_kql_parser_rejects_broken_queries() -> None:
    """The syntax check can fail: a dangling operator, an unclosed call and a keyword as a column name."""
    assert ic.kql_syntax_errors("traces | where | take 1")
    assert ic.kql_syntax_errors("traces | summarize count(")
    assert ic.kql_syntax_errors("traces | summarize n = count() by kind = tostring(customDimensions.k)")


@pytest.mark.parametrize(("edit", "expected_part"), [
    (("monitoring/workbook.json", "percentile(todouble(rec['durationSeconds']), 50)",
      "percentile(todouble(rec['duration']), 50)"),
     "workbook:duration-percentiles: reads record field 'duration', which the app does not write"),
    (("monitoring/alert-copy-failed.kql", "| where tostring(rec['kind']) == 'copy'",
      "| where tostring(rec['kind']) == 'copyTarget'"),
     "alert:copyFailedAlert: selects record kind 'copyTarget', which the app does not write"),
    (("monitoring/alert-replica-expiring.kql", "| summarize arg_max(timestamp, *) by",
      "| summarize arg_max(timestamp, *) by |"), "alert:replicaExpiringAlert: KQL syntax error"),
    (("monitoring/alert-copy-failed.kql", "__RUNS__\nruns", "traces"),
     "alert:copyFailedAlert: does not start with the shared runs definition"),
    (("app/run-monitoring.bicep", "      actionGroups: [\n        actionGroup.id\n      ]",
      "      actionGroups: []"), "copyFailedAlert notifies [], not the action group"),
    (("app/run-monitoring.bicep", "    scopes: [\n      applicationInsights.id\n    ]",
      "    scopes: [\n      resourceGroup().id\n    ]"), "copyFailedAlert watches"),
    (("app/run-monitoring.bicep", "    emailAddress: alertEmail\n", "    emailAddress: 'ops@contoso.com'\n"),
     "the action group's e-mail receiver is not the alertEmail parameter"),
])
def test_monitoring_mistakes_are_reported(mutate, edit, expected_part) -> None:
    problems = ic.check_monitoring(mutate(edit), RUNS_KQL, DECLARED_FIELDS, DECLARED_KINDS)
    assert any(expected_part in p for p in problems), problems


def test_an_alert_on_records_the_workbook_does_not_show_is_reported(mutate) -> None:
    broken = mutate(("monitoring/workbook.json", "| where tostring(rec['kind']) == 'replicaExpiring'",
                     "| where tostring(rec['kind']) == 'sync'"))
    assert "alert:replicaExpiringAlert: alerts on records the workbook does not show" in \
        ic.check_monitoring(broken, RUNS_KQL, DECLARED_FIELDS, DECLARED_KINDS)


# ------------------------------------------------------------------------------------------------------------
# the fields the queries read are the fields the app writes: a copy on devhost, its records captured


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """On devhost: one copy of a real model (to two targets, the second answering two 429s first), one of a
    missing model, then a sync of the source (a new model to copy; the first model now expires in 10 days).
    Every `modelferry.runs` record of those runs, with the ids involved."""
    clock = VirtualClock()
    names = ("src", "tgt-a", "tgt-b")
    keys = {name: [secrets.token_hex(16), secrets.token_hex(16)] for name in names}
    config = {"resources": [{"name": name, "region": region, "port": 0, "keys": keys[name],
                             "resourceId": f"/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/"
                                           f"providers/Microsoft.CognitiveServices/accounts/di-{name}",
                             "cmk": False, "copySeconds": 3.0, "trainSeconds": 1.0}
                            for name, region in zip(names, ("eastus", "westeurope", "japaneast"), strict=True)],
              "keyVault": {"port": 0, "secrets": {f"key-{name}": keys[name][0] for name in names}}}
    cloud = LocalCloud.from_config(config, clock=clock)
    cloud.start()
    logger = logging.getLogger(telemetry.LOGGER_NAME)
    capture, old_level = _Records(), logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        state = cloud.state
        resources = {name: {"endpoint": entry["endpoint"], "region": entry["region"],
                            "resourceId": entry["resourceId"], "apiVersion": API, "cmk": False,
                            "keySecretName": f"key-{name}"} for name, entry in state["resources"].items()}
        kv = state["keyVault"]
        settings = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "src", "FERRY_TARGETS": "tgt-a,tgt-b",
                    "FERRY_KEY_VAULT_URI": kv["uri"], "FERRY_KEY_VAULT_CA_BUNDLE": kv["caBundle"],
                    "FERRY_COPY_DEADLINE_SECONDS": "600", "IDENTITY_ENDPOINT": kv["identityEndpoint"],
                    "IDENTITY_HEADER": kv["identityHeader"], "FERRY_SYNC_SCHEDULE": ""}
        model_id = _build_model(cloud, "src", keys["src"][0])
        cloud.resource("tgt-b").fail_next("authorizeCopy", 2, "429", retry_after=1)
        with DevHost.start(ic.REPO, settings=settings, clock=clock,
                           store=tmp_path_factory.mktemp("devhost") / "store.sqlite") as host:
            sys.modules.pop("function_app", None)
            ok = host.start_new("copy_model", {"modelId": model_id}, instance_id=f"mon-ok-{uuid.uuid4().hex[:8]}")
            missing = host.start_new("copy_model", {"modelId": "no-such-model", "targets": ["tgt-a"]},
                                     instance_id=f"mon-missing-{uuid.uuid4().hex[:8]}")
            for instance_id in (ok, missing):
                assert host.wait_for(instance_id, timeout=90)["runtimeStatus"] == "Completed"
            new_model = _build_model(cloud, "src", keys["src"][0])
            source = cloud.resource("src")
            with source.world.lock:
                source.backend.models[model_id].expiration = source.world.now() + 10 * 86400
            sync = host.start_new("sync_estate", {"source": "src", "targets": ["tgt-a", "tgt-b"], "include": [],
                                                  "exclude": [], "dryRun": False, "prune": False,
                                                  "onStale": "keep"}, instance_id=f"mon-sync-{uuid.uuid4().hex[:8]}")
            status = host.wait_for(sync, timeout=120)
            assert status["runtimeStatus"] == "Completed", status
        yield {"records": list(capture.records), "model": model_id, "newModel": new_model, "copy": ok,
               "missing": missing, "sync": sync, "syncOutput": status["output"]}
    finally:
        logger.removeHandler(capture)
        logger.setLevel(old_level)
        sys.modules.pop("function_app", None)
        cloud.stop()


def _build_model(cloud: LocalCloud, name: str, key: str) -> str:
    base = cloud.resource(name).endpoint
    model_id = f"mon-{uuid.uuid4().hex[:10]}"
    headers = {"Ocp-Apim-Subscription-Key": key}
    params = {"api-version": API}
    body = {"modelId": model_id, "buildMode": "template", "description": "monitoring",
            "azureBlobSource": {"containerUrl": "https://contoso.blob.core.windows.net/train"}}
    resp = requests.post(f"{base}/documentintelligence/documentModels:build", params=params, json=body,
                         headers=headers, timeout=10)
    assert resp.status_code == 202, resp.text
    for _ in range(50):
        cloud.advance(1.0)
        got = requests.get(f"{base}/documentintelligence/documentModels/{model_id}", params=params,
                           headers=headers, timeout=10)
        if got.status_code == 200:
            return model_id
    raise AssertionError(f"model {model_id} never became ready")


def _dims(captured: dict[str, Any], kind: str, prefix: str = "") -> list[dict[str, Any]]:
    return [r.custom_dimensions for r in captured["records"]  # type: ignore[attr-defined]
            if r.custom_dimensions["kind"] == kind and r.custom_dimensions["instanceId"].startswith(prefix)]


def test_a_copy_logs_one_complete_record_per_target(captured) -> None:
    dims = _dims(captured, "copy", captured["copy"]) + _dims(captured, "copy", captured["missing"])
    assert len(dims) == 3, dims  # two targets of the real model, one of the missing one
    assert {d["kind"] for d in dims} == {"copy"}
    by_outcome = {(d["target"], d["outcome"]) for d in dims}
    assert by_outcome == {("tgt-a", "succeeded"), ("tgt-b", "succeeded"), ("tgt-a", "failed")}
    (failed,) = [d for d in dims if d["outcome"] == "failed"]
    assert failed["errorCode"] and failed["hint"] and failed["artifactId"] == "no-such-model"
    # the 429s the copy to tgt-b waited out are counted on its record, and only there
    assert {(d["target"], d["outcome"]): d["throttled"] for d in dims} == {
        ("tgt-a", "succeeded"): 0, ("tgt-b", "succeeded"): 2, ("tgt-a", "failed"): 0}
    for d in dims:
        assert set(d) == {*telemetry.RUN_FIELDS, telemetry.HINT_FIELD}
        assert d["source"] == "src" and d["artifactKind"] == "model" and ":" in d["instanceId"]
        assert d["attempts"] >= (1 if d["outcome"] == "succeeded" else 0)
        assert isinstance(d["durationSeconds"], float) and d["durationSeconds"] >= 0
    # what Application Insights receives is the message: the same fields after the prefix
    for record in captured["records"]:
        message = record.getMessage()
        assert json.loads(message[len(telemetry.MESSAGE_PREFIX):]) == record.custom_dimensions


def test_a_sync_logs_its_copies_its_summary_and_the_replicas_expiring(captured) -> None:
    sync = captured["sync"]
    copies = _dims(captured, "copy", sync)
    assert sorted((d["artifactId"], d["target"], d["outcome"]) for d in copies) == [
        (captured["newModel"], "tgt-a", "succeeded"), (captured["newModel"], "tgt-b", "succeeded")]
    (summary,) = _dims(captured, "sync")
    assert summary == {"instanceId": sync, "kind": "sync", "artifactId": None, "artifactKind": None,
                       "source": "src", "target": "tgt-a,tgt-b", "outcome": captured["syncOutput"]["status"],
                       "errorCode": None, "attempts": 2, "durationSeconds": summary["durationSeconds"],
                       "throttled": 0, "hint": None}
    assert summary["outcome"] == "succeeded" and summary["durationSeconds"] > 0
    expiring = _dims(captured, "replicaExpiring")
    assert sorted((d["artifactId"], d["target"]) for d in expiring) == [
        (captured["model"], "tgt-a"), (captured["model"], "tgt-b")]
    for d in expiring:
        assert set(d) == set(telemetry.EXPIRING_FIELDS) and d["source"] == "src" and d["instanceId"] == sync
        assert d["expiresAt"] and d["expiresAt"].startswith("20")
    assert len(captured["records"]) == 3 + 2 + 1 + 2  # exactly once each: nothing logged again on replay


def test_every_field_a_query_reads_is_one_the_app_writes(template: ic.Template, captured) -> None:
    written: dict[str, set[str]] = {}
    for record in captured["records"]:
        dims = record.custom_dimensions  # type: ignore[attr-defined]
        written.setdefault(dims["kind"], set()).update(dims)
    assert set(written) == set(telemetry.KINDS)  # every kind a query can select was really written
    for name, query in ic.all_queries(template).items():
        kinds = ic.record_kinds_read(query)
        assert kinds and kinds <= set(written), name
        readable = set.intersection(*(written[k] for k in kinds))
        assert ic.record_fields_read(query) <= readable, (name, ic.record_fields_read(query) - readable)
    copy_read = set().union(*(ic.record_fields_read(q) for q in ic.all_queries(template).values()
                              if ic.record_kinds_read(q) == {"copy"}))
    assert {"outcome", "target", "durationSeconds", "throttled", "errorCode"} <= copy_read <= written["copy"]

