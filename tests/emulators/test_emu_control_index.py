"""``GET /_emulator/`` lists the control routes it offers, and the list is the truth (each route answers)."""

from __future__ import annotations

import requests


def test_index_lists_every_control_route_and_each_listed_route_answers(src) -> None:
    index = requests.get(f"{src.endpoint}/_emulator/", timeout=10)
    assert index.status_code == 200
    body = index.json()
    assert body["endpoint"] == src.endpoint and body["region"] == "eastus"  # still describes the resource
    routes = body["controlRoutes"]
    listed = {(r["method"], r["path"]) for r in routes}
    assert {("GET", "/_emulator/models"), ("POST", "/_emulator/faults/next"), ("PUT", "/_emulator/rate-limits"),
            ("POST", "/_emulator/clock/advance"), ("GET", "/_emulator/")} <= listed
    assert all(r["url"] == src.endpoint + r["path"] and r["does"] for r in routes)
    # every listed GET answers 200 at the URL it gives; a route not listed is unknown, and the 404 agrees
    for route in routes:
        if route["method"] == "GET":
            assert requests.get(route["url"], timeout=10).status_code == 200, route
    unknown = requests.get(f"{src.endpoint}/_emulator/nothing-here", timeout=10)
    assert unknown.status_code == 404
    assert sorted(unknown.json()["known"]) == sorted(f"{m} {p}" for m, p in listed)
    # the same without the trailing slash
    assert requests.get(f"{src.endpoint}/_emulator", timeout=10).json()["controlRoutes"] == routes
