"""No key and no access token ever reaches durable state or logs.

Runs a copy for every API version (key-based source/target and a keyless managed-identity target) and a classifier
copy (key-based and keyless targets), rotates a key mid-way, then scans the devhost SQLite store (database, WAL and
shared-memory files: inputs, outputs, custom statuses, history) and every log record of the session for each
resource key (also the rotated ones), each copy authorization access token the emulated targets issued and each
managed-identity token the emulated identity endpoint issued.
"""

from pathlib import Path

from e2e_support import VERSIONS, alias


def scan(blobs: dict[str, bytes], secrets: set[str]) -> list[tuple[str, str]]:
    found = []
    for where, blob in blobs.items():
        for secret in secrets:
            if secret and secret.encode() in blob:
                found.append((where, secret[:6] + "…"))
    return found


def store_files(store: Path) -> dict[str, bytes]:
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(str(store) + suffix)
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


def test_scan_finds_a_planted_secret():
    assert scan({"x": b"...tok-123..."}, {"tok-123"}) == [("x", "tok-12…")]
    assert scan({"x": b"nothing here"}, {"tok-123"}) == []


def test_no_key_or_token_in_store_or_logs(env):
    for version in VERSIONS:
        src, a, b = alias(version, "src"), alias(version, "a"), alias(version, "b")
        model_id = env.train(src, version)
        resp = env.post_copy({"modelId": model_id, "source": src, "targets": [a, b]})
        status = env.wait(resp.json()["id"])
        assert status["output"]["status"] == "succeeded", status["output"]
    # a classifier copy: its authorizations (targetClassifierId + accessToken) must not leak either
    classifier_id = env.cloud.resource("cls-src").seed_classifier(f"cls-secrets-{len(env.instances())}")
    resp = env.post_copy({"classifierId": classifier_id, "source": "cls-src", "targets": ["cls-a", "cls-b"]})
    assert env.wait(resp.json()["id"])["output"]["status"] == "succeeded"
    # a rotation in the middle: the new key must not leak either (another resource than the rotation test's,
    # as ferry.keys forces at most one re-read per secret every 30 s)
    version = "2023-07-31"
    src = alias(version, "src")
    new_key = env.cloud.resource(src).rotate_key("key1")
    env.resource_keys[src].append(new_key)
    env.cloud.keyvault.set_secret(f"key-{src}", new_key)
    model_id = env.train(src, version)
    resp = env.post_copy({"modelId": model_id, "source": src, "targets": [alias(version, "a")]})
    out = env.wait(resp.json()["id"])["output"]
    assert out["status"] == "succeeded", out

    env.collect_tokens()
    classifier_tokens = set()
    for name in ("cls-a", "cls-b"):
        handle = env.cloud.resource(name)
        with handle.world.lock:
            classifier_tokens |= {token for token, auth in handle.backend.authorizations.items()
                                  if auth.artifact == "classifier" and auth.model_id == classifier_id}
    assert len(classifier_tokens) == 2 and classifier_tokens <= env.issued_tokens
    keys = {k for pair in env.resource_keys.values() for k in pair}
    authorization_tokens = {t for t in env.issued_tokens if not t.startswith("emu-mi.")}
    identity_tokens = {t for t in env.issued_tokens if t.startswith("emu-mi.")}
    assert len(keys) >= 30 and len(authorization_tokens) >= 10 and identity_tokens, \
        "the scan must have real secrets to look for"
    blobs = store_files(env.store)
    assert blobs, "the devhost store must exist"
    blobs["logs"] = "\n".join(env.logs.lines).encode()
    assert len(env.logs.lines) > 100  # the logs were really captured
    assert scan(blobs, keys | env.issued_tokens) == []
