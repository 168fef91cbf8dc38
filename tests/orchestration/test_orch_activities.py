"""The activity bodies: the {ok, value|error} envelope, settings problems, and nothing secret in the output."""

import json

import pytest

import activities
from ferry import settings as ferry_settings
from ferry import steps
from ferry.contracts import CopyStarted
from ferry.errors import FerryError


class _Bodies:
    """The registered activity functions (the user functions behind the blueprint's triggers)."""

    def __getattr__(self, name):
        return getattr(activities, name).build().get_user_function()


bodies = _Bodies()

RID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/{}"


def resources(**extra):
    base = {
        "east": {"endpoint": "http://127.0.0.1:1", "region": "eastus", "resourceId": RID.format("east"),
                 "apiVersion": "2024-11-30", "cmk": True},
        "west": {"endpoint": "http://127.0.0.1:2", "region": "westus2", "resourceId": RID.format("west"),
                 "apiVersion": "2024-11-30"},
        "old": {"endpoint": "http://127.0.0.1:3", "region": "westus2", "resourceId": RID.format("old"),
                "apiVersion": "v2.1"},
    }
    base.update(extra)
    return json.dumps(base)


@pytest.fixture
def env(monkeypatch):
    for name in [k for k in list(__import__("os").environ) if k.startswith("FERRY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FERRY_RESOURCES", resources())
    monkeypatch.setenv("FERRY_SOURCE", "east")
    monkeypatch.setenv("FERRY_TARGETS", "west")
    ferry_settings.load.cache_clear()
    yield monkeypatch
    ferry_settings.load.cache_clear()


def test_plan_freezes_policy_and_per_target_facts(env):
    env.setenv("FERRY_ALLOW_CMK_DEGRADE", "true")
    env.setenv("FERRY_COPY_DEADLINE_SECONDS", "120")
    out = bodies.plan_copy({"modelId": "m1"})
    assert out["ok"]
    value = out["value"]
    assert value["request"] == {"modelId": "m1", "source": "east", "targets": ["west"]}
    assert value["targets"] == [{"alias": "west", "apiVersion": "2024-11-30", "targetModelId": "m1",
                                 "degrade": True}]
    assert value["policy"]["deadline_seconds"] == 120
    assert "endpoint" not in json.dumps(value) and "127.0.0.1" not in json.dumps(value)


def test_plan_rejects_a_bad_request_with_the_request_error(env):
    out = bodies.plan_copy({"modelId": "m1", "targets": ["old"]})
    assert not out["ok"] and out["error"]["code"] == "IncompatibleApiVersions"
    assert out["error"]["hint"] and out["error"]["message"]


def test_invalid_settings_become_an_error_naming_the_setting(env):
    env.setenv("FERRY_POLL_MAX_SECONDS", "-3")
    out = bodies.plan_copy({"modelId": "m1"})
    assert not out["ok"] and out["error"]["code"] == "InvalidSettings"
    assert "FERRY_POLL_MAX_SECONDS" in out["error"]["message"] and out["error"]["kind"] == "invalid_settings"
    step = bodies.poll_copy({"source": "east", "operationUrl": "http://127.0.0.1:1/op"})
    assert step["error"]["code"] == "InvalidSettings"


def test_classified_failures_are_returned_and_bugs_raise(env, monkeypatch):
    def throttled(*_a, **_k):
        raise FerryError(kind="throttled", code="429", message="slow down", hint="wait", retry_after=3)

    monkeypatch.setattr(steps, "poll_copy", throttled)
    out = bodies.poll_copy({"source": "east", "operationUrl": "http://127.0.0.1:1/op"})
    assert out == {"ok": False, "error": FerryError(kind="throttled", code="429", message="slow down",
                                                    hint="wait", retry_after=3).to_dict()}

    def bug(*_a, **_k):
        raise KeyError("oops")

    monkeypatch.setattr(steps, "get_target_model", bug)
    with pytest.raises(KeyError):
        bodies.get_target_model({"target": "west", "targetModelId": "m1"})


def test_start_returns_only_ids_never_the_authorization(env, monkeypatch):
    seen = {}

    def start(settings, source, target, model_id, target_model_id, degrade, *, description=None, tags=None,
              not_before=None, kind_name=None,
              source_created=None, origin=None):
        seen.update(source=source, target=target, degrade=degrade, description=description, tags=tags,
                    not_before=not_before, kind=kind_name, origin=origin)
        return CopyStarted(operation_url="http://127.0.0.1:1/op/1", target_model_id="m1",
                           authorization_expires_at="x")

    monkeypatch.setattr(steps, "authorize_and_start_copy", start)
    out = bodies.authorize_and_start_copy({"source": "east", "target": "west", "sourceModelId": "m1",
                                                "targetModelId": "m1", "degrade": True, "description": "d",
                                                "tags": {"k": "v"}, "notBefore": "2026-01-01T00:00:00+00:00",
                                                "origin": "north"})
    assert out == {"ok": True, "value": {"operationUrl": "http://127.0.0.1:1/op/1", "targetModelId": "m1",
                                         "authorizationExpiresAt": "x"}}
    assert seen == {"source": "east", "target": "west", "degrade": True, "description": "d", "tags": {"k": "v"},
                    "not_before": "2026-01-01T00:00:00+00:00", "kind": "model", "origin": "north"}
