"""`GET /api/doctor`: check the app's settings and reach every configured resource and the Key Vault.

Why: misconfiguration shows up at the worst moment (the first copy during an outage). The doctor makes the same
calls a copy would (read the key, call the resource with it or with the managed identity) and reports, per
resource, the API version, whether the credential works, the model count against its limit and whether
classifiers can be copied there, with the fix for every problem. It only reads; it changes nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ferry import keys as ferry_keys
from ferry import settings as ferry_settings
from ferry.catalog import iso
from ferry.catalog_io import model_capacity
from ferry.errors import FerryError
from ferry.kinds.classifier import CLASSIFIER

log = logging.getLogger("modelferry.doctor")

CLASSIFIER_COPY_REGIONS = CLASSIFIER.regions or ()
"""Regions where the service copies custom classifiers (defined once, in `ferry.kinds.classifier`)."""
CLASSIFIER_COPY_API_VERSION = " or ".join(CLASSIFIER.api_versions or ())
CAPACITY_WARNING = 0.9  # warn when a resource holds this share of its model limit


def _problem(where: str, code: str, message: str, fix: str, severity: str = "error") -> dict[str, Any]:
    return {"where": where, "code": code, "message": message, "fix": fix, "severity": severity}


def classifier_copy(region: str, api_version: str) -> dict[str, Any]:
    """Whether classifiers can be copied to/from a resource in `region` at `api_version`, and why not."""
    if api_version not in (CLASSIFIER.api_versions or ()):
        return {"supported": False, "reason": f"classifier copy needs apiVersion {CLASSIFIER_COPY_API_VERSION}"}
    if region not in CLASSIFIER_COPY_REGIONS:
        return {"supported": False, "reason": f"classifier copy is available only in "
                                              f"{', '.join(CLASSIFIER_COPY_REGIONS)}"}
    return {"supported": True}


def _check_resource(settings: ferry_settings.Settings, alias: str, role: str) -> dict[str, Any]:
    resource = settings.resource(alias)
    report: dict[str, Any] = {
        "role": role, "region": resource.region, "endpoint": resource.endpoint,
        "apiVersion": resource.api_version, "generation": resource.generation,
        "auth": (f"key from Key Vault secret {resource.key_secret_name}" if resource.key_secret_name
                 else "managed identity"),
        "credentialOk": False, "models": None, "classifierCopy": classifier_copy(resource.region,
                                                                                resource.api_version),
        "problems": [],
    }
    problems = report["problems"]
    try:
        capacity = model_capacity(settings, alias)
        report["credentialOk"] = True
        report["models"] = capacity
        count, limit = capacity.get("count"), capacity.get("limit")
        if isinstance(count, int) and isinstance(limit, int) and limit > 0 and count >= CAPACITY_WARNING * limit:
            problems.append(_problem(alias, "NearModelLimit", f"{count} of {limit} custom models used",
                                     "Delete unused models on this resource or raise its tier: copies to it "
                                     "fail once the limit is reached.", "warning" if count < limit else "error"))
    except FerryError as exc:
        if exc.kind == "unauthorized" or exc.operation == "readKey":
            report["credentialOk"] = False
        problems.append(_problem(alias, exc.code, exc.message, exc.hint))
    if role != "other" and not report["classifierCopy"]["supported"]:
        problems.append(_problem(alias, "NoClassifierCopy", report["classifierCopy"]["reason"],
                                 "Classifiers of this estate cannot be replicated to or from this resource: "
                                 f"use resources in {', '.join(CLASSIFIER_COPY_REGIONS)} at apiVersion "
                                 f"{CLASSIFIER_COPY_API_VERSION} for them.", "warning"))
    return report


def _check_vault(settings: ferry_settings.Settings) -> dict[str, Any]:
    secrets = sorted({r.key_secret_name for r in settings.resources if r.key_secret_name})
    report: dict[str, Any] = {"uri": settings.key_vault_uri, "secrets": {}, "problems": []}
    if not settings.key_vault_uri:
        return report
    provider = ferry_keys.key_provider(settings)
    for name in secrets:
        try:
            provider.get(name)
            report["secrets"][name] = "readable"
        except FerryError as exc:
            report["secrets"][name] = exc.code
            report["problems"].append(_problem("keyVault", exc.code, exc.message, exc.hint))
    return report


def run_checks(environ: Mapping[str, str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Every check; `ok` is False when any problem of severity "error" was found."""
    env = os.environ if environ is None else environ
    checked = iso(now or datetime.now(UTC))
    try:
        settings = ferry_settings.parse(env)
    except ferry_settings.SettingsError as exc:
        problems = [_problem(name, "InvalidSetting", message, f"Fix the app setting {name} (see the README's "
                             "settings table) and restart the app.") for name, message in exc.problems]
        return {"ok": False, "checkedAt": checked, "settings": {"ok": False}, "keyVault": None, "resources": {},
                "problems": problems}
    problems: list[dict[str, Any]] = []
    if settings.source is None:
        problems.append(_problem("FERRY_SOURCE", "NoDefaultSource", "no default source is set",
                                 "Set FERRY_SOURCE to the alias of the region your models are trained in.",
                                 "warning"))
    if not settings.targets:
        problems.append(_problem("FERRY_TARGETS", "NoDefaultTargets", "no default targets are set",
                                 "Set FERRY_TARGETS to the comma-separated aliases of the replica regions.",
                                 "warning"))
    roles = {a: "source" if a == settings.source else "target" if a in settings.targets else "other"
             for a in settings.aliases}
    vault = _check_vault(settings)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(roles)))) as pool:
        reports = dict(zip(roles, pool.map(lambda a: _check_resource(settings, a, roles[a]), roles), strict=True))
    problems += vault["problems"]
    for report in reports.values():
        problems += report["problems"]
    ok = not any(p["severity"] == "error" for p in problems)
    log.info("doctor: %d resource(s) checked, %d problem(s)", len(reports), len(problems))
    return {"ok": ok, "checkedAt": checked, "settings": {"ok": True, "source": settings.source,
                                                         "targets": list(settings.targets)},
            "keyVault": vault, "resources": reports, "problems": problems}
