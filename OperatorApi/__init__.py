"""The operator's endpoints: replica catalog, runs, doctor and the dashboard page (df Blueprint).

- `GET /api/replicas[?source=&id=&refresh=true&format=failover]`: the replica catalog, answered at once from the
  last known state (the `replica_catalog` entity, one per source) with its age; `refresh=true` (or no state yet)
  re-reads the inventories. `format=failover` gives `{source id: {region: {endpoint, modelId}}}`.
- `GET /api/replicas/{id}?region=`: the one replica a client should switch to, or 404 with the reason.
- `GET /api/runs?kind=&failed=&since=`: copy and sync runs, newest first, from the Durable status API.
- `GET /api/doctor`: settings, Key Vault and every resource checked, each problem with its fix.
- `GET /api/dashboard`: the live dashboard page (reads only the endpoints above).
All function-level auth; errors are `{"error": FerryError.to_dict()}`.
"""

from __future__ import annotations

from .endpoints import bp

__all__ = ["bp"]
