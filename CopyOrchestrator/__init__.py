"""Blueprint of the two orchestrators: `copy_model` (parent) and `copy_model_to_target` (child).

The bodies live in `parent.py` / `child.py` as plain generator functions (unit-testable with a fake context);
here they are only registered under their fixed names.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from .child import copy_model_to_target as _child_body
from .parent import copy_model as _parent_body

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def copy_model(context: df.DurableOrchestrationContext) -> Any:
    """One source model → N targets (fan-out of `copy_model_to_target`)."""
    return (yield from _parent_body(context))


@bp.orchestration_trigger(context_name="context")
def copy_model_to_target(context: df.DurableOrchestrationContext) -> Any:
    """One source model → one target: authorize+start, poll, verify, recover."""
    return (yield from _child_body(context))
