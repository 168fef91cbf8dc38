"""`client_for`: the REST client of a resource's API generation."""

from __future__ import annotations

import requests

from ferry.docintel.base import DocIntelClient
from ferry.docintel.v2 import V2Client
from ferry.docintel.v3 import V3Client
from ferry.http import Authenticator
from ferry.settings import Resource


def client_for(resource: Resource, auth: Authenticator, *, http: requests.Session | None = None,
               timeout: tuple[float, float] | None = None) -> DocIntelClient:
    """The client for `resource`'s configured API version."""
    cls = V2Client if resource.is_v2 else V3Client
    return cls(resource, auth, http=http, timeout=timeout)
