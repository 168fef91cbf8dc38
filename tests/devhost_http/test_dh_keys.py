import json
import stat

import pytest

from devhost.http.keys import HostKeys, presented_key


@pytest.fixture
def k() -> HostKeys:
    return HostKeys.generate(["f1", "f2"])


def test_levels(k):
    f1, f2 = k.function_key("f1"), k.function_key("f2")
    host, master = k.host_keys["default"], k.master_key
    assert k.authorizes("anonymous", None)
    assert not k.authorizes("function", None, function_name="f1")
    assert k.authorizes("function", f1, function_name="f1")
    assert not k.authorizes("function", f2, function_name="f1")
    assert k.authorizes("function", host, function_name="f1")
    assert k.authorizes("function", master, function_name="f1")
    assert not k.authorizes("admin", host)
    assert not k.authorizes("admin", f1, function_name="f1")
    assert k.authorizes("admin", master)
    assert k.authorizes("system", k.system_key("durabletask"), extension="durabletask")
    assert not k.authorizes("system", k.system_key("eventgrid"), extension="durabletask")
    assert not k.authorizes("system", host, extension="durabletask")
    assert k.authorizes("system", master, extension="eventgrid")
    assert not k.authorizes("function", "wrong", function_name="f1")


def test_header_wins_over_code():
    assert presented_key({"X-Functions-Key": "h"}, {"code": "q"}) == "h"
    assert presented_key({}, {"code": "q"}) == "q"
    assert presented_key({}, {}) is None


def test_save_and_load_round_trip_owner_only(k, tmp_path):
    path = tmp_path / "keys.json"
    k.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = HostKeys.load(path)
    assert loaded == k


def test_load_needs_master_key(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"hostKeys": {}}))
    with pytest.raises(ValueError, match="masterKey"):
        HostKeys.load(path)


def test_ensure_adds_missing_keys():
    k = HostKeys(master_key="m")
    assert k.ensure(["new_fn"]) is True
    assert k.function_key("new_fn")
    assert k.system_key("eventgrid")
    assert k.ensure(["new_fn"]) is False
