"""The dashboard in a real browser (headless Chromium over the DevTools protocol) on a running stack.

After a sync with one failure injected, the rendered page must show the replica matrix (cells coloured by
state, with ids and times on hover), the failure row with its error code and hint; a screenshot is saved under
`.local/`. A missing browser FAILS this test: `make test` installs Debian's chromium when it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp import Browser, find_chromium

from tests.operator_stack import REPO, Stack, running_stack, unique

SCREENSHOT = REPO / ".local" / "dashboard.png"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.fail("no chromium on PATH: the dashboard test needs a real browser. Install it with "
                    "`apt-get install chromium` (`make test` does this on a fresh machine).")
    started = Browser(executable)
    try:
        yield started
    finally:
        started.close()


CELLS = """[...document.querySelectorAll('#matrix td.cell')].map(td => ({artifact: td.dataset.artifact,
  target: td.dataset.target, state: td.dataset.state, text: td.textContent, title: td.title,
  colour: getComputedStyle(td).backgroundColor}))"""
FAILURES = """[...document.querySelectorAll('#failures tbody tr')].map(tr => ({instance: tr.dataset.instance,
  code: tr.querySelector('.error-code').textContent, hint: tr.querySelector('.error-hint').textContent,
  text: tr.textContent}))"""


def sync(stack: Stack, body: dict) -> dict:
    """POST /api/sync and wait (devhost moves the clock) until the sync has finished; its status."""
    resp = stack.post("sync", body)
    assert resp.status_code == 202, resp.text
    return stack.host.wait_for(resp.json()["id"], timeout=120)


def test_dashboard_shows_matrix_failures_and_hints(stack: Stack, browser: Browser) -> None:
    good, bad, lonely = (stack.seed("src", unique(name)) for name in ("invoices", "receipts", "contracts"))
    assert sync(stack, {"include": [good]})["output"]["status"] == "succeeded"
    stack.resource("src").set_copy_behaviour("fail", 3, code="2024")  # the one failure: bad → west
    failed = sync(stack, {"include": [bad], "targets": ["west"]})
    item = next(i for i in failed["output"]["items"] if i["id"] == bad)
    assert item["result"] == "failed" and item["error"]["code"] == "2024"
    west = stack.resource("west")
    with west.world.lock:  # the replica of `good` on west expires in 10 days (the service's expirationDateTime)
        west.backend.models[good].expiration = stack.clock.time() + 10 * 86400
    assert stack.get("replicas", refresh="true").status_code == 200

    browser.open(f"{stack.url}/api/dashboard?code={stack.key}&pollMs=500")
    browser.wait_for(f"document.querySelector('#matrix td[data-artifact=\"{lonely}\"]') !== null "
                     f"&& document.querySelector('#failures tr[data-instance=\"{failed['instanceId']}\"]') !== null")
    cells = {(c["artifact"], c["target"]): c for c in browser.evaluate(CELLS)}
    assert cells[(good, "west")]["state"] == "current" and cells[(good, "europe")]["state"] == "current"
    assert cells[(bad, "west")]["state"] == "failed" and cells[(bad, "europe")]["state"] == "missing"
    assert cells[(lonely, "west")]["state"] == "missing"
    assert cells[(good, "west")]["text"] == "current"
    # coloured by state: the page's stylesheet, not a default
    assert cells[(good, "west")]["colour"] == "rgb(30, 142, 62)"
    assert cells[(bad, "west")]["colour"] == "rgb(217, 48, 37)"
    assert cells[(good, "west")]["colour"] != cells[(lonely, "west")]["colour"]
    hover = cells[(good, "west")]["title"]
    assert f"replica id: {good}" in hover and "verified:" in hover and "expires:" in hover
    assert "2024" in cells[(bad, "west")]["title"]

    rows = {r["instance"]: r for r in browser.evaluate(FAILURES)}
    row = rows[failed["instanceId"]]
    assert row["code"] == "2024" and row["hint"] == item["error"]["hint"] and row["hint"]
    assert bad in row["text"] and "west" in row["text"] and "sync" in row["text"]
    expiring = browser.evaluate("[...document.querySelectorAll('#expiring tbody tr')].map(tr => tr.textContent)")
    assert len(expiring) == 1 and good in expiring[0] and "west" in expiring[0]
    source_line = browser.evaluate("document.getElementById('source-line').textContent")
    assert "src" in source_line and "eastus" in source_line
    assert browser.evaluate("document.getElementById('problem').hidden") is True

    shot = browser.screenshot(SCREENSHOT)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dashboard_needs_the_function_key(stack: Stack) -> None:
    import requests
    assert requests.get(f"{stack.url}/api/dashboard", timeout=10).status_code == 401
    page = requests.get(f"{stack.url}/api/dashboard", params={"code": stack.key}, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    # one self-contained page: stylesheet and script inlined, nothing loaded from anywhere (works offline)
    assert "/*DASHBOARD_JS*/" not in page.text and "<script src" not in page.text and "<link" not in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_screenshot_path_is_under_local() -> None:
    assert Path(".local") in SCREENSHOT.relative_to(REPO).parents


def test_dashboard_shows_a_running_copy_with_its_progress(stack: Stack, browser: Browser) -> None:
    model_id = stack.seed("src", unique("running"))
    stack.resource("src").set_copy_behaviour("never_finish", 1)
    resp = stack.post("copies", {"modelId": model_id, "targets": ["west"]})
    assert resp.status_code == 202, resp.text
    instance = resp.json()["id"]
    stack.host.wait_for_custom_status(instance, lambda s: bool(s) and (s.get("targets", {}).get("west") or {})
                                      .get("stage") == "copying", timeout=60)
    stack.host.suspend(instance, "held for the dashboard test")  # stays in the running list, deterministically
    try:
        browser.open(f"{stack.url}/api/dashboard?code={stack.key}&pollMs=500")
        row = browser.wait_for("(() => { const tr = document.querySelector("
                               f"'#running tr[data-instance=\"{instance}\"]'); return tr && tr.textContent; }})()")
        assert model_id in row and "copy" in row and "west: copying" in row
        assert browser.evaluate("document.getElementById('running-empty').hidden") is True
    finally:
        stack.host.terminate(instance, "dashboard test done")
        stack.host.wait_for(instance, timeout=60)


def test_dashboard_shows_a_running_sync_with_a_progress_bar_per_target(stack: Stack, browser: Browser) -> None:
    model_id = stack.seed("src", unique("syncing"))
    stack.resource("src").set_copy_behaviour("never_finish", 1)
    resp = stack.post("sync", {"include": [model_id], "targets": ["west"]})
    assert resp.status_code == 202, resp.text
    instance = resp.json()["id"]
    stack.host.wait_for_custom_status(instance, lambda s: bool(s) and (s.get("progress") or {}).get("west"),
                                      timeout=60)
    stack.host.suspend(instance, "held for the dashboard test")
    try:
        browser.open(f"{stack.url}/api/dashboard?code={stack.key}&pollMs=500")
        row = f"#running tr[data-instance='{instance}']"
        bar = f"{row} .progress-line[data-target='west']"
        line = browser.wait_for(f"(() => {{ const d = document.querySelector(\"{bar}\");"
                                " return d && d.textContent; })()")
        assert "west" in line and "0/1" in line
        assert browser.evaluate(f"!!document.querySelector(\"{row} .bar\")")
    finally:
        stack.host.terminate(instance, "dashboard test done")
        stack.host.wait_for(instance, timeout=60)
