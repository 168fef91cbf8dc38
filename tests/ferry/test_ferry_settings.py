"""ferry.settings: the registry, defaults, and one clear error per misconfiguration (naming the setting)."""

from __future__ import annotations

import itertools
import json
import logging

import pytest
from ferry_testkit import resource_entry

from ferry import settings as fs
from ferry.orchestration.policy import CopyPolicy
from ferry.orchestration.polling import poll_delay


def env_with(resources: dict | None = None, **values: str) -> dict[str, str]:
    resources = resources if resources is not None else {
        "primary": resource_entry("https://primary.cognitiveservices.azure.com/", "2024-11-30", "primary",
                                  keySecretName="di-primary-key"),
        "dr": resource_entry("http://127.0.0.1:8123", "2024-11-30", "dr", region="eastus", cmk=False),
        "vault": resource_entry("https://cmk.cognitiveservices.azure.com", "2024-11-30", "cmk", cmk=True),
    }
    env = {"FERRY_RESOURCES": json.dumps(resources), "FERRY_KEY_VAULT_URI": "https://kv.vault.azure.net"}
    env.update(values)
    return env


def problems_of(env: dict[str, str]) -> list[tuple[str, str]]:
    with pytest.raises(fs.SettingsError) as info:
        fs.parse(env)
    # Every problem names its setting, and the exception text names it too.
    for name, message in info.value.problems:
        assert name in fs.SETTINGS
        assert f"{name}: {message}" in str(info.value)
    return info.value.problems


def test_registry_matches_the_contract():
    expected = {"FERRY_RESOURCES", "FERRY_SOURCE", "FERRY_TARGETS", "FERRY_KEY_VAULT_URI",
                "FERRY_KEY_VAULT_CA_BUNDLE", "FERRY_COPY_DEADLINE_SECONDS", "FERRY_POLL_INITIAL_SECONDS",
                "FERRY_POLL_MAX_SECONDS", "FERRY_POLL_BACKOFF_FACTOR", "FERRY_MAX_PARALLEL_TARGETS",
                "FERRY_ALLOW_CMK_DEGRADE", "FERRY_MAX_AUTHORIZATION_ATTEMPTS", "FERRY_MAX_TRANSIENT_RETRIES",
                "FERRY_KEY_CACHE_SECONDS", "FERRY_SYNC_SCHEDULE", "FERRY_SYNC_MAX_PARALLEL_COPIES",
                "FERRY_PACING_LEAD_MS", "FERRY_PACING_MARGIN_MS", "FERRY_SYNC_RELAY",
                "FERRY_COPY_RELAY_BACKLOG_SECONDS"}
    assert set(fs.SETTINGS) == expected
    assert [n for n, s in fs.SETTINGS.items() if s.required] == ["FERRY_RESOURCES"]
    assert [n for n, s in fs.SETTINGS.items() if s.local_only] == ["FERRY_KEY_VAULT_CA_BUNDLE"]
    for setting in fs.SETTINGS.values():
        assert setting.name.startswith("FERRY_") and len(setting.description) > 40
        if setting.default is not None:  # the description states the default
            assert f"Default {setting.default}" in setting.description or \
                f"default {setting.default}" in setting.description.lower(), setting.name


def test_defaults_and_parsed_values():
    s = fs.parse(env_with(FERRY_SOURCE="primary", FERRY_TARGETS=" dr , vault"))
    assert s.aliases == ("primary", "dr", "vault")
    assert s.source == "primary" and s.targets == ("dr", "vault")
    primary = s.resource("primary")
    assert primary.endpoint == "https://primary.cognitiveservices.azure.com"  # trailing slash dropped
    assert primary.key_secret_name == "di-primary-key" and not primary.uses_managed_identity
    assert s.resource("vault").uses_managed_identity and s.resource("vault").cmk
    assert s.resource("dr").endpoint == "http://127.0.0.1:8123"
    assert primary.generation == "v4" and not primary.is_v2
    for name, setting in fs.SETTINGS.items():
        if setting.default is None:
            continue
        attr = name.removeprefix("FERRY_").lower()
        value = getattr(s, attr)
        assert str(value).lower() == setting.default or float(value) == float(setting.default), name
    assert s.key_vault_uri == "https://kv.vault.azure.net/"
    json.dumps(s.to_dict())  # JSON-safe
    with pytest.raises(AttributeError):
        s.source = "dr"  # immutable


