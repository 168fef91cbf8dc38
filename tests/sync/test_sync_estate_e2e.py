"""The estate sync end to end: HTTP in (`POST /api/sync`), emulator state and request logs out.

One estate holds at once: new models, up-to-date replicas, a stale replica (source rebuilt under the same id), a
model created by hand on the target under a source id (conflict), a foreign model on the target (never pruned),
an orphaned copy (source deleted; pruned only with prune: true), a model built on a preview API version, an
expired one, one expiring within 30 days, a target that runs out of model capacity, a target of the other API
generation, and a v2 pair.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sync_support import MANAGEMENT, SMALL_LIMIT, SyncStack

from ferry.provenance import SOURCE_CREATED, SOURCE_MODEL_ID, SOURCE_RESOURCE


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncStack]:
    with SyncStack.running(tmp_path_factory.mktemp("sync-estate")) as s:
        yield s


def by_key(items: list[dict]) -> dict[tuple[str, str], dict]:
    return {(i["id"], i["target"]): i for i in items}


def test_estate_sync_dry_run_then_real_then_idempotent_then_prune(stack: SyncStack,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="modelferry.runs")
    # ---- the estate
    current = stack.train("src", "current")
    stack.copy(current, ["dst"])                       # an up-to-date replica on dst (with provenance tags)
    stale = stack.train("src", "rebuilt")
    stack.copy(stale, ["dst"])
    old_created = stack.models("dst")[stale]["createdDateTime"]
    stack.delete("src", stale)
    stack.clock.advance(60)
    stack.train("src", stale)                          # rebuilt under the same id: dst holds a stale replica
    orphan = stack.train("src", "orphan")
    stack.copy(orphan, ["dst"])
    stack.delete("src", orphan)                        # the source is gone: dst holds an orphaned copy
    stack.train("src", "clash")
    stack.clock.advance(5)
    stack.handle("dst").seed_model("v3", "clash", description="made by hand")   # conflict
    stack.handle("dst").seed_model("v3", "foreign-1")                            # never pruned
    new = [stack.train("src", f"new-{i}") for i in range(3)]
    stack.handle("src").seed_model("v3", "built-on-preview", api_version="2024-07-31-preview")
    expired = stack.train("src", "expired")
    soon = stack.train("src", "expires-soon")
    with stack.handle("src").world.lock:
        now = stack.handle("src").world.now()
        stack.handle("src").backend.models[expired].expiration = now - 60
        stack.handle("src").backend.models[soon].expiration = now + 10 * 86400
    for i in range(SMALL_LIMIT - 3):                   # `small` has room for 3 more models
        stack.handle("small").seed_model("v3", f"filler-{i}")

    selected = sorted([current, stale, "clash", *new, "built-on-preview", expired, soon])
    copyable = sorted([current, stale, "clash", *new, soon])

    # ---- dry run: the plan, and nothing but list/get calls
    before_dst, before_small = stack.models("dst"), stack.models("small")
    start = stack.log_position()
    plan = stack.run_sync({"targets": ["dst", "small", "v2dst"], "dryRun": True})["output"]
    ops = stack.operations_since(start)
    assert all(op.startswith(("list", "get")) for name in ops for op in ops[name]), ops
    assert stack.models("dst") == before_dst and stack.models("small") == before_small
    assert plan["status"] == "planned" and plan["dryRun"] is True
    items = by_key(plan["items"])
    assert items[(new[0], "dst")]["action"] == "copy" and items[(new[0], "dst")]["result"] == "planned"
    assert items[(stale, "dst")]["action"] == "stale"
    assert items[("clash", "dst")]["result"] == "conflict"
    assert (current, "dst") not in items                                     # up to date: counted, not listed
    assert plan["counts"]["dst"]["upToDate"] == 1
    assert (plan["counts"]["dst"]["copied"], plan["counts"]["dst"]["replaced"]) == (4, 1)   # what it would do
    assert items[("built-on-preview", "dst")]["reason"] == "PreviewApiVersion"
    assert items[(expired, "dst")]["reason"] == "SourceExpired"
    assert all(items[(m, "v2dst")]["reason"] == "ApiGenerationMismatch" for m in selected)
    small_actions = sorted((m, items[(m, "small")]["action"], items[(m, "small")].get("reason"))
                           for m in copyable)
    assert [a for _, a, _ in small_actions].count("copy") == 3, small_actions
    assert all(r == "TargetFull" for _, a, r in small_actions if a == "skip"), small_actions
    assert ("foreign-1", "dst") not in items and (orphan, "dst") not in items
    assert any(w["code"] == "OrphanedReplicas" and orphan in w["ids"] for w in plan["warnings"])
    assert any(w["code"] == "ReplicaExpiresSoon" and w["id"] == soon for w in plan["warnings"])

    # ---- the real sync
    start = stack.log_position()
    done = stack.run_sync({"targets": ["dst", "small"]})
    out = done["output"]
    items = by_key(out["items"])
    dst = stack.models("dst")
    for model in [*new, soon]:
        assert items[(model, "dst")]["result"] == "copied"
        assert dst[model]["tags"][SOURCE_MODEL_ID] == model
        assert dst[model]["tags"][SOURCE_RESOURCE].endswith("/accounts/di-src")
        assert dst[model]["tags"][SOURCE_CREATED] == stack.models("src")[model]["createdDateTime"]
        assert dst[model]["tags"]["team"] == "ap"                              # the source's own tags kept
    assert items[(stale, "dst")]["result"] == "replaced" and items[(stale, "dst")]["gapSeconds"] >= 0
    assert dst[stale]["createdDateTime"] != old_created
    assert dst[stale]["createdDateTime"] == stack.models("src")[stale]["createdDateTime"]
    assert dst["clash"]["description"] == "made by hand" and items[("clash", "dst")]["result"] == "conflict"
    assert "foreign-1" in dst and orphan in dst                               # no prune without prune: true
    assert out["counts"]["dst"] == {"copied": 4, "upToDate": 1, "replaced": 1, "conflict": 1, "skipped": 2,
                                    "pruned": 0, "failed": 0}
    assert len(stack.models("small")) == SMALL_LIMIT
    assert out["counts"]["small"]["copied"] == 3 and out["counts"]["small"]["failed"] == 0
    assert out["status"] == "succeeded"
    assert done["customStatus"]["progress"]["dst"]["done"] == done["customStatus"]["progress"]["dst"]["total"]
    copies = stack.operations_since(start, accepted_only=True)["src"].count("copy")
    assert copies == 4 + 1 + 3                                                   # each model copied exactly once
    records = [r.custom_dimensions for r in caplog.records if r.name == "modelferry.runs"
               and r.custom_dimensions.get("instanceId") == done["instanceId"]]
    assert [(r["outcome"], r["source"], r["attempts"]) for r in records if r["kind"] == "sync"] == [
        ("succeeded", "src", 8)]                                                 # the finished-run record
    assert sorted((r["artifactId"], r["target"]) for r in records if r["kind"] == "replicaExpiring") == [
        (soon, "dst"), (soon, "small")]

    # ---- a second sync: everything up to date, not one management call
    start = stack.log_position()
    again = stack.run_sync({"targets": ["dst", "small"]})["output"]
    ops = stack.operations_since(start)
    assert not [op for name in ops for op in ops[name] if op in MANAGEMENT], ops
    assert again["counts"]["dst"]["upToDate"] == 6 and again["counts"]["dst"]["copied"] == 0
    assert {i["result"] for i in again["items"]} <= {"conflict", "skipped"}

    # ---- prune: the orphaned copy goes, the foreign model and the conflict stay
    pruned = stack.run_sync({"targets": ["dst"], "prune": True})["output"]
    assert by_key(pruned["items"])[(orphan, "dst")]["result"] == "pruned"
    dst = stack.models("dst")
    assert orphan not in dst and "foreign-1" in dst and "clash" in dst
    assert pruned["counts"]["dst"]["pruned"] == 1


def test_classifiers_sync_where_the_service_copies_them(stack: SyncStack) -> None:
    """Classifiers (no tags) are recognised by the fields a copy keeps; a target that cannot receive them (API
    2023-07-31 here) skips them with the reason; one made by hand under the same id is a conflict, never touched."""
    src, dst = stack.handle("src"), stack.handle("dst")
    src.seed_classifier("clf-route", description="routes documents")
    src.seed_classifier("clf-mine", description="the source's")
    stack.clock.advance(5)
    dst.seed_classifier("clf-mine", description="made by hand on the target")
    body = {"targets": ["dst", "small"], "include": ["clf-*"]}

    out = stack.run_sync(body)["output"]
    items = by_key(out["items"])
    assert items[("clf-route", "dst")]["kind"] == "classifier" and items[("clf-route", "dst")]["result"] == "copied"
    assert items[("clf-mine", "dst")]["result"] == "conflict" and items[("clf-mine", "dst")]["hint"]
    assert {items[(c, "small")]["reason"] for c in ("clf-route", "clf-mine")} == {"ClassifierCopyNotSupported"}
    assert dst.classifier("clf-route") is not None
    assert dst.classifier("clf-mine")["description"] == "made by hand on the target"
    assert stack.handle("small").classifiers() == []

    start = stack.log_position()
    again = stack.run_sync(body)["output"]
    ops = stack.operations_since(start)
    assert not [op for name in ops for op in ops[name] if not op.startswith(("list", "get"))], ops
    assert again["counts"]["dst"]["upToDate"] == 1 and again["counts"]["dst"]["copied"] == 0
    pruned = stack.run_sync({**body, "prune": True})["output"]
    assert "clf-mine" in {c["classifierId"] for c in dst.classifiers()}  # never pruned: nothing says we made it
    assert pruned["counts"]["dst"]["pruned"] == 0
