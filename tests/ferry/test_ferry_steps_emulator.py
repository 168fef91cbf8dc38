"""ferry.steps against the local cloud (emulators.LocalCloud): every API version, recovery and error paths.

HTTP goes over loopback to the emulated resources; state is checked through the emulator's control handles.
Credentials: a test authenticator holding the emulated resource's key (the Key Vault / managed-identity path is
covered end to end in test_real_auth_path_keys_from_vault_and_managed_identity).
"""

from __future__ import annotations

import json
import logging
import threading

import pytest
from ferry_testkit import KeyRing

import ferry.auth
from emulators import LocalCloud
from ferry import steps
from ferry.docintel import is_copy_of
from ferry.errors import FerryError
from ferry.generations import validate_model_id
from ferry.settings import parse

V2 = ("v2.0", "v2.1")
V3 = ("2022-08-31", "2023-07-31", "2024-11-30")
ALL = V2 + V3
COPY_SECONDS = 4.0
SUB = "00000000-0000-0000-0000-0000000000aa"


class FrozenClock:
    """Time moves only when a test says so (the emulator's copy durations follow it)."""

    def __init__(self, start: float = 1_800_000_000.0):
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def _resource(name: str, region: str, **extra):
    return {"name": name, "region": region, "keys": [f"{name}-key1-0123456789", f"{name}-key2-0123456789"],
            "resourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/"
                          f"accounts/{name}", "copySeconds": COPY_SECONDS, "trainSeconds": 2.0, **extra}


@pytest.fixture(scope="module")
def cloud():
    config = {"resources": [_resource("src", "eastus"), _resource("dst", "westus2"),
                            _resource("cmksrc", "westeurope", cmk=True)]}
    with LocalCloud.from_config(config, clock=FrozenClock()) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(cloud, monkeypatch):
    cloud.reset()
    keyrings = {name: KeyRing(handle.key) for name, handle in cloud.resources.items()}
    monkeypatch.setattr(ferry.auth, "authenticator", lambda resource, settings: keyrings[resource.alias])
    waits: list[float] = []
    monkeypatch.setattr(steps, "_sleep", waits.append)
    yield keyrings, waits


@pytest.fixture
def keyrings(_clean):
    return _clean[0]


@pytest.fixture
def waits(_clean):
    return _clean[1]


def settings_for(cloud: LocalCloud, api_version: str, target_api: str | None = None, **env: str):
    resources = {}
    for name, handle in cloud.resources.items():
        resources[name] = {"endpoint": handle.endpoint, "region": handle.region, "resourceId": handle.resource_id,
                           "apiVersion": target_api if (target_api and name == "dst") else api_version,
                           "cmk": handle.settings.cmk}
    return parse({"FERRY_RESOURCES": json.dumps(resources), "FERRY_SOURCE": "src", "FERRY_TARGETS": "dst", **env})


def family(api_version: str) -> str:
    return "v2" if api_version in V2 else "v3"


def seed(cloud, name: str, api_version: str, model_id: str | None = None, **fields) -> str:
    if family(api_version) == "v3":
        model_id = model_id or "invoice-model"
        fields.setdefault("api_version", api_version)
    return cloud.resource(name).seed_model(family(api_version), model_id, **fields)


def run_copy(cloud, s, model_id: str, source: str = "src", target: str = "dst", **kw) -> tuple[dict, dict]:
    started = steps.authorize_and_start_copy(s, source, target, model_id, **kw)
    first = steps.poll_copy(s, source, started.operation_url, target_model_id=started.target_model_id)
    assert first.status in ("notStarted", "running")
    cloud.advance(COPY_SECONDS + 1)
    last = steps.poll_copy(s, source, started.operation_url, target_model_id=started.target_model_id)
    return started, last