def test_poll_schedule_starts_near_one_second_and_backs_off_to_the_cap():
    s = fs.parse(env_with())
    policy = CopyPolicy.from_settings(s)  # the default schedule, as the orchestrator applies it
    delays = [poll_delay(policy, n) for n in range(1, 40)]
    assert delays[0] == pytest.approx(1.0)
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == s.poll_max_seconds and delays[-1] == s.poll_max_seconds
    # A copy of a few seconds is noticed quickly: the gaps stay under 2 s during the first 5 s.
    elapsed, gaps = 0.0, []
    for d in delays:
        if elapsed > 5:
            break
        gaps.append(d)
        elapsed += d
    assert max(gaps) < 2.0
    assert poll_delay(policy, 10_000) == s.poll_max_seconds  # no overflow


def test_load_is_cached_per_configuration_and_clearable():
    env = env_with()
    first = fs.load(env)
    assert fs.load(dict(env)) is first
    changed = fs.load({**env, "FERRY_MAX_PARALLEL_TARGETS": "2"})
    assert changed is not first and changed.max_parallel_targets == 2
    fs.load.cache_clear()
    assert fs.load(env) is not first and fs.load(env) == first


def test_load_reads_os_environ_by_default(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("FERRY_"):
            monkeypatch.delenv(key)
    for key, value in env_with(FERRY_TARGETS="dr").items():
        monkeypatch.setenv(key, value)
    assert fs.load().targets == ("dr",)


@pytest.mark.parametrize("raw, fragment", [
    (None, "is not set"),
    ("{not json", "is not valid JSON"),
    ("[]", "non-empty JSON object"),
    ("{}", "non-empty JSON object"),
])
def test_resources_missing_or_malformed(raw, fragment):
    env = env_with()
    if raw is None:
        del env["FERRY_RESOURCES"]
    else:
        env["FERRY_RESOURCES"] = raw
    problems = problems_of(env)
    assert problems[0][0] == "FERRY_RESOURCES" and fragment in problems[0][1]


GOOD = resource_entry("https://a.cognitiveservices.azure.com", "2023-07-31", "a")


@pytest.mark.parametrize("change, fragment", [
    ({"endpoint": "http://a.cognitiveservices.azure.com"}, "uses http; use https"),
    ({"endpoint": "ftp://a"}, "absolute https URL"),
    ({"endpoint": "https://a.cognitiveservices.azure.com/formrecognizer"}, "must not contain a path"),
    ({"endpoint": "https://a.cognitiveservices.azure.com/?x=1"}, "query"),
    ({"endpoint": 42}, "non-empty string"),
    ({"apiVersion": "2024-07-31-preview"}, "apiVersion '2024-07-31-preview' is not supported"),
    ({"apiVersion": "v2"}, "v2.0, v2.1, 2022-08-31, 2023-07-31, 2024-11-30"),
    ({"resourceId": "/subscriptions/x/resourcegroups/rg/providers/Microsoft.CognitiveServices/accounts/a"},
     "must be the ARM resource id"),
    ({"resourceId": "a"}, "must be the ARM resource id"),
    ({"region": "West US 2"}, "lower case"),
    ({"region": "x" * 25}, "1–24 characters"),
    ({"keySecretName": "bad name!"}, "Key Vault secret name"),
    ({"cmk": "maybe"}, "cmk 'maybe' must be true or false"),
    ({"keysecretname": "x"}, "unknown field(s) keysecretname"),
])
def test_each_resource_field_is_validated(change, fragment):
    entry = {**GOOD, **change}
    problems = problems_of(env_with({"a": entry}))
    assert problems[0][0] == "FERRY_RESOURCES"
    assert "resource 'a'" in problems[0][1] or "unknown field" in problems[0][1]
    assert fragment in problems[0][1]


def test_missing_resource_fields_are_listed():
    entry = {"endpoint": GOOD["endpoint"], "region": "westus2"}
    (problem,) = problems_of(env_with({"a": entry}))
    assert "missing required field(s) resourceId, apiVersion" in problem[1]


def test_loopback_http_endpoints_are_allowed():
    for host in ("http://127.0.0.1:1", "http://localhost:8080", "http://[::1]:9"):
        s = fs.parse(env_with({"a": {**GOOD, "endpoint": host}}))
        assert s.resource("a").endpoint == host


def test_bad_alias_and_every_problem_reported_at_once():
    env = env_with({"has space": GOOD}, FERRY_POLL_INITIAL_SECONDS="abc", FERRY_MAX_PARALLEL_TARGETS="0")
    names = [name for name, _ in problems_of(env)]
    assert names == ["FERRY_RESOURCES", "FERRY_POLL_INITIAL_SECONDS", "FERRY_MAX_PARALLEL_TARGETS"]


@pytest.mark.parametrize("values, setting, fragment", [
    ({"FERRY_SOURCE": "nope"}, "FERRY_SOURCE", "unknown alias 'nope'"),
    ({"FERRY_TARGETS": "dr,nope"}, "FERRY_TARGETS", "unknown alias(es) nope"),
    ({"FERRY_TARGETS": "dr,dr"}, "FERRY_TARGETS", "names a target twice"),
    ({"FERRY_SOURCE": "dr", "FERRY_TARGETS": "dr"}, "FERRY_TARGETS", "contains the source alias 'dr'"),
    ({"FERRY_KEY_VAULT_URI": "http://kv.vault.azure.net"}, "FERRY_KEY_VAULT_URI", "must be an https URL"),
    ({"FERRY_KEY_VAULT_CA_BUNDLE": "/nonexistent/ca.pem"}, "FERRY_KEY_VAULT_CA_BUNDLE", "does not exist"),
    ({"FERRY_COPY_DEADLINE_SECONDS": "5"}, "FERRY_COPY_DEADLINE_SECONDS", "out of range"),
    ({"FERRY_COPY_DEADLINE_SECONDS": "nan"}, "FERRY_COPY_DEADLINE_SECONDS", "out of range"),
    ({"FERRY_POLL_INITIAL_SECONDS": "0"}, "FERRY_POLL_INITIAL_SECONDS", "between 0.1 and 60"),
    ({"FERRY_POLL_BACKOFF_FACTOR": "0.5"}, "FERRY_POLL_BACKOFF_FACTOR", "between 1 and 4"),
    ({"FERRY_POLL_MAX_SECONDS": "1000"}, "FERRY_POLL_MAX_SECONDS", "between 1 and 600"),
    ({"FERRY_POLL_INITIAL_SECONDS": "30", "FERRY_POLL_MAX_SECONDS": "10"}, "FERRY_POLL_MAX_SECONDS",
     "smaller than FERRY_POLL_INITIAL_SECONDS"),
    ({"FERRY_MAX_PARALLEL_TARGETS": "2.5"}, "FERRY_MAX_PARALLEL_TARGETS", "not a whole number"),
    ({"FERRY_MAX_AUTHORIZATION_ATTEMPTS": "11"}, "FERRY_MAX_AUTHORIZATION_ATTEMPTS", "between 1 and 10"),
    ({"FERRY_KEY_CACHE_SECONDS": "-1"}, "FERRY_KEY_CACHE_SECONDS", "between 0 and 86400"),
    ({"FERRY_PACING_LEAD_MS": "10"}, "FERRY_PACING_LEAD_MS", "between 50 and 5000"),
    ({"FERRY_PACING_MARGIN_MS": "-5"}, "FERRY_PACING_MARGIN_MS", "between 0 and 1000"),
    ({"FERRY_ALLOW_CMK_DEGRADE": "sometimes"}, "FERRY_ALLOW_CMK_DEGRADE", "not a boolean"),
    ({"FERRY_SYNC_RELAY": "maybe"}, "FERRY_SYNC_RELAY", "not a boolean"),
])
def test_each_setting_is_validated(values, setting, fragment):
    (problem,) = problems_of(env_with(**values))
    assert problem[0] == setting
    assert fragment in problem[1]


def test_key_vault_uri_required_only_with_key_secrets():
    env = env_with()
    del env["FERRY_KEY_VAULT_URI"]
    (problem,) = problems_of(env)
    assert problem[0] == "FERRY_KEY_VAULT_URI" and "primary" in problem[1] and "keySecretName" in problem[1]
    keyless = {"a": GOOD}
    assert fs.parse({"FERRY_RESOURCES": json.dumps(keyless)}).key_vault_uri is None


def test_ca_bundle_file_accepted(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    assert fs.parse(env_with(FERRY_KEY_VAULT_CA_BUNDLE=str(pem))).key_vault_ca_bundle == str(pem)


@pytest.mark.parametrize("raw, expected", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                           ("false", False), ("0", False), ("", False)])
def test_booleans(raw, expected):
    assert fs.parse(env_with(FERRY_ALLOW_CMK_DEGRADE=raw)).allow_cmk_degrade is expected


def test_copy_degrade_only_cmk_to_non_cmk_and_only_when_allowed():
    allowed = fs.parse(env_with(FERRY_ALLOW_CMK_DEGRADE="true"))
    assert allowed.copy_degrade("vault", "dr") is True
    assert allowed.copy_degrade("dr", "vault") is False  # into CMK: no downgrade
    assert allowed.copy_degrade("primary", "dr") is False
    assert fs.parse(env_with()).copy_degrade("vault", "dr") is False


def test_relay_peers_share_the_sources_api_version_and_encryption_and_only_when_relays_are_on():
    resources = {
        "src": resource_entry("https://src.cognitiveservices.azure.com", "2024-11-30", "src"),
        "same": resource_entry("https://same.cognitiveservices.azure.com", "2024-11-30", "same"),
        "twin": resource_entry("https://twin.cognitiveservices.azure.com", "2024-11-30", "twin"),
        "older": resource_entry("https://older.cognitiveservices.azure.com", "2023-07-31", "older"),
        "cmk": resource_entry("https://cmk.cognitiveservices.azure.com", "2024-11-30", "cmk", cmk=True),
    }
    on = fs.parse(env_with(resources))
    assert on.sync_relay is True                                  # the default
    assert on.relay_peers("src", ["same", "older", "cmk", "twin"]) == ["same", "twin"]
    off = fs.parse(env_with(resources, FERRY_SYNC_RELAY="false"))
    assert off.sync_relay is False and off.relay_peers("src", ["same", "twin"]) == []
    v2 = {"a": resource_entry("https://a.cognitiveservices.azure.com", "v2.1", "a"),
          "b": resource_entry("https://b.cognitiveservices.azure.com", "v2.1", "b")}
    assert fs.parse(env_with(v2)).relay_peers("a", ["b"]) == []   # v2 copies get new ids: never relayed
    # a copy's relays (/api/copies, Event Grid) have their own switch: the source's backlog, or off
    assert on.copy_relay_backlog_seconds == 2.0 and off.copy_relay_peers("src", ["same", "older", "twin"]) == [
        "same", "twin"]
    never = fs.parse(env_with(resources, FERRY_COPY_RELAY_BACKLOG_SECONDS="OFF"))
    assert never.copy_relay_backlog_seconds is None and never.copy_relay_peers("src", ["same", "twin"]) == []
    assert never.relay_peers("src", ["same", "twin"]) == ["same", "twin"]
    assert fs.parse(env_with(resources, FERRY_COPY_RELAY_BACKLOG_SECONDS="0")).copy_relay_backlog_seconds == 0.0


@pytest.mark.parametrize("raw", ["soon", "-1", "3601", "nan"])
def test_copy_relay_backlog_must_be_seconds_or_off(raw):
    problems = dict(problems_of(env_with(FERRY_COPY_RELAY_BACKLOG_SECONDS=raw)))
    assert "FERRY_COPY_RELAY_BACKLOG_SECONDS" in problems
    assert "between 0 and 3600" in problems["FERRY_COPY_RELAY_BACKLOG_SECONDS"]
    assert problems["FERRY_COPY_RELAY_BACKLOG_SECONDS"].endswith("or set off to never relay")


def test_unknown_alias_lookup_names_known_aliases():
    s = fs.parse(env_with())
    with pytest.raises(fs.UnknownResourceError) as info:
        s.resource("nope")
    assert "nope" in str(info.value) and "primary, dr, vault" in str(info.value)
    assert not s.has("nope") and s.has("dr")


def test_unknown_ferry_setting_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="modelferry.settings"):
        fs.parse(env_with(FERRY_POLL_INITAL_SECONDS="2"))
    assert "FERRY_POLL_INITAL_SECONDS" in caplog.text


def test_settings_markdown_lists_every_setting_with_its_default():
    table = fs.settings_markdown()
    lines = table.strip().splitlines()
    assert len(lines) == 2 + len(fs.SETTINGS)
    for name, setting in fs.SETTINGS.items():
        (row,) = [line for line in lines if line.startswith(f"| `{name}` |")]
        assert (f"`{setting.default}`" if setting.default else "—") in row
    assert "FERRY_KEY_VAULT_CA_BUNDLE" not in fs.settings_markdown(include_local_only=False)
