"""ferry.http.call against a scripted loopback service: retries only where safe, 401 refresh, headers, logs."""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
import requests
from ferry_testkit import KeyRing

from ferry import http
from ferry.errors import FerryError

JSON = {"Content-Type": "application/json"}
OK = (200, {"apim-request-id": "rid-ok"}, {"ok": True})


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch):
    """Retries behave as in production, only the backoff sleeps are shortened (sessions are new per test)."""
    monkeypatch.setattr(http, "RETRY_BACKOFF_FACTOR", 0.01)


def call(service, method="GET", path="/formrecognizer/documentModels/m?api-version=2023-07-31", auth=None, **kw):
    return http.call(method, service.url + path, auth=auth or KeyRing("key-AAAA-1111"), operation="test_op",
                     api_version="2023-07-31", resource="res", **kw)


def test_get_is_retried_on_502_503_504(fake_service):
    fake_service.on("GET", "/m", (502, {}, ""), (503, {}, ""), (504, {}, ""), OK)
    response = call(fake_service)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert fake_service.count("GET") == 4


def test_delete_is_retried_on_503(fake_service):
    fake_service.on("DELETE", "/m", (503, {}, ""), (204, {}, None))
    assert call(fake_service, "DELETE", expected=(204,)).status_code == 204
    assert fake_service.count("DELETE") == 2


def test_get_is_retried_after_a_dropped_connection(fake_service):
    fake_service.on("GET", "/m", (0, {}, None), OK)
    assert call(fake_service).status_code == 200
    assert fake_service.count("GET") == 2


@pytest.mark.parametrize("reply", [(503, {}, ""), (502, {}, ""), (0, {}, None), (500, {}, "")])
def test_post_is_never_retried(fake_service, reply):
    fake_service.on("POST", "/m", reply, (202, {"Operation-Location": "{base}/op"}, None))
    with pytest.raises(FerryError) as info:
        call(fake_service, "POST", data=b"{}", expected=(202,))
    assert info.value.kind == "transient" and info.value.retryable
    assert fake_service.count("POST") == 1


def test_get_gives_up_after_three_retries_and_reports_transient(fake_service):
    fake_service.on("GET", "/m", (503, JSON, {"error": {"code": "ServiceUnavailable", "message": "down"}}))
    with pytest.raises(FerryError) as info:
        call(fake_service)
    assert (info.value.kind, info.value.status, info.value.code) == ("transient", 503, "ServiceUnavailable")
    assert fake_service.count("GET") == 4


def test_long_retry_after_is_left_to_the_caller(fake_service):
    fake_service.on("GET", "/m", (503, {"Retry-After": "30"}, ""), OK)
    started = time.monotonic()
    with pytest.raises(FerryError) as info:
        call(fake_service)
    assert time.monotonic() - started < 2
    assert info.value.retry_after == 30.0 and fake_service.count("GET") == 1


def test_short_retry_after_on_503_is_honoured_inline(fake_service):
    fake_service.on("GET", "/m", (503, {"Retry-After": "1"}, ""), OK)
    started = time.monotonic()
    assert call(fake_service).status_code == 200
    assert time.monotonic() - started >= 0.9 and fake_service.count("GET") == 2


def test_429_is_not_retried_inline(fake_service):
    fake_service.on("GET", "/m", (429, {"Retry-After": "1", **JSON}, {"error": {"code": "429", "message": "slow"}}))
    with pytest.raises(FerryError) as info:
        call(fake_service)
    assert info.value.kind == "throttled" and info.value.retry_after == 1.0
    assert fake_service.count("GET") == 1


def test_401_refreshes_the_key_and_retries_once(fake_service):
    denied = (401, JSON, {"error": {"code": "401", "message": "Access denied due to invalid subscription key"}})
    fake_service.on("POST", "/m", lambda r: OK if r.headers.get("Ocp-Apim-Subscription-Key") == "new-key" else denied)
    ring = KeyRing("old-key", "new-key")
    assert call(fake_service, "POST", data=b"{}", auth=ring).status_code == 200
    assert [r.headers["Ocp-Apim-Subscription-Key"] for r in fake_service.requests] == ["old-key", "new-key"]
    assert ring.unauthorized_calls == 1


def test_401_again_after_refresh_is_unauthorized(fake_service):
    fake_service.on("GET", "/m", (401, JSON, {"error": {"code": "401", "message": "Access denied"}}))
    ring = KeyRing("old-key", "also-wrong")
    with pytest.raises(FerryError) as info:
        call(fake_service, auth=ring)
    assert info.value.kind == "unauthorized" and fake_service.count("GET") == 2 and ring.unauthorized_calls == 1