@pytest.mark.parametrize("api_version", ALL)
def test_copy_end_to_end(cloud, api_version):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version, description="invoices" if family(api_version) == "v3" else None,
                    **({"tags": {"team": "ap"}} if family(api_version) == "v3" else {}))
    checked = steps.check_source_model(s, "src", model_id)
    assert checked.ready and checked.status == "ready" and checked.api_version == api_version
    json.dumps(checked.to_dict())
    started, done = run_copy(cloud, s, model_id, description=checked.description, tags=checked.tags,
                             source_created=checked.created)
    assert set(started.to_dict()) == {"operationUrl", "targetModelId", "authorizationExpiresAt"}
    assert started.operation_url.startswith(cloud.resource("src").endpoint)
    if family(api_version) == "v3":
        assert started.target_model_id == model_id  # v3+: the source id by default
    else:
        assert started.target_model_id != model_id  # v2: service-assigned GUID
        assert validate_model_id(api_version, started.target_model_id) is None
    assert done.status == "succeeded" and done.error is None
    assert done.target_model_id == started.target_model_id
    target = steps.get_target_model(s, "dst", started.target_model_id)
    assert target.exists and target.status == "ready"
    assert is_copy_of(checked.fingerprint, target.fingerprint)
    on_target = cloud.resource("dst").model(started.target_model_id)
    assert on_target is not None and on_target["status"] == "ready"
    if family(api_version) == "v3":
        # the source's own tags, with ModelFerry's provenance merged over them (set at authorizeCopy)
        assert on_target["description"] == "invoices" and on_target["tags"] == {
            "team": "ap", "modelferry.sourceResource": cloud.resource("src").resource_id,
            "modelferry.sourceModelId": model_id, "modelferry.sourceCreated": checked.created}
    json.dumps([started.to_dict(), done.to_dict(), target.to_dict()])


@pytest.mark.parametrize("api_version", V3)
def test_a_different_model_under_the_same_id_is_not_a_copy(cloud, api_version):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version)
    cloud.advance(60)
    seed(cloud, "dst", api_version, model_id)  # same id, trained separately later
    source = steps.check_source_model(s, "src", model_id).fingerprint
    other = steps.get_target_model(s, "dst", model_id)
    assert other.exists and not is_copy_of(source, other.fingerprint)
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id)
    assert info.value.kind == "model_exists" and info.value.status == 409


@pytest.mark.parametrize("api_version", ALL)
def test_missing_source_model(cloud, api_version):
    s = settings_for(cloud, api_version)
    missing = "00000000-0000-0000-0000-000000000000" if family(api_version) == "v2" else "no-such-model"
    with pytest.raises(FerryError) as info:
        steps.check_source_model(s, "src", missing)
    assert info.value.kind == "not_found" and missing in info.value.message
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", missing)
    assert info.value.kind == "not_found" and info.value.status == 404
    assert steps.get_target_model(s, "dst", missing).exists is False


@pytest.mark.parametrize("api_version", ["v2.1", "2024-11-30"])
def test_cmk_to_non_cmk_needs_degrade(cloud, api_version):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "cmksrc", api_version)
    _, failed = run_copy(cloud, s, model_id, source="cmksrc")
    assert failed.status == "failed"
    assert failed.error.kind == "degrade_required" and "FERRY_ALLOW_CMK_DEGRADE" in failed.error.hint
    if family(api_version) == "v3":
        assert not steps.get_target_model(s, "dst", model_id).exists
    allowed = settings_for(cloud, api_version, FERRY_ALLOW_CMK_DEGRADE="true")
    assert allowed.copy_degrade("cmksrc", "dst")
    _, done = run_copy(cloud, allowed, model_id, source="cmksrc", degrade=allowed.copy_degrade("cmksrc", "dst"))
    assert done.status == "succeeded"


@pytest.mark.parametrize("api_version", ["v2.1", "2023-07-31"])
def test_3013_timeout_leaves_an_invalid_model_that_can_be_deleted(cloud, api_version):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version)
    cloud.resource("src").set_copy_behaviour("fail_3013")
    started, failed = run_copy(cloud, s, model_id)
    assert failed.status == "failed" and failed.error.kind == "timeout"
    assert "delete" in failed.error.hint
    leftover = steps.get_target_model(s, "dst", started.target_model_id)
    assert leftover.exists and leftover.status == "invalid"
    assert steps.delete_target_model(s, "dst", started.target_model_id) .deleted is True
    assert cloud.resource("dst").model(started.target_model_id) is None
    assert steps.delete_target_model(s, "dst", started.target_model_id) .deleted is False


@pytest.mark.parametrize("api_version", ["v2.0", "2024-11-30"])
@pytest.mark.parametrize("code, kind", [("2024", "authorization"), ("AuthorizationError", "authorization"),
                                        ("ResourceResolverError", "terminal")])
