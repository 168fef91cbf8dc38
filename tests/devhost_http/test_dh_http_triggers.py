"""HTTP triggers through a real socket: routing, conversion, return types, failures, keys."""

import logging

import requests


def test_request_is_built_like_the_worker(web_app, serve):
    server = serve(web_app)
    r = requests.post(f"{server.url}/api/echo/bob/3?x=1&x=2", data=b'{"a": 1}', headers={"x-sample": "hi"},
                      timeout=10)
    assert r.status_code == 200
    assert r.headers["x-handled-by"] == "echo"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body == {"method": "POST", "url": f"{server.url}/api/echo/bob/3?x=1&x=2",
                    "route": {"name": "bob", "count": "3"}, "params": {"x": "1,2"}, "body": '{"a": 1}',
                    "header": "hi"}


def test_route_constraints_methods_and_prefix(web_app, serve):
    server = serve(web_app)
    assert requests.get(f"{server.url}/api/echo/bob", timeout=10).json()["route"] == {"name": "bob"}
    assert requests.get(f"{server.url}/api/echo/b0b", timeout=10).status_code == 404      # alpha constraint
    assert requests.put(f"{server.url}/api/echo/bob", timeout=10).status_code == 404      # method not listed
    assert requests.get(f"{server.url}/echo/bob", timeout=10).status_code == 404          # no prefix
    assert requests.get(f"{server.url}/api/items/new", timeout=10).text == "literal route wins"
    assert requests.get(f"{server.url}/api/items/9", timeout=10).text == "item 9"
    r = requests.delete(f"{server.url}/api/files/a/b.txt", timeout=10)
    assert (r.status_code, r.text) == (201, "a/b.txt")


def test_custom_route_prefix(web_app, serve):
    server = serve(web_app, route_prefix="")
    assert requests.get(f"{server.url}/items/3", timeout=10).text == "item 3"
    assert requests.get(f"{server.url}/api/items/3", timeout=10).status_code == 404


def test_return_types(web_app, serve):
    server = serve(web_app)
    r = requests.get(f"{server.url}/api/items/1", timeout=10)
    assert (r.status_code, r.headers["content-type"]) == (200, "text/plain; charset=utf-8")
    assert requests.get(f"{server.url}/api/nothing", timeout=10).status_code == 204
    assert requests.get(f"{server.url}/api/ctx", timeout=10).text == "with_context:36"


def test_failures_give_500_and_one_log_line_with_the_traceback(web_app, serve, caplog):
    server = serve(web_app)
    with caplog.at_level(logging.INFO, logger="devhost"):
        assert requests.get(f"{server.url}/api/boom", timeout=10).status_code == 500
        assert requests.get(f"{server.url}/api/wrongtype", timeout=10).status_code == 500
        assert requests.get(f"{server.url}/api/items/2", timeout=10).status_code == 200
    failed = [r for r in caplog.records if "(Failed" in r.getMessage()]
    assert len(failed) == 2
    assert "Functions.boom" in failed[0].getMessage()
    assert 'raise RuntimeError("sample failure")' in failed[0].getMessage()
    assert "devhost/http" not in failed[0].getMessage()   # only the user's frames
    assert "func.HttpResponse or str" in failed[1].getMessage()
    ok = [r.getMessage() for r in caplog.records if "(Succeeded" in r.getMessage()]
    assert len(ok) == 1 and "Functions.get_item" in ok[0] and "Duration=" in ok[0]


def test_keys_disabled_by_default(web_app, serve):
    server = serve(web_app)
    assert requests.get(f"{server.url}/api/secret", timeout=10).text == "function level ok"
    assert requests.get(f"{server.url}/api/adminonly", timeout=10).text == "admin level ok"


def test_keys_enforced_when_enabled(web_app, serve, keys):
    server = serve(web_app, keys=keys)
    url = f"{server.url}/api/secret"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"code": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": keys.function_key("secret")}, timeout=10).status_code == 200
    assert requests.get(url, headers={"x-functions-key": keys.host_keys["default"]}, timeout=10).status_code == 200
    assert requests.get(url, params={"code": keys.function_key("echo")}, timeout=10).status_code == 401
    admin = f"{server.url}/api/adminonly"
    assert requests.get(admin, params={"code": keys.host_keys["default"]}, timeout=10).status_code == 401
    assert requests.get(admin, headers={"x-functions-key": keys.master_key}, timeout=10).status_code == 200
    # anonymous functions stay open
    assert requests.get(f"{server.url}/api/items/1", timeout=10).status_code == 200
    # the admin API needs the master key
    assert requests.get(f"{server.url}/admin/host/status", timeout=10).status_code == 401
    assert requests.get(f"{server.url}/admin/host/status", params={"code": keys.master_key},
                        timeout=10).status_code == 200


def test_disabled_functions_are_not_served(web_app, serve, monkeypatch):
    monkeypatch.setenv("AzureWebJobs.get_item.Disabled", "true")
    monkeypatch.setenv("AzureWebJobs.on_event.Disabled", "1")
    server = serve(web_app)
    assert requests.get(f"{server.url}/api/items/1", timeout=10).status_code == 404
    assert requests.get(f"{server.url}/api/items/new", timeout=10).status_code == 200
    r = requests.post(f"{server.url}/runtime/webhooks/eventgrid", params={"functionName": "on_event"}, json=[],
                      headers={"aeg-event-type": "Notification"}, timeout=10)
    assert r.status_code == 404
    listing = {f["name"]: f["isDisabled"] for f in requests.get(f"{server.url}/admin/functions", timeout=10).json()}
    assert listing["get_item"] is True and listing["echo"] is False


def test_function_timeout(web_app, serve, caplog):
    server = serve(web_app, function_timeout=0.25)
    with caplog.at_level(logging.INFO, logger="devhost"):
        assert requests.get(f"{server.url}/api/slow", params={"s": "5"}, timeout=10).status_code == 500
        assert requests.get(f"{server.url}/api/slow", params={"s": "0"}, timeout=10).text == "finished"
    failed = [r.getMessage() for r in caplog.records if "(Failed" in r.getMessage()]
    assert len(failed) == 1
    assert "Timeout value of 00:00:00.2500000 was exceeded by function: Functions.slow" in failed[0]
