"""Activities of the estate sync (registered on the `activities` blueprint): prepare, plan, prune.

Thin like the copy activities, with the same `Answer` envelope and typed contracts (`ferry.sync_contracts`). The
inventories are read and planned inside ONE activity (`sync_plan`), so only the plan's rows that need work (not
the thousands of listed models) enter durable history.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from activities import _answer, bp
from ferry import generations, inventory
from ferry import settings as ferry_settings
from ferry.docintel.fingerprint import parse_time
from ferry.orchestration.plan import resources_view
from ferry.orchestration.policy import CopyPolicy
from ferry.orchestration.sync_plan import plan_sync
from ferry.orchestration.sync_request import SyncRequest, parse_sync_request
from ferry.sync_contracts import PlanSync, Pruned, PruneReplica, SyncPlan, SyncPrepared, TargetFacts


def prepare(settings: ferry_settings.Settings, request: object) -> SyncPrepared:
    """Validate the request against settings (a RequestError is a FerryError: the envelope carries it); freeze
    the tuning and each target's copy facts."""
    sync = parse_sync_request(request, resources_view(settings), default_source=settings.source,
                              default_targets=settings.targets)
    targets = {alias: TargetFacts(api_version=settings.resource(alias).api_version,
                                  generation=generations.copy_family(settings.resource(alias).api_version),
                                  degrade=settings.copy_degrade(sync.source, alias)).to_dict()
               for alias in sync.targets}
    return SyncPrepared(request=sync.to_input(), policy=CopyPolicy.from_settings(settings).to_dict(),
                        parallel=settings.sync_max_parallel_copies,
                        source_generation=generations.copy_family(settings.resource(sync.source).api_version),
                        targets=targets, relay_peers=settings.relay_peers(sync.source, sync.targets),
                        management_rates={alias: settings.resource(alias).rate("manage")
                                          for alias in (sync.source, *sync.targets)})


def plan(settings: ferry_settings.Settings, step: PlanSync) -> SyncPlan:
    """Inventory the source and every target, then plan (pure) at the orchestration's time."""
    sync = SyncRequest.from_input(step.request)
    aliases = [sync.source, *sync.targets]
    # each resource has its own list budget: read them side by side (the pacer spaces each one's pages)
    with ThreadPoolExecutor(max_workers=min(8, len(aliases))) as pool:
        read = dict(zip(aliases, pool.map(lambda alias: inventory.inventory(settings, alias), aliases), strict=True))
    source = read[sync.source]
    targets = {alias: read[alias] for alias in sync.targets}
    for target in targets.values():
        inventory.verify_untagged_copies(settings, source, target)
    now = parse_time(step.now)
    if now is None:
        raise ValueError(f"sync_plan needs the orchestration's time, got {step.now!r}")
    planned = plan_sync(sync, source, targets, now=now, v2_map=step.v2_map)
    return SyncPlan(source=planned["source"], rows=planned["rows"], counts=planned["counts"],
                    warnings=planned["warnings"], v2_adopt=planned["v2Adopt"], v2_forget=planned["v2Forget"])


def prune(settings: ferry_settings.Settings, step: PruneReplica) -> Pruned:
    done = inventory.prune_replica(settings, step.source, step.target, step.target_model_id, step.source_model_id)
    return Pruned(deleted=bool(done.get("deleted")), skipped=done.get("skipped"))


@bp.activity_trigger(input_name="request")
def sync_prepare(request: dict) -> dict:
    """Validate a sync request against settings; freeze the tuning."""
    return _answer("sync_prepare", lambda s: prepare(s, request))


@bp.activity_trigger(input_name="step")
def sync_plan(step: dict) -> dict:
    """Inventory source and targets and plan the sync (only rows needing work are returned)."""
    return _answer("sync_plan", lambda s: plan(s, PlanSync.from_dict(step)))


@bp.activity_trigger(input_name="step")
def sync_prune(step: dict) -> dict:
    """Delete an orphaned ModelFerry copy after re-checking its provenance and that its source is gone."""
    return _answer("sync_prune", lambda s: prune(s, PruneReplica.from_dict(step)))