def test_failed_copies_are_classified(cloud, api_version, code, kind):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version)
    cloud.resource("src").set_copy_behaviour("fail", code=code)
    _, failed = run_copy(cloud, s, model_id)
    assert failed.status == "failed"
    assert failed.error.kind == kind and failed.error.code == code
    assert failed.error.retryable is False


@pytest.mark.parametrize("api_version", ["v2.1", "2024-11-30"])
def test_throttled_copy_post_is_retried_with_the_same_authorization(cloud, api_version, waits):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version)
    src = cloud.resource("src")
    src.fail_next("copy", 1, "429", retry_after=2)
    _, done = run_copy(cloud, s, model_id)
    assert done.status == "succeeded"
    assert waits == [2.0]
    counts = cloud.resource("dst").request_counts()
    assert counts.get("authorizeCopy") == 1  # one authorization served both POSTs
    assert src.request_counts().get("copy") == 2


def test_throttling_that_persists_raises_throttled_with_retry_after(cloud, waits):
    s = settings_for(cloud, "2023-07-31")
    model_id = seed(cloud, "src", "2023-07-31")
    cloud.resource("src").fail_next("copy", steps.COPY_POST_ATTEMPTS, "429", retry_after=3)
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id)
    assert info.value.kind == "throttled" and info.value.retry_after == 3.0 and info.value.retryable
    assert len(waits) == steps.COPY_POST_ATTEMPTS - 1


def test_a_paced_copy_post_is_not_retried_inline(cloud, waits, monkeypatch):
    """With a rate-budget slot (`not_before`), a 429 goes back to the orchestration, which takes a new slot: an
    inline retry a Retry-After later would bypass the budget."""
    s = settings_for(cloud, "2024-11-30")
    model_id = seed(cloud, "src", "2024-11-30")
    cloud.resource("src").fail_next("copy", 1, "429", retry_after=1)
    monkeypatch.setattr(steps, "_now", lambda: 1_800_000_000.0)  # the slot is now: no hold
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id, not_before="2027-01-15T08:00:00+00:00")
    assert info.value.kind == "throttled" and info.value.target_model_id == model_id
    assert waits == [] and cloud.resource("src").request_counts().get("copy") == 1


def test_a_copy_whose_activity_starts_after_its_slot_sends_nothing(cloud, monkeypatch):
    """Late by more than the window margin, the two calls would land in the next window and crowd it into a
    429: the step sends nothing and says so (kind missed_slot: the orchestration takes a new slot)."""
    s = settings_for(cloud, "2024-11-30")
    model_id = seed(cloud, "src", "2024-11-30")
    slot = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    margin = s.pacing_margin_ms / 1000
    monkeypatch.setattr(steps, "_now", lambda: slot + margin * 2)
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id, not_before="2027-01-15T08:00:00+00:00")
    assert info.value.kind == "missed_slot" and info.value.retryable
    assert "FERRY_PACING_LEAD_MS" in info.value.hint and "nothing was sent" in info.value.message
    assert cloud.resource("src").request_counts().get("copy") is None
    assert cloud.resource("dst").request_counts().get("authorizeCopy") is None
    # within the margin it still goes
    monkeypatch.setattr(steps, "_now", lambda: slot + margin / 2)
    started = steps.authorize_and_start_copy(s, "src", "dst", model_id, not_before="2027-01-15T08:00:00+00:00")
    assert started.target_model_id == model_id and cloud.resource("src").request_counts().get("copy") == 1


def test_5xx_on_copy_post_is_not_retried(cloud):
    s = settings_for(cloud, "2024-11-30")
    model_id = seed(cloud, "src", "2024-11-30")
    cloud.resource("src").fail_next("copy", 1, "5xx", status=503)
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id)
    assert info.value.kind == "transient" and info.value.status == 503
    assert cloud.resource("src").request_counts().get("copy") == 1


@pytest.mark.parametrize("api_version", ["v2.1", "2022-08-31"])
def test_5xx_and_dropped_connections_on_polls_are_retried_transparently(cloud, api_version):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version)
    started = steps.authorize_and_start_copy(s, "src", "dst", model_id)
    op = "getCopyResult" if family(api_version) == "v2" else "getOperation"
    src = cloud.resource("src")
    src.fail_next(op, 1, "5xx", status=502)
    src.fail_next(op, 1, "drop")
    cloud.advance(COPY_SECONDS + 1)
    done = steps.poll_copy(s, "src", started.operation_url, target_model_id=started.target_model_id)
    assert done.status == "succeeded"
    assert src.request_counts()[op] == 3


