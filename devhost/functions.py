"""Load a Python v2-model Functions app and invoke its functions the way the Python worker does.

Why: the devhost must run the *real* app with the *real* SDK. So the app is imported under the module name the
worker uses (``function_app``, which custom classes serialized by ``df_dumps`` refer to), functions are found
with the v2 model's own metadata (``FunctionRegister.get_functions()``), and durable functions are called by
binding parameter name through the same converters as the worker, so an app that fails in Azure fails here.

Public API (used by the engine and by the HTTP host layer):

* ``load_app(app_dir: Path, *, module_name="function_app") -> FunctionIndex`` — imports ``app_dir/function_app.py``
  (``app_dir`` is put first on ``sys.path``), indexes every function, validates bindings. Raises
  ``AppLoadError`` (missing file, import error, no FunctionApp, duplicate names) or ``UnsupportedBindingError``
  (a binding type this host cannot serve; the message names the function, the binding and what is supported).
* ``FunctionIndex``: ``.functions: dict[str, FunctionInfo]`` (by function name), ``.app`` (the FunctionRegister),
  ``.module``, ``.app_dir``, ``.by_trigger(trigger_type) -> list[FunctionInfo]``,
  ``.orchestrator(name)``, ``.activity(name)``, ``.entity(name)`` → ``FunctionInfo | None`` (by the *durable*
  registered name; entity names are case-insensitive like the extension's scheduler ids).
* ``FunctionInfo`` (frozen): ``name, trigger_type, trigger_param, bindings: list[dict]`` (function.json style,
  enums as strings), ``user_function`` (the callable the worker calls), ``route, methods, auth_level`` (HTTP
  triggers only, else None; ``auth_level`` lower-case ``anonymous|function|admin``), ``durable_name``
  (registered orchestrator/activity/entity name), ``client_param`` (name of a ``durableClient`` binding or None),
  ``is_async``, ``script_file``; ``binding(type) -> dict | None``.
* Invocation (synchronous, thread-safe; each thread keeps its own event loop for ``async def`` functions):
  ``invoke_orchestrator(info, context_json) -> str`` (the OrchestratorState JSON; the SDK's exception carrying
  ``$OutOfProcData$`` propagates unchanged), ``invoke_activity(info, input_json, *, invocation_id=None) -> str``
  (``TaskCompleted.Result`` JSON text, via ``ActivityTriggerConverter`` decode/encode),
  ``invoke_entity(info, context_json) -> str`` (the EntityState JSON of ``Entity.create``'s handler),
  ``make_context(info, invocation_id=None) -> azure.functions.Context``, ``call_kwargs(info, values) -> dict``
  (adds a ``func.Context`` for a non-binding parameter named ``context``, as the worker does).
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions._abc import RetryContext, TraceContext
from azure.functions.decorators.utils import StringifyEnumJsonEncoder
from azure.functions.durable_functions import ActivityTriggerConverter

SUPPORTED_BINDINGS = frozenset({
    "httpTrigger", "http", "orchestrationTrigger", "activityTrigger", "entityTrigger",
    "durableClient", "eventGridTrigger", "timerTrigger",
})
DURABLE_TRIGGERS = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger"})


class AppLoadError(Exception):
    """The app could not be loaded or indexed; the message says what to fix."""


class UnsupportedBindingError(AppLoadError):
    """A function uses a binding type the devhost does not serve (refused at start, never skipped)."""


@dataclass(frozen=True)
class FunctionInfo:
    """One indexed function: its metadata as the host sees it plus the callable the worker invokes."""

    name: str
    trigger_type: str
    trigger_param: str
    bindings: list[dict] = field(hash=False, compare=False)
    user_function: Callable[..., Any] = field(hash=False, compare=False)
    route: str | None = None
    methods: tuple[str, ...] | None = None
    auth_level: str | None = None
    durable_name: str | None = None
    client_param: str | None = None
    is_async: bool = False
    script_file: str = "function_app.py"

    def binding(self, binding_type: str) -> dict | None:
        """The first binding of that type (function.json dict), or None."""
        return next((b for b in self.bindings if b.get("type") == binding_type), None)


@dataclass
class FunctionIndex:
    """Every function of a loaded app, by name, with lookups by durable name."""

    app_dir: Path
    module: Any
    app: Any
    functions: dict[str, FunctionInfo]

    def by_trigger(self, trigger_type: str) -> list[FunctionInfo]:
        """Functions whose trigger has this binding type, e.g. ``"httpTrigger"``, in declaration order."""
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def _durable(self, trigger: str, name: str, *, fold: bool = False) -> FunctionInfo | None:
        for f in self.functions.values():
            if f.trigger_type != trigger or f.durable_name is None:
                continue
            if f.durable_name == name or (fold and f.durable_name.lower() == name.lower()):
                return f
        return None

    def orchestrator(self, name: str) -> FunctionInfo | None:
        """The orchestrator registered under ``name`` (the extension matches names exactly)."""
        return self._durable("orchestrationTrigger", name)

    def activity(self, name: str) -> FunctionInfo | None:
        """The activity registered under ``name``."""
        return self._durable("activityTrigger", name)

    def entity(self, name: str) -> FunctionInfo | None:
        """The entity registered under ``name`` (case-insensitive: scheduler ids are lower-cased)."""
        return self._durable("entityTrigger", name, fold=True)


def load_app(app_dir: Path | str, *, module_name: str = "function_app") -> FunctionIndex:
    """Import ``app_dir/function_app.py`` as the worker does and index its functions."""
    app_dir = Path(app_dir).resolve()
    script = app_dir / "function_app.py"
    if not script.is_file():
        raise AppLoadError(f"no function_app.py in {app_dir}: pass the folder that holds the app's function_app.py")
    _forget_other_apps(app_dir)
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
        _INSERTED_PATHS.add(app_dir)
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        raise AppLoadError(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if not apps:
        raise AppLoadError(f"{script} defines no FunctionApp/DFApp at module level (e.g. app = df.DFApp())")
    if len(apps) > 1:
        raise AppLoadError(f"{script} defines {len(apps)} FunctionApp objects; the worker indexes exactly one")
    app = apps[0]
    functions: dict[str, FunctionInfo] = {}
    for fn in app.get_functions():
        info = _index_function(fn)
        if info.name in functions:
            raise AppLoadError(f"two functions are named {info.name!r}; function names must be unique")
        functions[info.name] = info
    _check_durable_names(functions)
    _APP_MODULES.setdefault(app_dir, set()).update(set(sys.modules) - before)
    return FunctionIndex(app_dir=app_dir, module=module, app=app, functions=functions)


_APP_MODULES: dict[Path, set[str]] = {}   # app folder → modules its import brought in
_INSERTED_PATHS: set[Path] = set()        # app folders this loader put on sys.path


def _forget_other_apps(app_dir: Path) -> None:
    """Drop the modules that loading *other* app folders brought in (and those folders from sys.path, when this
    loader put them there), so that two apps with same-named helper packages loaded one after another in one
    process (tests) each get their own. Modules that were imported before an app was loaded (the host's own code,
    the test's imports, a repository on sys.path anyway) are never dropped."""
    # Nested folders (an app inside the repository that is itself an app) are never forgotten: their modules
    # include the host's own code.
    others = [d for d in _APP_MODULES
              if d != app_dir and not app_dir.is_relative_to(d) and not d.is_relative_to(app_dir)]
    for d in others:
        for name in _APP_MODULES.pop(d):
            mod = sys.modules.get(name)
            origin = getattr(mod, "__file__", None)
            if name.split(".")[0] in ("devhost", "azure") or not origin:
                continue
            if Path(origin).resolve().is_relative_to(d):
                del sys.modules[name]
        if d in _INSERTED_PATHS:
            _INSERTED_PATHS.discard(d)
            while str(d) in sys.path:
                sys.path.remove(str(d))
    _APP_MODULES.setdefault(app_dir, set())


def _index_function(fn: Any) -> FunctionInfo:
    name = fn.get_function_name()
    trigger = fn.get_trigger()
    if trigger is None:
        raise AppLoadError(f"function {name!r} has no trigger; every function needs exactly one")
    bindings = json.loads(json.dumps([b.get_dict_repr() for b in fn.get_bindings()], cls=StringifyEnumJsonEncoder))
    for b in bindings:
        if b.get("type") not in SUPPORTED_BINDINGS:
            raise UnsupportedBindingError(
                f"function {name!r} uses binding type {b.get('type')!r} (parameter {b.get('name')!r}), which the "
                f"devhost does not support. Supported: {', '.join(sorted(SUPPORTED_BINDINGS))}. Remove the binding "
                "or run the app on the real Functions host.")
    trig = next(b for b in bindings if b.get("type") == trigger.get_binding_name())
    trigger_type = trig["type"]
    user_function = fn.get_user_function()
    route = methods = auth_level = None
    if trigger_type == "httpTrigger":
        route = trig.get("route") or name
        raw_methods = trig.get("methods")
        methods = tuple(m.upper() for m in raw_methods) if raw_methods else None
        auth_level = str(trig.get("authLevel") or "function").lower()
    durable_name = None
    if trigger_type == "orchestrationTrigger":
        durable_name = trig.get("orchestration") or name
    elif trigger_type == "activityTrigger":
        durable_name = trig.get("activity") or name
    elif trigger_type == "entityTrigger":
        durable_name = trig.get("entityName") or name
    client = next((b["name"] for b in bindings if b.get("type") == "durableClient"), None)
    target = getattr(user_function, "client_function", user_function)
    return FunctionInfo(
        name=name, trigger_type=trigger_type, trigger_param=trig["name"], bindings=bindings,
        user_function=user_function, route=route, methods=methods, auth_level=auth_level,
        durable_name=durable_name, client_param=client,
        is_async=inspect.iscoroutinefunction(user_function) or inspect.iscoroutinefunction(target),
        script_file=getattr(fn, "function_script_file", "function_app.py") or "function_app.py",
    )


def _check_durable_names(functions: dict[str, FunctionInfo]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for f in functions.values():
        if f.durable_name is None:
            continue
        key = (f.trigger_type, f.durable_name.lower() if f.trigger_type == "entityTrigger" else f.durable_name)
        if key in seen:
            raise AppLoadError(f"functions {seen[key]!r} and {f.name!r} both register {f.trigger_type} "
                               f"{f.durable_name!r}; durable names must be unique")
        seen[key] = f.name


# --------------------------------------------------------------------------------------------- invocation

class _TraceContext(TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The ``func.Context`` the worker injects into a parameter named ``context``."""

    def __init__(self, function_name: str, function_directory: str, invocation_id: str | None = None) -> None:
        self._invocation_id = invocation_id or str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = _TraceContext()
        self._retry_context = _RetryContext()
        self._tls = threading.local()
        self._tls.invocation_id = self._invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._tls

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return self._retry_context


def make_context(info: FunctionInfo, invocation_id: str | None = None, app_dir: Path | None = None) -> func.Context:
    """A worker-style invocation context for ``info``."""
    directory = str(app_dir) if app_dir is not None else str(Path.cwd())
    return InvocationContext(info.name, directory, invocation_id)


def call_kwargs(info: FunctionInfo, values: dict[str, Any], *, invocation_id: str | None = None,
                app_dir: Path | None = None) -> dict[str, Any]:
    """Bind ``values`` (binding name → value) to the callable's parameters, adding ``context`` like the worker.

    Raises ``TypeError`` naming the parameter when a binding has no matching parameter, as the worker refuses
    such a function.
    """
    target = getattr(info.user_function, "client_function", info.user_function)
    params = inspect.signature(target).parameters
    kwargs = dict(values)
    for name in values:
        if name not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise TypeError(f"function {info.name!r} has no parameter named {name!r} for its binding; "
                            f"the worker binds by parameter name (parameters: {', '.join(params)})")
    if "context" in params and "context" not in kwargs:
        kwargs["context"] = make_context(info, invocation_id, app_dir)
    return kwargs


_loops = threading.local()


def run_maybe_async(result: Any) -> Any:
    """Await ``result`` on this thread's long-lived event loop if it is awaitable (async activities)."""
    if not inspect.isawaitable(result):
        return result
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop = loop
    return loop.run_until_complete(result)


def invoke_orchestrator(info: FunctionInfo, context_json: str) -> str:
    """Run one orchestrator episode: returns the OrchestratorState JSON or raises the SDK's exception."""
    if info.trigger_type != "orchestrationTrigger":
        raise TypeError(f"{info.name!r} is not an orchestrator function")
    ctx = func.OrchestrationContext(context_json)
    kwargs = call_kwargs(info, {info.trigger_param: ctx})
    out = info.user_function(**kwargs)
    return out if isinstance(out, str) else json.dumps(out)


def invoke_activity(info: FunctionInfo, input_json: str, *, invocation_id: str | None = None) -> str:
    """Run an activity with the worker's converters: JSON text in, ``TaskCompleted.Result`` JSON text out."""
    if info.trigger_type != "activityTrigger":
        raise TypeError(f"{info.name!r} is not an activity function")
    value = ActivityTriggerConverter.decode(meta.Datum(input_json, "string"), trigger_metadata={})
    kwargs = call_kwargs(info, {info.trigger_param: value}, invocation_id=invocation_id)
    result = run_maybe_async(info.user_function(**kwargs))
    return ActivityTriggerConverter.encode(result, expected_type=None).value


def invoke_entity(info: FunctionInfo, context_json: str) -> str:
    """Run an entity batch through ``Entity.create``'s handler: returns the EntityState JSON."""
    if info.trigger_type != "entityTrigger":
        raise TypeError(f"{info.name!r} is not an entity function")
    ctx = func.EntityContext(context_json)
    kwargs = call_kwargs(info, {info.trigger_param: ctx})
    out = run_maybe_async(info.user_function(**kwargs))
    return out if isinstance(out, str) else json.dumps(out)
