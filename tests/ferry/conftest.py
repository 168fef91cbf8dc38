"""Fixtures for the ferry core tests (helpers live in ferry_testkit.py)."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import pytest
from ferry_testkit import FakeService, make_handler

import ferry.http
import ferry.settings


@pytest.fixture
def fake_service():
    ref: list[FakeService] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(ref))
    server.daemon_threads = True
    service = FakeService(server)
    ref.append(service)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-docintel",
                              daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Each test starts with a fresh pooled Session and an empty settings cache."""
    ferry.http.reset_session()
    ferry.settings.load.cache_clear()
    yield
    ferry.http.reset_session()
    ferry.settings.load.cache_clear()