def test_401_without_a_new_key_is_not_repeated(fake_service):
    fake_service.on("GET", "/m", (401, JSON, {"error": {"code": "401", "message": "Access denied"}}))
    ring = KeyRing("only-key")
    with pytest.raises(FerryError):
        call(fake_service, auth=ring)
    assert fake_service.count("GET") == 1 and ring.unauthorized_calls == 1


def test_headers_user_agent_request_id_and_credential(fake_service):
    fake_service.on("GET", "/m", OK)
    call(fake_service)
    call(fake_service)
    first, second = fake_service.requests
    assert first.headers["User-Agent"] == f"modelferry/{__import__('ferry').__version__}"
    ids = [uuid.UUID(r.headers["x-ms-client-request-id"]) for r in (first, second)]
    assert ids[0] != ids[1]
    assert first.headers["Ocp-Apim-Subscription-Key"] == "key-AAAA-1111"
    assert "Cookie" not in second.headers


def test_read_timeout_get_retried_then_transient_post_once(fake_service):
    def slow(_):
        time.sleep(0.5)
        return OK

    fake_service.on("GET", "/m", slow)
    fake_service.on("POST", "/m", slow)
    with pytest.raises(FerryError) as info:
        call(fake_service, timeout=(1.0, 0.15))
    assert info.value.kind == "transient" and info.value.code in ("Timeout", "ConnectionError")
    assert isinstance(info.value.__cause__, requests.RequestException)
    assert fake_service.count("GET") == 3  # 1 + read retries
    with pytest.raises(FerryError) as info:
        call(fake_service, "POST", data=b"{}", timeout=(1.0, 0.15))
    assert info.value.code == "Timeout" and fake_service.count("POST") == 1


def test_connection_refused_is_transient():
    with pytest.raises(FerryError) as info:
        http.call("GET", "http://127.0.0.1:9/x", auth=KeyRing("k"), operation="op", api_version="v2.1",
                  resource="r", timeout=(0.5, 0.5))
    assert info.value.kind == "transient" and info.value.code == "ConnectionError"


def test_session_is_shared_and_resettable():
    assert http.session() is http.session()
    first = http.session()
    http.reset_session()
    assert http.session() is not first


def test_logs_info_per_call_warning_per_failure_and_no_secrets(fake_service, caplog):
    fake_service.on("GET", "/ok", (200, {"apim-request-id": "rid-123"}, {"ok": 1}))
    fake_service.on("GET", "/bad", (400, {"apim-request-id": "rid-456", **JSON},
                                    {"error": {"code": "1002", "message": "The request is invalid."}}))
    with caplog.at_level(logging.DEBUG):
        call(fake_service, path="/ok?api-version=2023-07-31&sig=supersecret")
        with pytest.raises(FerryError):
            call(fake_service, path="/bad?api-version=2023-07-31")
    infos = [r.getMessage() for r in caplog.records if r.name == "modelferry.http" and r.levelno == logging.INFO]
    warnings = [r.getMessage() for r in caplog.records if r.name == "modelferry.http" and r.levelno == logging.WARNING]
    assert re.search(r"test_op GET /ok\?api-version=2023-07-31 on res -> 200 in \d+ ms \(apim-request-id rid-123\)",
                     infos[0])
    assert "-> 400" in infos[1] and any("1002" in w and "rid-456" in w for w in warnings)
    assert "supersecret" not in " ".join(infos + warnings)
    assert "key-AAAA-1111" not in caplog.text


def test_non_json_success_is_a_terminal_error(fake_service):
    fake_service.on("GET", "/m", (200, {"Content-Type": "text/html"}, "<html>portal</html>"))
    response = call(fake_service)
    with pytest.raises(FerryError) as info:
        http.response_json(response, operation="get_model", api_version="v2.1", resource="r")
    assert info.value.code == "InvalidResponse" and "endpoint" in info.value.hint


def test_one_session_shared_by_many_threads(fake_service):
    from concurrent.futures import ThreadPoolExecutor

    fake_service.on("GET", "/m", OK)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: call(fake_service).status_code, range(80)))
    assert statuses == [200] * 80
    ids = {r.headers["x-ms-client-request-id"] for r in fake_service.requests}
    assert len(ids) == 80


def test_ferry_core_never_imports_azure_functions():
    from pathlib import Path

    root = Path(http.__file__).resolve().parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if re.search(r"^\s*(import azure\.functions|from azure\.functions|from azure import functions)",
                              p.read_text(), re.MULTILINE)]
    assert offenders == []
