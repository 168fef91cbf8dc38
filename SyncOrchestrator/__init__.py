"""Blueprint of the estate sync: orchestrators `sync_estate` (plan + chunks), `sync_chunk` and `sync_lane`, entities
`v2_replicas` (the durable v2 mapping) and `sync_progress` (a sync's live progress). Bodies live in their modules as
plain generator functions."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from .chunk import sync_chunk as _chunk_body
from .chunk import sync_lane as _lane_body
from .entity import v2_replicas as _entity_body
from .estate import sync_estate as _estate_body
from .progress import sync_progress as _progress_body

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def sync_estate(context: df.DurableOrchestrationContext) -> Any:
    """Every model of a source → every target: inventory, plan, execute in chunks."""
    return (yield from _estate_body(context))


@bp.orchestration_trigger(context_name="context")
def sync_chunk(context: df.DurableOrchestrationContext) -> Any:
    """One chunk of a sync's rows through the copy workflow."""
    return (yield from _chunk_body(context))


@bp.orchestration_trigger(context_name="context")
def sync_lane(context: df.DurableOrchestrationContext) -> Any:
    """One lane of a chunk: its rows one after the other."""
    return (yield from _lane_body(context))


@bp.entity_trigger(context_name="context")
def v2_replicas(context: df.DurableEntityContext) -> None:
    """The v2 mapping (source id → target id per target) of one source."""
    _entity_body(context)


@bp.entity_trigger(context_name="context")
def sync_progress(context: df.DurableEntityContext) -> None:
    """The live progress of one sync run: rows done and 429s per target."""
    _progress_body(context)
