"""The catalog's reads: every model a resource holds (all pages) and its model count / limit.

Why separate from `ferry.catalog`: that module is pure (it decides states from inventories); this one talks to
the service. Reads only (list, get info): the catalog and the doctor never change a resource.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ferry import auth as ferry_auth
from ferry import http as ferry_http
from ferry.catalog import Inventory, iso
from ferry.errors import FerryError
from ferry.generations import path_prefix as prefix_for
from ferry.kinds.classifier import CLASSIFIER
from ferry.settings import Resource, Settings

log = logging.getLogger("modelferry.catalog")

MAX_PAGES = 1000  # 1000 pages is far beyond any resource's model limit: a loop guard, not a limit


def _base(resource: Resource) -> str:
    if resource.generation == "v2":
        return f"{resource.endpoint}/formrecognizer/{resource.api_version}"
    return f"{resource.endpoint}{prefix_for(resource.api_version)}"


def _get(settings: Settings, resource: Resource, url: str, operation: str) -> dict[str, Any]:
    auth = ferry_auth.authenticator(resource, settings)
    response = ferry_http.call("GET", url, auth=auth, operation=operation, api_version=resource.api_version,
                               resource=resource.alias)
    body = ferry_http.response_json(response, operation=operation, api_version=resource.api_version,
                                    resource=resource.alias)
    return body if isinstance(body, dict) else {}


def _same_origin(url: str, resource: Resource) -> bool:
    a, b = urlsplit(url), urlsplit(resource.endpoint)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _list_all(settings: Settings, resource: Resource, url: str, key: str, operation: str) -> list[dict[str, Any]]:
    """Every item of a paged list (`key` holds the items, `nextLink` the next page, same host only)."""
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        body = _get(settings, resource, url, operation)
        items.extend(m for m in body.get(key) or [] if isinstance(m, dict))
        link = body.get("nextLink")
        if not link:
            return items
        if not _same_origin(link, resource):  # never send this resource's credential elsewhere
            raise FerryError(kind="terminal", code="InvalidNextLink",
                             message=f"a list of {resource.alias!r} links to another host",
                             hint="Check the endpoint in FERRY_RESOURCES.", operation=operation,
                             api_version=resource.api_version, resource=resource.alias)
        url = link
    raise FerryError(kind="terminal", code="TooManyPages", message=f"a list of {resource.alias!r} did not end "
                     f"after {MAX_PAGES} pages", hint="Report this: the service kept returning nextLink.",
                     operation=operation, api_version=resource.api_version, resource=resource.alias)


def list_models(settings: Settings, alias: str) -> list[dict[str, Any]]:
    """Every model of resource `alias` (v2: modelList entries; v3+: model summaries with tags), all pages."""
    resource = settings.resource(alias)
    if resource.generation == "v2":
        return _list_all(settings, resource, f"{_base(resource)}/custom/models?op=full", "modelList", "list_models")
    return _list_all(settings, resource, f"{_base(resource)}/documentModels?api-version={resource.api_version}",
                     "value", "list_models")


def list_classifiers(settings: Settings, alias: str) -> list[dict[str, Any]] | None:
    """Every classifier of `alias` (details), or None where classifiers cannot be copied (API version)."""
    resource = settings.resource(alias)
    if resource.api_version not in (CLASSIFIER.api_versions or ()):
        return None
    url = f"{_base(resource)}/{CLASSIFIER.collection}?api-version={resource.api_version}"
    return _list_all(settings, resource, url, "value", "list_classifiers")


def model_capacity(settings: Settings, alias: str) -> dict[str, int | None]:
    """`{"count", "limit"}` of custom models on resource `alias` (v2: custom/models?op=summary; v3+: /info)."""
    resource = settings.resource(alias)
    if resource.generation == "v2":
        summary = _get(settings, resource, f"{_base(resource)}/custom/models?op=summary", "get_info").get(
            "summary") or {}
    else:
        summary = _get(settings, resource, f"{_base(resource)}/info?api-version={resource.api_version}",
                       "get_info").get("customDocumentModels") or {}
    return {"count": summary.get("count"), "limit": summary.get("limit")}


def read_inventory(settings: Settings, alias: str, now: datetime | None = None) -> Inventory:
    """The inventory of `alias`, or an unreachable one carrying the error (never raises for service errors)."""
    resource = settings.resource(alias)
    read_at = iso(now or datetime.now(UTC))
    common = {"alias": alias, "region": resource.region, "endpoint": resource.endpoint,
              "api_version": resource.api_version, "generation": resource.generation,
              "resource_id": resource.resource_id, "read_at": read_at}
    try:
        models = tuple(list_models(settings, alias))
    except FerryError as exc:
        log.warning("catalog: cannot read the models of %s: %s %s", alias, exc.kind, exc.code)
        return Inventory(error=exc.to_dict(), **common)
    try:
        classifiers = list_classifiers(settings, alias)
    except FerryError as exc:  # the models were read: the classifiers keep their last known state
        log.warning("catalog: cannot read the classifiers of %s: %s %s", alias, exc.kind, exc.code)
        classifiers = None
    return Inventory(models=models, classifiers=None if classifiers is None else tuple(classifiers), **common)


def read_inventories(settings: Settings, aliases: list[str]) -> dict[str, Inventory]:
    """Inventories of several resources, read in parallel (a slow or dead region costs its timeout once)."""
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(aliases)))) as pool:
        return dict(zip(aliases, pool.map(lambda a: read_inventory(settings, a), aliases), strict=True))
