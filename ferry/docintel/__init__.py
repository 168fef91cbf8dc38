"""REST clients for Document Intelligence / Form Recognizer, one per API generation, on `requests`.

`client_for(resource, auth)` picks V2Client (v2.0, v2.1) or V3Client (2022-08-31, 2023-07-31, 2024-11-30).
"""

from __future__ import annotations

import requests

from ferry.docintel.base import CopyAuthorization, CopyStatus, DocIntelClient
from ferry.docintel.fingerprint import fingerprint_v2, fingerprint_v3, is_copy_of
from ferry.docintel.v2 import V2Client
from ferry.docintel.v3 import V3Client
from ferry.http import Authenticator
from ferry.settings import Resource

__all__ = ["CopyAuthorization", "CopyStatus", "DocIntelClient", "V2Client", "V3Client", "client_for",
           "fingerprint_v2", "fingerprint_v3", "is_copy_of"]


def client_for(resource: Resource, auth: Authenticator, *, http: requests.Session | None = None,
               timeout: tuple[float, float] | None = None) -> DocIntelClient:
    """The client for `resource`'s configured API version."""
    cls = V2Client if resource.is_v2 else V3Client
    return cls(resource, auth, http=http, timeout=timeout)
