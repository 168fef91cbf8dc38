"""Blueprint of the `resource_budget` durable entity: one per resource alias, it hands out rate-limit slots.

Why an entity: every copy, whatever started it (a sync, `/api/copies`, Event Grid) and on whichever Function App
instance it runs, must share one budget per resource; a durable entity runs the operations sent to one key one
at a time, in every scaled-out deployment, so the slots it hands out never overlap. The math is
`ferry.orchestration.pacing`; `budget.py` is the operation handler; `pace.py` is what an orchestrator calls.
"""

from __future__ import annotations

import azure.durable_functions as df

from .budget import ENTITY, handle

bp = df.Blueprint()


@bp.entity_trigger(context_name="context", entity_name=ENTITY)
def resource_budget(context: df.DurableEntityContext) -> None:
    """Operations: `reserve` {group, at} → a slot (see `budget.handle`), `get` → the state."""
    handle(context)
