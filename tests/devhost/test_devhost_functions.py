"""devhost.functions: loading a v2-model app as the worker does and invoking durable functions by binding name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhost.functions import (
    AppLoadError,
    UnsupportedBindingError,
    invoke_activity,
    invoke_entity,
    load_app,
)

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def index():
    return load_app(APPS / "features")


def test_index_uses_the_v2_metadata(index):
    chain = index.functions["chain"]
    assert (chain.trigger_type, chain.trigger_param, chain.durable_name) == ("orchestrationTrigger", "context", "chain")
    assert chain.bindings == [{"direction": "IN", "type": "orchestrationTrigger", "name": "context"}]
    assert index.functions["hello"].is_async and not index.functions["double"].is_async
    assert {f.name for f in index.by_trigger("entityTrigger")} == {"counter"}
    assert index.module.__name__ == "function_app"  # custom classes serialized by df_dumps resolve


def test_custom_activity_name_is_the_registered_name(index):
    assert index.activity("flaky_step").name == "flaky"
    assert index.activity("flaky") is None
    assert index.entity("COUNTER").name == "counter"  # entity names are case-insensitive
    assert index.orchestrator("double") is None


def test_activity_invocation_uses_the_worker_converters(index):
    assert invoke_activity(index.activity("double"), "21") == "42"
    assert invoke_activity(index.activity("hello"), '"x"') == '"Hello x!"'  # async, awaited
    assert invoke_activity(index.activity("hello"), "not json") == '"Hello not json!"'  # string fallback


def test_context_parameter_gets_a_func_context(index):
    index.module.GATE.set()
    try:
        assert json.loads(invoke_activity(index.activity("gate"), '"v"')) == "gate:v"
    finally:
        index.module.GATE.clear()


def test_entity_invocation_speaks_the_batch_protocol(index):
    ctx = {"self": {"name": "counter", "key": "k"}, "exists": True, "state": "41",
           "batch": [{"name": "add", "input": json.dumps(json.dumps(1))}, {"name": "get", "input": "null"}]}
    out = json.loads(invoke_entity(index.entity("counter"), json.dumps(ctx)))
    assert out["entityExists"] is True and out["entityState"] == "42"
    assert [r["result"] for r in out["results"]] == ["42", "42"]


def test_unsupported_binding_is_refused_with_a_clear_message():
    with pytest.raises(UnsupportedBindingError) as err:
        load_app(APPS / "unsupported")
    text = str(err.value)
    assert "'on_job'" in text and "'queueTrigger'" in text and "Supported:" in text


def test_missing_app_is_a_clear_error(tmp_path):
    with pytest.raises(AppLoadError, match=r"no function_app\.py"):
        load_app(tmp_path)
    (tmp_path / "function_app.py").write_text("raise RuntimeError('broken import')\n")
    with pytest.raises(AppLoadError, match="broken import"):
        load_app(tmp_path)
    (tmp_path / "function_app.py").write_text("x = 1\n")
    with pytest.raises(AppLoadError, match="no FunctionApp"):
        load_app(tmp_path)


def test_apps_with_same_named_helper_packages_load_one_after_another():
    a = load_app(APPS / "helpers_a")
    assert invoke_activity(a.activity("who"), '""') == '"a"'
    b = load_app(APPS / "helpers_b")
    assert invoke_activity(b.activity("who"), '""') == '"b"'
    assert str(APPS / "helpers_a") not in __import__("sys").path


def test_an_app_nested_in_a_loaded_app_keeps_the_host_modules(tmp_path):
    import devhost.engine.errors as errors_before

    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    (outer / "function_app.py").write_text("import azure.durable_functions as df\napp = df.DFApp()\n")
    (inner / "function_app.py").write_text("import azure.durable_functions as df\napp = df.DFApp()\n")
    (outer / "outer_helper.py").write_text("X = 1\n")
    load_app(outer)
    __import__("outer_helper")
    load_app(inner)
    import devhost.engine.errors as errors_after

    assert errors_after is errors_before
    assert "outer_helper" in __import__("sys").modules  # the enclosing app is not forgotten
