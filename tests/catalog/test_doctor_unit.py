"""`ferry.doctor` without a stack: invalid settings are reported one problem per setting, each with its fix;
classifier-copy support by region and API version."""

from __future__ import annotations

import json

from ferry import doctor


def test_invalid_settings_are_each_a_problem_with_a_fix() -> None:
    report = doctor.run_checks({"FERRY_RESOURCES": json.dumps({"a": {"endpoint": "ftp://x"}}),
                                "FERRY_COPY_DEADLINE_SECONDS": "soon"})
    assert report["ok"] is False and report["settings"] == {"ok": False} and report["resources"] == {}
    where = {p["where"] for p in report["problems"]}
    assert {"FERRY_RESOURCES", "FERRY_COPY_DEADLINE_SECONDS"} <= where
    assert all(p["fix"] and p["severity"] == "error" and p["message"] for p in report["problems"])


def test_missing_resources_setting() -> None:
    report = doctor.run_checks({})
    assert report["ok"] is False and report["problems"][0]["where"] == "FERRY_RESOURCES"


def test_classifier_copy_regions() -> None:
    assert doctor.classifier_copy("westus2", "2024-11-30") == {"supported": True}
    assert doctor.classifier_copy("northeurope", "2024-11-30")["supported"] is False
    assert "eastus, westus2, westeurope" in doctor.classifier_copy("northeurope", "2024-11-30")["reason"]
    assert doctor.classifier_copy("eastus", "2023-07-31")["supported"] is False
