"""HTTP functions of the operator's view and the `replica_catalog` entity. Thin: the decisions live in
`ferry.catalog` / `ferry.runs`, the reads in `ferry.catalog_io` / `ferry.doctor`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from ferry import catalog, doctor, runs
from ferry import settings as ferry_settings
from ferry.catalog_io import read_inventories
from ferry.errors import FerryError
from SyncOrchestrator.entity import NAME as V2_ENTITY  # the sync's durable v2 mapping (key: source alias)

log = logging.getLogger("modelferry.operator")

bp = df.Blueprint()

ENTITY = "replica_catalog"
"""One entity per source alias holds the last known catalog (written by refreshes; a sync may write it too)."""
ATTEMPT_WINDOW = timedelta(days=30)  # runs read for the catalog's "failed" state and the v2 mapping
STORE_WAIT_SECONDS = 5.0  # a refresh answers once its own write is readable (bounded)
AUTO_REFRESH_SECONDS = 60  # a cached catalog older than this is read again when a run finished since
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboard"


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def _error(status: int, code: str, message: str, hint: str, kind: str = "terminal") -> func.HttpResponse:
    error = FerryError(kind=kind, code=code, message=message, hint=hint, status=status)
    return _json({"error": error.to_dict()}, status)


class _BadRequest(Exception):
    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def _settings() -> ferry_settings.Settings:
    return ferry_settings.load()


def _as_dicts(statuses: list[Any]) -> list[dict[str, Any]]:
    return [s.to_json() for s in statuses if s]


MAX_STATUS_PAGES = 200


async def list_statuses(client: Any, since: datetime | None) -> list[Any]:
    """Every orchestration created since `since` (None: all). The SDK's `get_status_by` returns one page (the
    oldest instances first, 100 on the local host) and no continuation, so page by creation time: ask again
    from the newest creation time seen until a page brings nothing new."""
    seen: dict[str, Any] = {}
    cursor = since
    for _ in range(MAX_STATUS_PAGES):
        page = [s for s in await client.get_status_by(created_time_from=cursor) if s]
        fresh = [s for s in page if s.instance_id not in seen]
        seen.update((s.instance_id, s) for s in fresh)
        times = [s.created_time for s in page if s.created_time is not None]
        if not fresh or not times:
            break
        cursor = max(times)
    return list(seen.values())


# ------------------------------------------------------------------------------------------------ entity


@bp.entity_trigger(context_name="context", entity_name=ENTITY)
def replica_catalog(context: df.DurableEntityContext) -> None:
    """`set` stores a catalog (JSON), `get` returns it; the entity key is the source alias."""
    if context.operation_name == "set":
        context.set_state(context.get_input())
    elif context.operation_name == "get":
        context.set_result(context.get_state(lambda: None))


# ------------------------------------------------------------------------------------------------ catalog


def _source_and_targets(settings: ferry_settings.Settings, requested: str | None) -> tuple[str, list[str]]:
    source = (requested or "").strip() or settings.source
    if not source:
        raise _BadRequest("NoSource", "no source named and FERRY_SOURCE is not set",
                          "Pass ?source=<alias> or set FERRY_SOURCE.")
    if not settings.has(source):
        raise _BadRequest("UnknownResource", f"unknown source alias {source!r}",
                          f"Use one of the FERRY_RESOURCES aliases: {', '.join(settings.aliases)}.")
    if source == settings.source and settings.targets:
        targets = list(settings.targets)
    else:
        targets = [a for a in settings.aliases if a != source]
    return source, targets


async def _last_known(client: df.DurableOrchestrationClient, source: str) -> dict[str, Any] | None:
    value = await _entity_state(client, ENTITY, source)
    return value if isinstance(value, dict) and value.get("replicas") is not None else None


async def _entity_state(client: df.DurableOrchestrationClient, name: str, key: str) -> Any:
    state = await client.read_entity_state(df.EntityId(name, key))
    if not state.entity_exists or state.entity_state is None:
        return None
    value = state.entity_state
    return json.loads(value) if isinstance(value, str) else value


async def _refresh(client: df.DurableOrchestrationClient, settings: ferry_settings.Settings, source: str,
                   targets: list[str], previous: dict[str, Any] | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    found = await list_statuses(client, now - ATTEMPT_WINDOW)
    attempts, mapping = runs.last_attempts(_as_dicts(found), source)
    kept = await _entity_state(client, V2_ENTITY, source)  # what syncs recorded (and adopted) for v2 targets
    for target, pairs in (kept if isinstance(kept, dict) else {}).items():
        if isinstance(pairs, dict):
            mapping.setdefault(target, {}).update({str(k): str(v) for k, v in pairs.items()})
    inventories = await asyncio.to_thread(read_inventories, settings, [source, *targets])
    built = catalog.build_catalog(source=inventories[source], targets=[inventories[t] for t in targets], now=now,
                                  v2_mapping=mapping, attempts=attempts, previous=previous)
    await client.signal_entity(df.EntityId(ENTITY, source), "set", built)
    await _until_stored(client, source, built.get("generatedAt"))
    log.info("catalog of %s refreshed: %d artifact(s), %d target(s)", source, len(built["replicas"]),
             len(targets))
    return built


async def _until_stored(client: df.DurableOrchestrationClient, source: str, generated_at: Any) -> None:
    """Wait (bounded) until the entity holds what a refresh just signalled: an entity signal is queued, so a
    request right after `?refresh=true` (the failover export, say) would otherwise answer the older catalog."""
    deadline = time.monotonic() + STORE_WAIT_SECONDS
    while time.monotonic() < deadline:
        stored = await _last_known(client, source)
        if stored is not None and stored.get("generatedAt") == generated_at:
            return
        await asyncio.sleep(0.05)
    log.warning("catalog of %s: the refreshed state was not stored within %.0f s; the next read may be older",
                source, STORE_WAIT_SECONDS)


async def _catalog(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> dict[str, Any]:
    settings = _settings()
    source, targets = _source_and_targets(settings, req.params.get("source"))
    refresh = runs.parse_flag("refresh", req.params.get("refresh"))
    previous = await _last_known(client, source)
    cached = previous is not None and not refresh and set(previous.get("targets", {})) == set(targets)
    if cached and previous is not None and await _changed_since(client, source, previous):
        cached = False
    built = previous if cached and previous is not None else await _refresh(client, settings, source, targets,
                                                                            previous)
    return catalog.with_age(built, datetime.now(UTC), cached=cached)


async def _changed_since(client: df.DurableOrchestrationClient, source: str, known: dict[str, Any]) -> bool:
    """Whether a copy or sync of `source` finished after the catalog was read (then it is read again, at most
    once per AUTO_REFRESH_SECONDS, so a dashboard polling during a busy hour does not flood the targets)."""
    generated = catalog.parse_time(known.get("generatedAt"))
    now = datetime.now(UTC)
    if generated is None or (now - generated).total_seconds() < AUTO_REFRESH_SECONDS:
        return False
    statuses = _as_dicts(await list_statuses(client, generated - ATTEMPT_WINDOW))
    return runs.finished_after(statuses, source, known["generatedAt"])


async def _answer(call: Any) -> func.HttpResponse:
    try:
        return await call()
    except ferry_settings.SettingsError as exc:
        log.error("operator API: invalid app settings: %s", exc)
        return _error(500, "InvalidSettings", str(exc), "Fix the app settings named above (GET /api/doctor "
                                                        "lists every problem).")
    except (_BadRequest, runs.RunQueryError) as exc:
        if isinstance(exc, _BadRequest):
            return _error(400, exc.code, exc.message, exc.hint)
        return _error(400, "InvalidQuery", str(exc), "Correct the query parameter and call again.")


@bp.function_name("list_replicas")
@bp.route(route="replicas", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_replicas(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The catalog (optionally filtered by id pattern) or, with `format=failover`, the failover export."""
    async def call() -> func.HttpResponse:
        fmt = (req.params.get("format") or "").strip().lower()
        if fmt not in ("", "catalog", "failover"):
            raise _BadRequest("InvalidQuery", f"format={req.params.get('format')!r} is not known",
                              "Use format=failover for the export, or leave it out for the catalog.")
        answer = catalog.filter_catalog(await _catalog(req, client), req.params.get("id"))
        return _json(catalog.failover_export(answer) if fmt == "failover" else answer)
    return await _answer(call)


