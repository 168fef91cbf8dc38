import json
import os

import pytest

from devhost.config import ConfigError, HostConfig, apply_settings, load_host_config, load_settings, parse_timespan


def test_host_json_values_are_read(tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({
        "version": "2.0",
        "functionTimeout": "00:10:00",
        "extensions": {"http": {"routePrefix": "/v1/"},
                       "durableTask": {"hubName": "ModelFerry", "maxConcurrentActivityFunctions": 3,
                                       "maxConcurrentOrchestratorFunctions": 7}},
    }))
    cfg = load_host_config(tmp_path)
    assert cfg == HostConfig(route_prefix="v1", hub_name="ModelFerry", max_activities=3, max_orchestrators=7,
                             function_timeout=600.0)


def test_defaults_without_host_json(tmp_path):
    cfg = load_host_config(tmp_path)
    assert cfg.route_prefix == "api"
    assert cfg.hub_name == "TestHubName"
    assert cfg.max_activities == 10 * (os.cpu_count() or 1)
    assert cfg.function_timeout is None


def test_empty_route_prefix_is_allowed():
    assert HostConfig.from_dict({"extensions": {"http": {"routePrefix": ""}}}).route_prefix == ""


def test_hub_name_from_app_setting(monkeypatch):
    monkeypatch.setenv("MY_HUB", "FromSetting")
    assert HostConfig.from_dict({"extensions": {"durableTask": {"hubName": "%MY_HUB%"}}}).hub_name == "FromSetting"


@pytest.mark.parametrize(("data", "fragment"), [
    ({"version": "1.0"}, "version"),
    ({"extensions": {"durableTask": {"hubName": "no-dashes"}}}, "hubName"),
    ({"extensions": {"durableTask": {"maxConcurrentActivityFunctions": 0}}}, "maxConcurrentActivityFunctions"),
    ({"extensions": {"durableTask": {"maxConcurrentOrchestratorFunctions": "5"}}}, "maxConcurrentOrchestrator"),
    ({"functionTimeout": "ten minutes"}, "TimeSpan"),
    ({"extensions": {"http": []}}, "extensions.http"),
])
def test_bad_host_json_is_refused_with_the_key(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        HostConfig.from_dict(data)


def test_invalid_json_names_the_file(tmp_path):
    (tmp_path / "host.json").write_text("{nope")
    with pytest.raises(ConfigError, match=r"host\.json is not valid JSON"):
        load_host_config(tmp_path)


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:10:00", 600), ("01:00:00", 3600), ("1.02:03:04", 93784), ("00:00:01.5", 1.5),
])
def test_timespan(text, seconds):
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["10", "00:61:00", "abc", "24:00:00"])
def test_bad_timespan(text):
    with pytest.raises(ConfigError):
        parse_timespan(text)


def test_settings_values_and_restore(tmp_path, monkeypatch):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"DEVHOST_T_A": "1", "DEVHOST_T_B": "x"}}))
    monkeypatch.setenv("DEVHOST_T_B", "before")
    monkeypatch.delenv("DEVHOST_T_A", raising=False)
    values = load_settings(path)
    assert values == {"DEVHOST_T_A": "1", "DEVHOST_T_B": "x"}
    with apply_settings(values):
        assert os.environ["DEVHOST_T_A"] == "1"
        assert os.environ["DEVHOST_T_B"] == "x"
    assert "DEVHOST_T_A" not in os.environ
    assert os.environ["DEVHOST_T_B"] == "before"


@pytest.mark.parametrize(("content", "fragment"), [
    ({"Values": {"N": 5}}, "Values.N is int"),
    ({"Values": []}, "Values must be a JSON object"),
    ({"IsEncrypted": True, "Values": {}}, "IsEncrypted"),
    ([], "top level"),
])
def test_bad_settings_are_refused(tmp_path, content, fragment):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=fragment):
        load_settings(path)


def test_missing_settings_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.json")


def test_local_http_port(tmp_path):
    from devhost.config import local_http_port

    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {}, "Host": {"LocalHttpPort": 7199}}))
    assert local_http_port(path) == 7199
    path.write_text(json.dumps({"Values": {}}))
    assert local_http_port(path) is None
    path.write_text(json.dumps({"Host": {"LocalHttpPort": "7199"}}))
    with pytest.raises(ConfigError, match="LocalHttpPort"):
        local_http_port(path)
