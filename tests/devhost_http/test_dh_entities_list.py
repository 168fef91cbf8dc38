"""Entities over the HTTP API: the empty key (`$` on GET, no key on POST) and `GET entities/{name}` listing.

Inputs are JSON strings holding JSON, as the SDK client double-encodes them.
"""

from datetime import UTC, datetime

import requests

T = 10  # request timeout, seconds


def rpc(server, path):
    return f"{server.url}/durabletask/{path}"


def hook(server, path):
    return f"{server.url}/runtime/webhooks/durabletask/{path}"


def _settled(engine, key, value):
    engine.wait_until(lambda: engine.read_entity("counter", key) == value, timeout=10, what=f"counter {key!r}")


def test_empty_entity_key(durable_host):
    server, engine = durable_host()
    assert requests.get(hook(server, "entities/counter/$"), timeout=T).status_code == 404
    assert requests.post(hook(server, "entities/counter"), params={"op": "add"}, json="4", timeout=T).status_code == 202
    _settled(engine, "", "4")
    r = requests.get(hook(server, "entities/counter/$"), timeout=T)
    assert (r.status_code, r.json()) == (200, 4)
    # on POST the extension does not translate `$`: it is a literal key there
    requests.post(rpc(server, "entities/counter/$"), params={"op": "add"}, json="1", timeout=T)
    _settled(engine, "$", "1")
    assert requests.get(rpc(server, "entities/counter/$"), timeout=T).json() == 4
    engine.signal_entity("counter", "", "add", '"2"')  # as the SDK client sends 2
    _settled(engine, "", "6")


def test_list_entities_by_name_with_state_filters_and_paging(durable_host):
    server, engine = durable_host()
    for key, amount in (("b", 2), ("a", 1), ("c", 3), ("gone", 9)):
        requests.post(hook(server, f"entities/Counter/{key}"), params={"op": "add"}, json=str(amount), timeout=T)
        _settled(engine, key, str(amount))
    requests.delete(hook(server, "entities/counter/gone"), timeout=T)
    engine.wait_until(lambda: engine.read_entity("counter", "gone") is None, timeout=10, what="gone deleted")

    r = requests.get(hook(server, "entities/counter"), timeout=T)
    assert r.status_code == 200 and r.headers["x-ms-continuation-token"] == ""
    listed = r.json()
    assert [e["entityId"] for e in listed] == [{"name": "counter", "key": k} for k in ("a", "b", "c")]
    assert all(e["state"] is None for e in listed) and all(e["lastOperationTime"].endswith("Z") for e in listed)
    with_state = requests.get(rpc(server, "entities/counter/"), params={"fetchState": "true"}, timeout=T).json()
    assert [e["state"] for e in with_state] == [1, 2, 3]
    assert requests.get(hook(server, "entities/nothing"), timeout=T).json() == []

    boundary = datetime.fromtimestamp(engine.clock.time() + 30, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    engine.clock.advance(60)
    requests.post(hook(server, "entities/counter/b"), params={"op": "add"}, json="10", timeout=T)
    _settled(engine, "b", "12")
    recent = requests.get(hook(server, "entities/counter"), params={"lastOperationTimeFrom": boundary}, timeout=T)
    assert [e["entityId"]["key"] for e in recent.json()] == ["b"]
    older = requests.get(hook(server, "entities/counter"), params={"lastOperationTimeTo": boundary}, timeout=T)
    assert [e["entityId"]["key"] for e in older.json()] == ["a", "c"]

    seen, token, pages = [], None, 0
    while True:
        page = requests.get(hook(server, "entities/counter"), params={"top": "2"}, timeout=T,
                            headers={"x-ms-continuation-token": token} if token else {})
        seen += [e["entityId"]["key"] for e in page.json()]
        pages += 1
        token = page.headers["x-ms-continuation-token"]
        if not token:
            break
    assert (pages, seen) == (2, ["a", "b", "c"])
    # no name: every entity function's entities
    assert len(requests.get(hook(server, "entities/"), timeout=T).json()) == 3
