"""devhost durable engine: runs azure-functions-durable 1.7 orchestrations, activities and entities like the
Durable extension does (replay schema V3), on a SQLite store and a controllable clock.

Management surface (stable; the HTTP layer and ``devhost.testing`` call only this). Every method is thread-safe
and synchronous; "JSON text" means exactly what the extension stores (see each method):

    from devhost.functions import load_app
    from devhost.engine import Engine, VirtualClock, RealClock

    engine = Engine(load_app(app_dir), store_path=path, clock=VirtualClock(), hub_name="ModelFerry",
                    max_activities=10, max_orchestrators=10, function_timeout=600.0,
                    time_skipping=None | "never" | "always" | "while_waiting")   # None: "always" if clock.virtual
    engine.start(); ...; engine.stop(timeout=5.0)  # also a context manager; stop() waits up to timeout for
                                                  # running work, then abandons it (re-run at the next start)

    engine.start_new(name, instance_id=None, input_json=None) -> str
        input_json: the JSON text the extension stores for the instance input. The Python client sends its body
        double-encoded and the extension keeps the decoded .NET string as JSON, so pass the (re-serialized) HTTP
        body text unchanged. Unknown orchestrator -> OrchestratorNotFoundError (extension's text, HTTP 400);
        existing Pending/Running/Suspended id -> InstanceExistsError (400); a finished one is replaced.
    engine.get_status(id, *, show_input=True, show_history=False, show_history_output=False) -> dict | None
        {"name","instanceId","runtimeStatus","input","customStatus","output","createdTime","lastUpdatedTime"
         [, "historyEvents"]}; times "yyyy-MM-ddTHH:mm:ssZ"; None when the instance does not exist.
    engine.query(*, created_from=None, created_to=None, statuses=None, prefix=None, top=100, continuation=None,
                 show_input=True) -> (list[dict], next_continuation_token | None)
        created_* as epoch seconds or ISO text; statuses: runtimeStatus names; the token is opaque.
    engine.raise_event(id, name, data_json)      # data_json stored verbatim as EventRaised.Input (issue #295)
    engine.terminate(id, reason) / engine.suspend(id, reason) / engine.resume(id, reason)
    engine.restart(id, new_instance_id=True) -> str
    engine.purge(id) -> int ; engine.purge_by(created_from, created_to, statuses) -> int
    engine.signal_entity(name, key, op, input_json=None)   # input_json: the (re-serialized) HTTP body text
    engine.read_entity(name, key) -> str | None            # the entity state JSON text; key "" allowed
    engine.list_entities(name=None, *, fetch_state=False, last_operation_from=None, last_operation_to=None,
                         top=100, continuation=None) -> (list[dict], next_continuation_token | None)
        existing entities as GET entities/{name} lists them: {"entityId": {"name","key"}, "lastOperationTime",
        "state" (None unless fetch_state)}; name None/"" = every entity function's.
    engine.rewind(id, reason=None)                # Failed only (else InvalidOperationError, HTTP 500); see rewind.py
    engine.add_wakeup_source(fn)                  # fn() -> next epoch instant or None: time skipping stops there
    engine.history(id) -> list[dict]                       # raw DurableTask events of the current execution
    engine.wait_for(id, *, statuses=(...terminal...), timeout=30.0) -> dict
    engine.wait_until(predicate, *, timeout=30.0, what="...") ; engine.run_until_idle(*, timeout, skip_timers)
    engine.time_skipping_scope()                           # context manager used by waiters
    engine.clock, engine.index, engine.hub_name, engine.stats

Errors (``devhost.engine.errors``; each has ``http_status``): BadRequestError 400 (OrchestratorNotFoundError,
InstanceExistsError), InstanceNotFoundError 404, InstanceGoneError 410 (terminal instance), InvalidOperationError
500 (rewind of an instance that is not Failed), EngineTimeoutError.

Clocks follow the shared protocol ``time()`` / ``advance(seconds)``; any such object can be passed (for example
the emulators' clock). With ``time_skipping="always"`` (CLI ``--clock virtual``) or ``"while_waiting"`` (tests:
only while a ``wait_*`` call is blocked) the engine advances the clock to the next due durable timer or wakeup-source
instant (timer triggers) when nothing else is runnable: no episode queued or running, no activity or entity
operation pending or running; never past a wakeup instant its source has not acted on yet.
"""

from .clock import RealClock, VirtualClock
from .engine import Engine
from .errors import (
    BadRequestError,
    EngineError,
    EngineTimeoutError,
    InstanceExistsError,
    InstanceGoneError,
    InstanceNotFoundError,
    InvalidOperationError,
    NonDeterminismError,
    OrchestratorNotFoundError,
)
from .payloads import scheduler_id

__all__ = [
    "BadRequestError", "Engine", "EngineError", "EngineTimeoutError", "InstanceExistsError", "InstanceGoneError",
    "InstanceNotFoundError", "InvalidOperationError", "NonDeterminismError", "OrchestratorNotFoundError", "RealClock",
    "VirtualClock", "scheduler_id",
]