def test_key_rotation_401_refresh_and_retry_once(cloud, keyrings):
    s = settings_for(cloud, "2024-11-30")
    model_id = seed(cloud, "src", "2024-11-30")
    src = cloud.resource("src")
    old = src.key
    new = src.rotate_key("key1")
    keyrings["src"].keys = [old, new]  # the provider still hands out the old key until refreshed
    checked = steps.check_source_model(s, "src", model_id)
    assert checked.ready and keyrings["src"].unauthorized_calls == 1
    keyrings["src"].keys, keyrings["src"].index = ["wrong-key-000000"], 0
    with pytest.raises(FerryError) as info:
        steps.check_source_model(s, "src", model_id)
    assert info.value.kind == "unauthorized" and info.value.status == 401
    assert "wrong-key-000000" not in str(info.value)


def test_poll_refuses_urls_of_other_hosts_or_paths(cloud):
    s = settings_for(cloud, "2024-11-30")
    dst = cloud.resource("dst")
    dst.clear_request_log()
    for url in (f"{dst.endpoint}/documentintelligence/operations/1?api-version=2024-11-30",
                f"{cloud.resource('src').endpoint}/documentintelligence/documentModels/x?api-version=2024-11-30",
                "https://attacker.example/documentintelligence/operations/1"):
        with pytest.raises(FerryError) as info:
            steps.poll_copy(s, "src", url)
        assert info.value.code == "InvalidOperationUrl"
    assert dst.request_log() == []


def test_invalid_ids_and_aliases_are_rejected_before_any_call(cloud):
    s = settings_for(cloud, "2024-11-30")
    v2 = settings_for(cloud, "v2.1")
    cloud.resource("src").clear_request_log()
    cases = [
        (lambda: steps.check_source_model(s, "src", "-bad"), "InvalidModelId"),
        (lambda: steps.check_source_model(v2, "src", "not-a-guid"), "InvalidModelId"),
        (lambda: steps.authorize_and_start_copy(s, "src", "dst", "ok-id", target_model_id="x"), "InvalidModelId"),
        (lambda: steps.authorize_and_start_copy(v2, "src", "dst", "2a766146-bb85-4907-b438-23e6a35cb114",
                                                target_model_id="2a766146-bb85-4907-b438-23e6a35cb114"),
         "TargetModelIdNotSupported"),
        (lambda: steps.authorize_and_start_copy(s, "src", "src", "same-id"), "SameModel"),
        (lambda: steps.check_source_model(s, "nowhere", "ok-id"), "UnknownResource"),
        (lambda: steps.authorize_and_start_copy(settings_for(cloud, "2024-11-30", target_api="v2.1"), "src", "dst",
                                                "ok-id"), "ApiGenerationMismatch"),
    ]
    for call, code in cases:
        with pytest.raises(FerryError) as info:
            call()
        assert info.value.code == code and info.value.kind == "terminal"
    assert cloud.resource("src").request_log() == [] and cloud.resource("dst").request_log() == []


def test_mixed_v3_versions_copy_and_recognise_the_copy(cloud):
    s = settings_for(cloud, "2023-07-31", target_api="2024-11-30")
    model_id = seed(cloud, "src", "2023-07-31")
    checked = steps.check_source_model(s, "src", model_id)
    _, done = run_copy(cloud, s, model_id, target_model_id="invoice-model-dr")
    assert done.status == "succeeded" and done.target_model_id == "invoice-model-dr"
    target = steps.get_target_model(s, "dst", "invoice-model-dr")
    assert is_copy_of(checked.fingerprint, target.fingerprint)


def test_logs_one_info_line_per_call_and_never_keys_or_tokens(cloud, caplog):
    s = settings_for(cloud, "2024-11-30")
    model_id = seed(cloud, "src", "2024-11-30")
    cloud.resource("src").fail_next("getModel", 1, "429", retry_after=1)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(FerryError):
            steps.check_source_model(s, "src", model_id)
        checked = steps.check_source_model(s, "src", model_id)
        run_copy(cloud, s, model_id)
    calls = [r for r in caplog.records if r.name == "modelferry.http" and r.levelno == logging.INFO]
    assert len(calls) >= 6
    assert all("apim-request-id" in r.getMessage() for r in calls)
    assert any(r.levelno == logging.WARNING and "429" in r.getMessage() for r in caplog.records)
    tokens = [a["accessToken"] for h in cloud.resources.values() for a in _authorizations(h)]
    assert tokens, "the emulator issued authorizations"
    secrets = [k for h in cloud.resources.values() for k in h.keys] + tokens
    assert not [x for x in secrets if x in caplog.text]
    assert checked.ready


