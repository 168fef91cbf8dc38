"""REST clients for Document Intelligence / Form Recognizer, one per API generation, on `requests`.

`client_for(resource, auth)` picks V2Client (v2.0, v2.1) or V3Client (2022-08-31, 2023-07-31, 2024-11-30).
The names below load on first use, so pure code may import `ferry.docintel.fingerprint` without pulling in the
HTTP clients (`ferry.orchestration` must do no I/O; tests/orchestration/test_orch_purity.py holds it).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CopyAuthorization": "ferry.docintel.base", "CopyStatus": "ferry.docintel.base",
    "DocIntelClient": "ferry.docintel.base", "V2Client": "ferry.docintel.v2", "V3Client": "ferry.docintel.v3",
    "client_for": "ferry.docintel.clients", "fingerprint_v2": "ferry.docintel.fingerprint",
    "fingerprint_v3": "ferry.docintel.fingerprint", "is_copy_of": "ferry.docintel.fingerprint",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ferry.docintel' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