@bp.function_name("get_replica")
@bp.route(route="replicas/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_replica(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The one replica of `id` a client should use in `?region=` (a region or target alias), or 404 + reason."""
    async def call() -> func.HttpResponse:
        known = await _catalog(req, client)
        try:
            chosen = catalog.pick_replica(known, req.route_params.get("id", ""), req.params.get("region"),
                                          datetime.now(UTC))
        except catalog.NoReplica as exc:
            return _error(404, exc.code, exc.reason, "GET /api/replicas shows every replica and its state; a "
                                                     "sync (or POST /api/copies) makes a missing or stale one "
                                                     "current.", kind="not_found")
        return _json(chosen)
    return await _answer(call)


# ------------------------------------------------------------------------------------------------ runs


@bp.function_name("list_runs")
@bp.route(route="runs", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Copy and sync runs, newest first: `?kind=copy|sync&failed=true&since=24h|<ISO-8601>`."""
    async def call() -> func.HttpResponse:
        now = datetime.now(UTC)
        kind = runs.parse_kind(req.params.get("kind"))
        failed = runs.parse_flag("failed", req.params.get("failed"))
        since = runs.parse_since(req.params.get("since"), now)
        found = await list_statuses(client, since)
        rows = []
        for status in _as_dicts(found):
            uri = client.get_client_response_links(req, status.get("instanceId", ""))["statusQueryGetUri"]
            row = runs.run_row(status, uri)
            if row is not None:
                rows.append(row)
        return _json({"runs": runs.select(rows, kind=kind, failed=failed, since=since)})
    return await _answer(call)


# ------------------------------------------------------------------------------------------------ doctor


@bp.function_name("doctor")
@bp.route(route="doctor", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def doctor_check(req: func.HttpRequest) -> func.HttpResponse:
    """Every check of `ferry.doctor`; 200 with `ok: false` when a problem was found (the report is the answer)."""
    return _json(await asyncio.to_thread(doctor.run_checks))


# ------------------------------------------------------------------------------------------------ dashboard


def dashboard_page() -> str:
    """The page with its stylesheet and script inlined: one response, nothing else to fetch, no CDN."""
    page = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
    css = (DASHBOARD_DIR / "dashboard.css").read_text(encoding="utf-8")
    script = (DASHBOARD_DIR / "dashboard.js").read_text(encoding="utf-8")
    return page.replace("/*DASHBOARD_CSS*/", css).replace("/*DASHBOARD_JS*/", script)


@bp.function_name("dashboard")
@bp.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    """The live dashboard (static HTML/JS/CSS; the script reads /api/replicas and /api/runs)."""
    return func.HttpResponse(dashboard_page(), status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Cache-Control": "no-store"})