def _authorizations(handle) -> list[dict]:
    with handle.world.lock:
        return [{"accessToken": token} for token in handle.backend.authorizations]


def test_v2_model_still_training_is_not_ready_then_ready(cloud):
    import requests

    s = settings_for(cloud, "v2.1")
    src = cloud.resource("src")
    response = requests.post(f"{src.endpoint}/formrecognizer/v2.1/custom/models", timeout=5,
                             headers={"Ocp-Apim-Subscription-Key": src.key},
                             json={"source": "https://blob/container?sas", "useLabelFile": True, "modelName": "m"})
    assert response.status_code == 201
    model_id = response.headers["Location"].rsplit("/", 1)[1]
    training = steps.check_source_model(s, "src", model_id)
    assert training.ready is False and training.status == "creating"
    cloud.advance(3)
    trained = steps.check_source_model(s, "src", model_id)
    assert trained.ready is True and trained.fingerprint["modelName"] == "m"
    _, done = run_copy(cloud, s, model_id)
    target = steps.get_target_model(s, "dst", done.target_model_id)
    assert is_copy_of(trained.fingerprint, target.fingerprint)


def test_lost_answer_to_the_copy_post_is_transient_and_the_copy_is_recognised_later(cloud):
    s = settings_for(cloud, "2024-11-30")
    model_id = seed(cloud, "src", "2024-11-30")
    source = steps.check_source_model(s, "src", model_id).fingerprint
    cloud.resource("src").fail_next("copy", 1, "drop")  # processed, then the connection breaks
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id)
    assert info.value.kind == "transient" and info.value.retryable
    assert cloud.resource("src").request_counts().get("copy") == 1  # a POST is never re-sent
    # Re-issuing races the first copy: whichever lands second fails with "model_exists" (409 on authorize, or
    # ModelExists inside the operation); the target model is then recognised as the copy either way.
    outcome = None
    try:
        again = steps.authorize_and_start_copy(s, "src", "dst", model_id)
    except FerryError as exc:
        outcome = exc.kind
    cloud.advance(COPY_SECONDS + 1)
    if outcome is None:
        polled = steps.poll_copy(s, "src", again.operation_url, target_model_id=model_id)
        outcome = polled.error.kind if polled.error else polled.status
    assert outcome in ("model_exists", "succeeded"), outcome
    target = steps.get_target_model(s, "dst", model_id)
    assert target.exists and target.status == "ready" and is_copy_of(source, target.fingerprint)


@pytest.mark.parametrize("api_version", ["v2.1", "2024-11-30"])
def test_a_failed_copy_post_carries_the_authorized_target_id_and_no_token(cloud, api_version):
    s = settings_for(cloud, api_version)
    model_id = seed(cloud, "src", api_version)
    cloud.resource("src").fail_next("copy", 1, "drop")  # accepted, then the answer is lost
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id)
    handle = cloud.resource("dst")
    with handle.world.lock:
        (auth,) = [a for a in handle.backend.authorizations.values() if a.consumed]
    lost = info.value.to_dict()
    assert info.value.kind == "transient" and lost["targetModelId"] == auth.model_id
    assert FerryError.from_dict(lost).target_model_id == auth.model_id
    assert auth.access_token not in json.dumps(lost) and auth.access_token not in str(info.value)
    cloud.advance(COPY_SECONDS + 1)
    assert steps.get_target_model(s, "dst", auth.model_id).exists  # the copy did happen


def test_a_failed_authorization_carries_no_target_id(cloud):
    s = settings_for(cloud, "v2.1")
    model_id = seed(cloud, "src", "v2.1")
    cloud.resource("dst").fail_next("authorizeCopy", 1, "5xx", status=503)
    with pytest.raises(FerryError) as info:
        steps.authorize_and_start_copy(s, "src", "dst", model_id)
    assert info.value.kind == "transient" and info.value.target_model_id is None
