"""Offline checks of the azd/Bicep templates under infra/ (nothing here reaches Azure).

Every `.bicep` file is parsed with pycep-parser (a pure-Python Bicep parser). Its JSON view gives the structure
(resources, modules, params, vars, outputs); its lark tree tells identifiers apart from string literals, which
the JSON view does not. On top of that, a small resolver follows identifiers through vars, loops and module
call sites, so a check can ask "which app setting names can this object have?" or "which role definition GUIDs
can this roleDefinitionId be?" without evaluating Bicep.

Each check returns a list of problems (empty = fine), so the tests can run the same check on the real templates
(expect none) and on deliberately broken copies (expect the break to be reported).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Token, Tree
from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Built-in role definitions this deployment may assign, each checked against Microsoft's built-in roles
# reference (MicrosoftDocs/azure-docs, articles/role-based-access-control/built-in-roles/*.md: the "name"
# GUID next to the "roleName"), with the resource types it may be scoped to. Anything else is refused.
KNOWN_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "4633458b-17de-408a-b874-0445c86b69e6": ("Key Vault Secrets User", frozenset({"Microsoft.KeyVault/vaults"})),
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": ("Key Vault Secrets Officer", frozenset({"Microsoft.KeyVault/vaults"})),
    "a97b65f3-24c7-4388-baec-2e87135dc908": ("Cognitive Services User",
                                             frozenset({"Microsoft.CognitiveServices/accounts"})),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": ("Storage Blob Data Owner",
                                             frozenset({"Microsoft.Storage/storageAccounts"})),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": ("Storage Queue Data Contributor",
                                             frozenset({"Microsoft.Storage/storageAccounts"})),
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": ("Storage Table Data Contributor",
                                             frozenset({"Microsoft.Storage/storageAccounts"})),
    "3913510d-42f4-4e42-8a64-420c390055eb": ("Monitoring Metrics Publisher",
                                             frozenset({"Microsoft.Insights/components"})),
    "d5a91429-5739-47e2-a06b-3470a27159e7": ("EventGrid Data Sender", frozenset({"Microsoft.EventGrid/topics"})),
    # Event Grid's own identity writing dead-lettered events: one container, not the account.
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": ("Storage Blob Data Contributor",
                                             frozenset({"Microsoft.Storage/storageAccounts/blobServices/containers"})),
    # Durable Task Scheduler backend: the app's data-plane role, on its one task hub (not the scheduler).
    "0ad04412-c4d5-4796-b79c-f76d14c8d402": ("Durable Task Data Contributor",
                                             frozenset({"Microsoft.DurableTask/schedulers/taskHubs"})),
}

# Exactly what the Function App's identity must hold (role name, scope resource type): nothing broader.
EXPECTED_APP_GRANTS = frozenset({
    ("Key Vault Secrets User", "Microsoft.KeyVault/vaults"),
    ("Cognitive Services User", "Microsoft.CognitiveServices/accounts"),
    ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts"),
    ("Storage Queue Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("Storage Table Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("Monitoring Metrics Publisher", "Microsoft.Insights/components"),
})
APP_IDENTITY_PRINCIPAL = "identity.outputs.principalId"
DTS_GRANT = ("Durable Task Data Contributor", "Microsoft.DurableTask/schedulers/taskHubs")

# The deployment variants the checks run on: Durable backend x placement (main.bicep parameter values). The
# placement variants differ in what infra/core/placement.bicep lets through (see evaluate_placement); the
# backends differ in resources, role assignments and app settings.
VARIANTS: dict[str, dict[str, Any]] = {
    "storage/control-elsewhere": {"durableBackend": "azureStorage", "allowControlInSourceRegion": False},
    "storage/control-in-source": {"durableBackend": "azureStorage", "allowControlInSourceRegion": True},
    "dts/control-elsewhere": {"durableBackend": "dts", "allowControlInSourceRegion": False},
    "dts/control-in-source": {"durableBackend": "dts", "allowControlInSourceRegion": True},
}

# The app settings that select the Durable Task Scheduler (name -> rendered value); none of them with Azure Storage.
DTS_SETTINGS = {
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__type": "azureManaged",
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName":
        "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING":
        "Endpoint=${durableTaskScheduler.outputs.endpoint};Authentication=ManagedIdentity;"
        "ClientID=${identity.outputs.clientId}",
    "TASKHUB_NAME": "durableTaskScheduler.outputs.taskHubName",
    "AzureFunctionsJobHost__extensions__durableTask__hubName": "durableTaskScheduler.outputs.taskHubName",
}


# ------------------------------------------------------------------------------------------------------------
# loading


@dataclass
class BicepFile:
    """One parsed template: pycep's JSON view plus the identifier tokens of its lark tree."""

    path: Path
    rel: str
    text: str
    doc: dict[str, Any]
    identifiers: list[str]          # STRING tokens that are not object keys (declarations included)
    interpolations: list[str]       # the ${...} holes of every quoted string

    def section(self, name: str) -> dict[str, Any]:
        return self.doc.get(name) or {}


@dataclass
class Template:
    """All files of one infra/ tree, keyed by path relative to it (e.g. "app/function.bicep")."""

    root: Path
    files: dict[str, BicepFile] = field(default_factory=dict)

    @property
    def main(self) -> BicepFile:
        return self.files["main.bicep"]


@functools.lru_cache(maxsize=1)
def _parser() -> BicepParser:
    return BicepParser()


def _walk_tokens(tree: Tree, under_key: bool = False) -> Iterator[tuple[Token, bool]]:
    for child in tree.children:
        if isinstance(child, Tree):
            yield from _walk_tokens(child, under_key or child.data == "key")
        elif isinstance(child, Token):
            yield child, under_key


def parse_file(path: Path, root: Path) -> BicepFile:
    """Parse one .bicep file; a file pycep cannot parse raises (with the file name)."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = _parser().parse(text=text)
        tree = _parser().lark_parser.parse(text)
    except Exception as exc:  # lark raises several exception types; name the file whatever it was
        raise ValueError(f"{path}: pycep cannot parse this file: {exc}") from exc
    identifiers, holes = [], []
    for token, under_key in _walk_tokens(tree):
        if token.type == "STRING" and not under_key:
            identifiers.append(str(token))
        elif token.type == "QUOTED_INTERPOLATION":
            holes.extend(re.findall(r"\$\{(.*?)\}", str(token)))
    return BicepFile(path=path, rel=path.relative_to(root).as_posix(), text=text, doc=doc,
                     identifiers=identifiers, interpolations=holes)


def load_template(root: Path = INFRA) -> Template:
    """Parse every .bicep file under `root`."""
    template = Template(root=root)
    for path in sorted(root.rglob("*.bicep")):
        bf = parse_file(path, root)
        template.files[bf.rel] = bf
    return template


# ------------------------------------------------------------------------------------------------------------
# small helpers over pycep's JSON


def unwrap(config: Any) -> tuple[dict | None, Any, Any]:
    """(loop_type, condition, body) of a resource/module/var value: pycep wraps loops and `if` in layers."""
    loop, condition = None, None
    while isinstance(config, dict) and "config" in config and ("loop_type" in config or "condition" in config):
        loop = config.get("loop_type") or loop
        condition = config.get("condition") or condition
        config = config["config"]
    return loop, condition, config


def strip_key(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def render(expr: Any) -> str:
    """A compact, readable rendering of an expression, for matching and messages."""
    if isinstance(expr, dict):
        if "operator" in expr:
            op = expr["operator"]
            operands = op.get("operands", {})
            if op.get("type") == "property_accessor":
                return f"{render(operands.get('operand_1'))}.{render(operands.get('operand_2'))}"
            if op.get("type") == "index_accessor":
                return f"{render(operands.get('operand_1'))}[{render(operands.get('operand_2'))}]"
            return f"{op.get('type')}(" + ", ".join(render(v) for v in operands.values()) + ")"
        if "function" in expr:
            fn = expr["function"]
            params = fn.get("parameters") or {}
            return f"{fn.get('type')}(" + ", ".join(render(v) for v in params.values() if v is not None) + ")"
        return "{" + ", ".join(f"{strip_key(k)}: {render(v)}" for k, v in expr.items()) + "}"
    if isinstance(expr, list):
        return "[" + ", ".join(render(v) for v in expr) + "]"
    return str(expr)


def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, node) pair below `node`."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, i))


def is_list_call(node: Any) -> bool:
    """A listKeys()/list*() call: the only way a template can read a key."""
    if not isinstance(node, dict):
        return False
    fn = node.get("function")
    if isinstance(fn, dict):
        if fn.get("type") == "list_func":
            return True
        name = str((fn.get("parameters") or {}).get("func_name", ""))
        if str(fn.get("type", "")).lower().startswith("list") or name.lower().startswith("list"):
            return True
    op = node.get("operator")
    return isinstance(op, dict) and op.get("type") == "function_accessor" and \
        str((op.get("operands") or {}).get("func_name", "")).lower().startswith("list")


def get_ci(obj: Any, *keys: str) -> Any:
    """Nested dict lookup, case-insensitive on keys (ARM property names are case-insensitive)."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        matches = [v for k, v in obj.items() if strip_key(k).lower() == key.lower()]
        obj = matches[0] if matches else None
    return obj


def resources(bf: BicepFile) -> Iterator[tuple[str, dict, dict | None]]:
    """(symbol, resource entry, loop) for every resource of a file; entry["body"] is the unwrapped config."""
    for symbol, res in bf.section("resources").items():
        loop, condition, body = unwrap(res.get("config"))
        yield symbol, {**res, "body": body if isinstance(body, dict) else {}, "condition": condition}, loop


def module_calls_with_conditions(template: Template, rel: str) -> list[tuple[BicepFile, str, dict, dict | None,
                                                                             Any]]:
    """(calling file, module symbol, params, loop, `if` condition) for every module declaration deploying `rel`."""
    calls = []
    for caller in template.files.values():
        caller_dir = caller.path.parent
        for symbol, mod in caller.section("modules").items():
            target = (caller_dir / str(mod.get("detail", {}).get("path", ""))).resolve()
            if target == (template.root / rel).resolve():
                loop, condition, body = unwrap(mod.get("config"))
                calls.append((caller, symbol, (body or {}).get("params") or {}, loop, condition))
    return calls


def module_calls(template: Template, rel: str) -> list[tuple[BicepFile, str, dict, dict | None]]:
    """(calling file, module symbol, params, loop) for every module declaration that deploys file `rel`."""
    return [call[:4] for call in module_calls_with_conditions(template, rel)]


# ------------------------------------------------------------------------------------------------------------
# the resolver: possible object keys / possible literal strings of an expression


UNKNOWN = object()


class Resolver:
    """Follows identifiers through vars, loop items, params and module call sites.

    No general evaluation: with `assume` (main.bicep parameter values, e.g. one of VARIANTS) the conditions
    built from those parameters (==, !=, &&, ||, !) are decided, so a conditional keeps only the branch taken and
    a conditional module that is not deployed contributes nothing; any other condition keeps both sides."""

    def __init__(self, template: Template, assume: dict[str, Any] | None = None):
        self.t = template
        self.assume = dict(assume or {})

    def value(self, bf: BicepFile, expr: Any) -> Any:
        """The literal value of `expr` under the assumptions, or UNKNOWN."""
        if isinstance(expr, (bool, int)):
            return expr
        if isinstance(expr, str):
            bound = self._binding(bf, expr, [])
            if bound is None:
                return expr
            kind, value = bound
            if kind == "var":
                return self.value(bf, value.get("value"))
            if kind == "param":
                if bf.rel == "main.bicep":
                    return self.assume.get(expr, UNKNOWN)
                values = {repr(self.value(f, e)) for f, e, _ in self._param_exprs(bf, expr)}
                found = [self.value(f, e) for f, e, _ in self._param_exprs(bf, expr)]
                return found[0] if len(values) == 1 and found else UNKNOWN
            return UNKNOWN
        if isinstance(expr, dict) and "operator" in expr:
            op = expr["operator"]
            kind, operands = op.get("type"), op.get("operands") or {}
            if kind in ("equals", "not_equals"):
                a, b = self.value(bf, operands.get("operand_1")), self.value(bf, operands.get("operand_2"))
                if a is UNKNOWN or b is UNKNOWN:
                    return UNKNOWN
                return (a == b) if kind == "equals" else (a != b)
            if kind == "not":
                a = self.value(bf, operands.get("bool_value"))
                return UNKNOWN if not isinstance(a, bool) else not a
            if kind in ("and", "or"):
                a, b = self.value(bf, operands.get("operand_1")), self.value(bf, operands.get("operand_2"))
                if kind == "and" and (a is False or b is False):
                    return False
                if kind == "or" and (a is True or b is True):
                    return True
                return a and b if isinstance(a, bool) and isinstance(b, bool) else UNKNOWN
        return UNKNOWN

    def taken(self, bf: BicepFile, condition: Any) -> bool:
        """False only when the condition is known to be false under the assumptions."""
        return condition is None or self.value(bf, condition) is not False

    def branches(self, bf: BicepFile, operands: dict[str, Any]) -> list[Any]:
        """The branches of a conditional that can be taken."""
        decided = self.value(bf, operands.get("condition"))
        if decided is True:
            return [operands.get("true_value")]
        if decided is False:
            return [operands.get("false_value")]
        return [operands.get("true_value"), operands.get("false_value")]

    def deployed(self, rel: str) -> bool:
        """Whether file `rel` is deployed under the assumptions (main.bicep always; a module if a call can be)."""
        if rel == "main.bicep":
            return True
        return any(self.deployed(caller.rel) and self.taken(caller, condition)
                   for caller, _symbol, _params, _loop, condition in module_calls_with_conditions(self.t, rel))

    def _binding(self, bf: BicepFile, name: str, loops: list[dict]) -> tuple[str, Any] | None:
        for loop in loops:
            detail = loop.get("detail") or {}
            if detail.get("item_name") == name:
                return "item", detail.get("array_name")
        if name in bf.section("variables"):
            return "var", bf.section("variables")[name]
        if name in bf.section("parameters"):
            return "param", name
        return None

    def _param_exprs(self, bf: BicepFile, name: str) -> list[tuple[BicepFile, Any, list[dict]]]:
        """What a parameter can be: every call-site argument, or its default when not passed."""
        out = []
        calls = [c for c in module_calls_with_conditions(self.t, bf.rel) if self.taken(c[0], c[4])]
        for caller, _symbol, params, loop, _condition in calls:
            if name in params:
                out.append((caller, params[name], [loop] if loop else []))
        default = bf.section("parameters")[name].get("default")
        if (not calls or len(out) < len(calls)) and default is not None:
            out.append((bf, default, []))
        return out

    def keys(self, bf: BicepFile, expr: Any, loops: list[dict] | None = None) -> set[str]:
        """Every key the object expression `expr` can have."""
        loops = loops or []
        if isinstance(expr, dict):
            if "function" in expr:
                fn = expr["function"]
                if fn.get("type") == "union":
                    return set().union(*(self.keys(bf, v, loops) for v in (fn.get("parameters") or {}).values()
                                         if v is not None))
                return set()
            if "operator" in expr:
                op = expr["operator"]
                if op.get("type") == "conditional":
                    return set().union(*(self.keys(bf, v, loops) for v in self.branches(bf, op.get("operands", {}))))
                return set()
            if "loop_type" in expr or "condition" in expr:
                loop, _, body = unwrap(expr)
                return self.keys(bf, body, [*loops, loop] if loop else loops)
            return {strip_key(k) for k in expr}
        if isinstance(expr, str):
            bound = self._binding(bf, expr, loops)
            if bound and bound[0] == "var":
                return self.keys(bf, bound[1].get("value"), loops)
            if bound and bound[0] == "param":
                return set().union(*(self.keys(f, e, lp) for f, e, lp in self._param_exprs(bf, expr)))
        return set()

    def items(self, bf: BicepFile, expr: Any) -> dict[str, Any]:
        """key -> expression of an object expression, for the keys whose value is known (last union wins)."""
        if isinstance(expr, dict) and "function" in expr and expr["function"].get("type") == "union":
            merged: dict[str, Any] = {}
            for v in (expr["function"].get("parameters") or {}).values():
                if v is not None:
                    merged.update(self.items(bf, v))
            return merged
        if isinstance(expr, dict) and "operator" in expr and expr["operator"].get("type") == "conditional":
            merged = {}
            for branch in self.branches(bf, expr["operator"].get("operands", {})):
                merged.update(self.items(bf, branch))
            return merged
        if isinstance(expr, dict) and "function" not in expr and "operator" not in expr:
            return {strip_key(k): v for k, v in expr.items()}
        if isinstance(expr, str):
            bound = self._binding(bf, expr, [])
            if bound and bound[0] == "var":
                return self.items(bf, bound[1].get("value"))
            if bound and bound[0] == "param":
                merged = {}
                for f, e, _ in self._param_exprs(bf, expr):
                    merged.update(self.items(f, e))
                return merged
        return {}

    def strings(self, bf: BicepFile, expr: Any, loops: list[dict] | None = None) -> set[str]:
        """Every literal string `expr` can stand for (identifiers followed; unknown parts give nothing)."""
        loops = loops or []
        if isinstance(expr, list):
            return set().union(*(self.strings(bf, v, loops) for v in expr)) if expr else set()
        if isinstance(expr, dict):
            if "operator" in expr and expr["operator"].get("type") == "conditional":
                operands = expr["operator"].get("operands", {})
                return self.strings(bf, operands.get("true_value"), loops) | \
                    self.strings(bf, operands.get("false_value"), loops)
            return set()
        if not isinstance(expr, str):
            return set()
        bound = self._binding(bf, expr, loops)
        if bound is None:
            return {expr}
        kind, value = bound
        if kind == "item":
            array_var = bf.section("variables").get(value)
            return self.strings(bf, array_var.get("value"), []) if array_var else set()
        if kind == "var":
            return self.strings(bf, value.get("value"), loops)
        out: set[str] = set()
        for f, e, lp in self._param_exprs(bf, expr):
            out |= self.strings(f, e, lp)
        return out

    def principal(self, bf: BicepFile, expr: Any, loops: list[dict]) -> str:
        """Who a role assignment's principalId designates, rendered from the outermost call site."""
        if isinstance(expr, str) and expr in bf.section("parameters"):
            sources = [render(e) for _, e, _ in self._param_exprs(bf, expr)]
            return sources[0] if len(sources) == 1 else " | ".join(sorted(sources))
        return render(expr)


# ------------------------------------------------------------------------------------------------------------
# checks


def check_parameters_used(template: Template) -> list[str]:
    """Every `param` of every file is referenced somewhere in that file."""
    problems = []
    for bf in template.files.values():
        for name in bf.section("parameters"):
            uses = bf.identifiers.count(name) - 1  # minus the declaration itself
            uses += sum(1 for hole in bf.interpolations if re.search(rf"(?<![\w.]){re.escape(name)}\b", hole))
            if uses < 1:
                problems.append(f"{bf.rel}: parameter {name!r} is declared but never used")
    return problems


def check_module_calls(template: Template) -> list[str]:
    """Module call sites pass only declared params, and every param without a default is passed."""
    problems = []
    for bf in template.files.values():
        if bf.rel == "main.bicep":
            continue
        declared = bf.section("parameters")
        calls = module_calls(template, bf.rel)
        if not calls:
            problems.append(f"{bf.rel}: no module declaration deploys this file")
        for caller, symbol, params, _ in calls:
            for name in params:
                if name not in declared:
                    problems.append(f"{caller.rel}: module {symbol} passes {name!r}, which {bf.rel} does not declare")
            for name, decl in declared.items():
                if decl.get("default") is None and name not in params:
                    problems.append(f"{caller.rel}: module {symbol} does not pass required parameter {name!r}")
    return problems


def check_parameters_file(template: Template) -> list[str]:
    """main.parameters.json maps only parameters main.bicep declares, and every required one."""
    path = template.root / "main.parameters.json"
    mapped = json.loads(path.read_text(encoding="utf-8"))["parameters"]
    declared = template.main.section("parameters")
    problems = [f"main.parameters.json maps {n!r}, which main.bicep does not declare" for n in mapped
                if n not in declared]
    problems += [f"main.parameters.json does not map required parameter {n!r}" for n, d in declared.items()
                 if d.get("default") is None and n not in mapped]
    return problems


def app_settings_resource(template: Template) -> tuple[BicepFile, dict]:
    for bf in template.files.values():
        for _symbol, res, _loop in resources(bf):
            if res["type"] == "Microsoft.Web/sites/config" and res["body"].get("name") == "appsettings":
                return bf, res
    raise AssertionError("no Microsoft.Web/sites/config 'appsettings' resource in infra/")


def app_setting_names(template: Template, assume: dict[str, Any] | None = None) -> set[str]:
    bf, res = app_settings_resource(template)
    return Resolver(template, assume).keys(bf, res["body"].get("properties"))


def check_app_settings(template: Template, settings: dict[str, Any], assume: dict[str, Any] | None = None
                       ) -> list[str]:
    """The app settings are exactly what ferry.settings reads (minus local-only ones), plus the platform's, plus
    (Durable Task Scheduler backend only) the settings that select that backend."""
    names = app_setting_names(template, assume)
    wanted = {n for n, s in settings.items() if not s.local_only}
    local_only = {n for n, s in settings.items() if s.local_only}
    problems = [f"app setting {n} (read by ferry/settings.py) is not set by infra/" for n in sorted(wanted - names)]
    problems += [f"app setting {n} is set by infra/ but ferry/settings.py does not read it" for n in sorted(names)
                 if n.startswith("FERRY_") and n not in settings]
    problems += [f"app setting {n} is local-only and must not be set in Azure" for n in sorted(names & local_only)]
    # the platform side: identity-based storage and Entra-authenticated telemetry, no connection strings
    bf, res = app_settings_resource(template)
    items = Resolver(template, assume).items(bf, res["body"].get("properties"))
    if assume is not None:
        problems += check_backend_settings(names, items, assume)
    if items.get("AzureWebJobsStorage__credential") != "managedidentity":
        problems.append("AzureWebJobsStorage__credential must be 'managedidentity'")
    for name in ("AzureWebJobsStorage__clientId", "AzureWebJobsStorage__blobServiceUri",
                 "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri", "AZURE_CLIENT_ID",
                 "APPLICATIONINSIGHTS_CONNECTION_STRING"):
        if name not in names:
            problems.append(f"app setting {name} is missing (identity-based connections need it)")
    if "Authorization=AAD" not in str(items.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "")):
        problems.append("APPLICATIONINSIGHTS_AUTHENTICATION_STRING must select Entra ID (Authorization=AAD)")
    for name in sorted(names):
        if name == "AzureWebJobsStorage" or name.endswith("__accountKey") or "AccountKey=" in render(items.get(name)):
            problems.append(f"app setting {name} carries a storage key or connection string")
    return problems


def check_backend_settings(names: set[str], items: dict[str, Any], assume: dict[str, Any]) -> list[str]:
    """dts: the settings of DTS_SETTINGS with exactly those values; azureStorage: none of them (host.json's
    default provider, the task hub in AzureWebJobsStorage)."""
    problems = []
    if assume.get("durableBackend") == "dts":
        for name, wanted in DTS_SETTINGS.items():
            got = items.get(name)
            got = render(got) if isinstance(got, (dict, list)) else got
            if got != wanted:
                problems.append(f"app setting {name} is {got!r}, expected {wanted!r} for the dts backend")
    else:
        problems += [f"app setting {n} is set without the dts backend" for n in sorted(set(DTS_SETTINGS) & names)]
    return problems


def tuning_defaults(template: Template) -> dict[str, Any]:
    param = template.main.section("parameters").get("ferryTuning") or {}
    return {strip_key(k): v for k, v in (param.get("default") or {}).items()}


def check_tuning_defaults(template: Template, settings: dict[str, Any]) -> list[str]:
    """ferryTuning's defaults are exactly the optional settings with a default, with the same values."""
    defaults = tuning_defaults(template)
    tunables = {n: s for n, s in settings.items() if s.default is not None and not s.local_only}
    problems = [f"ferryTuning has no default for {n} (ferry/settings.py default {s.default!r})"
                for n, s in sorted(tunables.items()) if n not in defaults]
    problems += [f"ferryTuning sets {n}, which is not a tunable setting of ferry/settings.py" for n in defaults
                 if n not in tunables]
    problems += [f"ferryTuning default {n}={defaults[n]!r} differs from ferry/settings.py's {s.default!r}"
                 for n, s in sorted(tunables.items()) if n in defaults and str(defaults[n]) != s.default]
    return problems


def ferry_resource_entry_fields(template: Template) -> set[str]:
    value = template.main.section("variables").get("ferryResourceValues")
    if value is None:
        return set()
    return Resolver(template).keys(template.main, value.get("value"))


def role_assignments(template: Template, assume: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every role assignment (of the files deployed under `assume`) with its resolved role GUIDs, scope and
    principal."""
    resolver = Resolver(template, assume)
    for bf in template.files.values():
        if not resolver.deployed(bf.rel):
            continue
        symbols = {s: (r, lp) for s, r, lp in resources(bf)}
        for symbol, res, loop in resources(bf):
            if res["type"] != "Microsoft.Authorization/roleAssignments":
                continue
            body = res["body"]
            props = body.get("properties") or {}
            loops = [loop] if loop else []
            definition = props.get("roleDefinitionId")
            guids: set[str] = set()
            if isinstance(definition, dict) and definition.get("function", {}).get("type") == \
                    "subscription_resource_id":
                params = definition["function"].get("parameters") or {}
                if params.get("resource_type") == "Microsoft.Authorization/roleDefinitions":
                    guids = resolver.strings(bf, params.get("resource_name_1"), loops)
            scope = body.get("scope")
            scope_type = symbols[scope][0]["type"] if isinstance(scope, str) and scope in symbols else None
            yield {
                "file": bf.rel, "symbol": symbol, "guids": guids, "definition": render(definition),
                "scope": render(scope) if scope is not None else None, "scope_type": scope_type,
                "principal": resolver.principal(bf, props.get("principalId"), loops),
                "principal_type": props.get("principalType"),
            }


def expected_app_grants(assume: dict[str, Any] | None) -> frozenset[tuple[str, str]]:
    """What the app identity must hold: EXPECTED_APP_GRANTS, plus the task hub role with the dts backend (without
    assumptions: both backends' grants together)."""
    if assume is not None and assume.get("durableBackend") != "dts":
        return EXPECTED_APP_GRANTS
    return EXPECTED_APP_GRANTS | {DTS_GRANT}


def check_role_assignments(template: Template, assume: dict[str, Any] | None = None) -> list[str]:
    """Known built-in roles only, each scoped to one resource of the right type, and the app identity's exact set."""
    problems = []
    app_grants = set()
    expected = expected_app_grants(assume)
    for ra in role_assignments(template, assume):
        where = f"{ra['file']}: role assignment {ra['symbol']}"
        if not ra["guids"]:
            problems.append(f"{where}: roleDefinitionId {ra['definition']} does not resolve to a literal "
                            "built-in role GUID (use subscriptionResourceId('Microsoft.Authorization/"
                            "roleDefinitions', '<guid>'))")
        if ra["scope_type"] is None:
            problems.append(f"{where}: scope {ra['scope']} is not a resource declared in the same file, so the "
                            "grant would apply to the whole resource group")
        if not ra["principal_type"]:
            problems.append(f"{where}: principalType is not set")
        for guid in sorted(ra["guids"]):
            if not GUID.match(guid) or guid not in KNOWN_ROLES:
                problems.append(f"{where}: role {guid} is not one of the built-in roles this deployment may "
                                "grant")
                continue
            role_name, scope_types = KNOWN_ROLES[guid]
            if ra["scope_type"] is not None and ra["scope_type"] not in scope_types:
                problems.append(f"{where}: {role_name} is scoped to a {ra['scope_type']}; it belongs on "
                                f"{', '.join(sorted(scope_types))}")
            if ra["principal"] == APP_IDENTITY_PRINCIPAL:
                app_grants.add((role_name, ra["scope_type"]))
                if ra["principal_type"] != "ServicePrincipal":
                    problems.append(f"{where}: the app identity's principalType must be ServicePrincipal")
    for role, scope_type in sorted(expected - app_grants):
        problems.append(f"the Function App identity is not granted {role} on a {scope_type}")
    for role, scope_type in sorted(app_grants - expected):
        problems.append(f"the Function App identity is granted {role} on a {scope_type}, which it does not need")
    return problems


SECRET_NAME_WORDS = re.compile(r"(?i)(secret|password|token|connectionstring|connection_string|keys?$|key_(?!vault))")


def check_no_secrets_out(template: Template) -> list[str]:
    """listKeys() only feeds Key Vault secret values; no output carries a key, secret or secure param."""
    problems = []
    for bf in template.files.values():
        secret_holders = {s for s, r, _ in resources(bf) if r["type"] == "Microsoft.KeyVault/vaults/secrets"}
        for section in ("resources", "modules", "variables", "outputs", "parameters"):
            for name, node in bf.section(section).items():
                for path, sub in walk(node):
                    if not is_list_call(sub):
                        continue
                    body_path = tuple(p for p in path if p not in ("config",))
                    allowed = section == "resources" and name in secret_holders and \
                        body_path[:2] == ("properties", "value")
                    if not allowed:
                        problems.append(f"{bf.rel}: {section[:-1]} {name} calls {render(sub)}; list*() may "
                                        "only feed a Key Vault secret's properties.value")
        secure = {n for n, p in bf.section("parameters").items()
                  if any(d.get("type") == "secure" for d in p.get("decorators") or [])}
        for name, out in bf.section("outputs").items():
            value = render(out.get("value"))
            if SECRET_NAME_WORDS.search(name.replace("KEY_VAULT", "VAULT").replace("KeyVault", "Vault")):
                problems.append(f"{bf.rel}: output {name} is named like a secret")
            if re.search(r"(?i)\b(key1|key2|primaryKey|secondaryKey|primaryConnectionString|listKeys)\b", value):
                problems.append(f"{bf.rel}: output {name} = {value} exposes a key")
            for p in secure:
                if re.search(rf"(?<![\w.]){re.escape(p)}\b", value):
                    problems.append(f"{bf.rel}: output {name} exposes the @secure() parameter {p}")
    return problems


def _resources_of(template: Template, rtype: str) -> list[tuple[BicepFile, str, dict]]:
    return [(bf, s, r) for bf in template.files.values() for s, r, _ in resources(bf)
            if r["type"] == rtype and not r.get("existing")]


def check_security(template: Template) -> list[str]:
    """The hardening issue #5 asks for, on every declared (not `existing`) resource of each type."""
    problems = []

    def expect(rtype: str, path: tuple[str, ...], wanted: Any, why: str) -> None:
        found = _resources_of(template, rtype)
        if not found:
            problems.append(f"no {rtype} is declared in infra/")
        for bf, symbol, res in found:
            value = get_ci(res["body"], *path)
            if isinstance(value, dict):  # an expression: compare its rendering (e.g. logAnalytics.id)
                value = render(value)
            if value != wanted:
                problems.append(f"{bf.rel}: {symbol}.{'.'.join(path)} is {value!r}, expected {wanted!r} ({why})")

    expect("Microsoft.Web/sites", ("properties", "httpsOnly"), True, "HTTPS only")
    expect("Microsoft.Web/sites", ("properties", "siteConfig", "minTlsVersion"), "1.2", "TLS 1.2 minimum")
    expect("Microsoft.Web/sites", ("properties", "siteConfig", "ftpsState"), "Disabled", "FTP disabled")
    expect("Microsoft.Web/sites", ("identity", "type"), "UserAssigned", "user-assigned managed identity")
    expect("Microsoft.Web/sites", ("kind",), "functionapp,linux", "Linux Function App")
    expect("Microsoft.Web/sites", ("properties", "functionAppConfig", "runtime", "name"), "python", "Python app")
    expect("Microsoft.Web/sites", ("properties", "functionAppConfig", "runtime", "version"), "3.11", "Python 3.11")
    expect("Microsoft.Web/serverfarms", ("sku", "name"), "FC1", "Flex Consumption plan")
    expect("Microsoft.Web/serverfarms", ("sku", "tier"), "FlexConsumption", "Flex Consumption plan")
    expect("Microsoft.Storage/storageAccounts", ("properties", "allowSharedKeyAccess"), False, "no shared keys")
    expect("Microsoft.Storage/storageAccounts", ("properties", "minimumTlsVersion"), "TLS1_2", "TLS 1.2 minimum")
    expect("Microsoft.Storage/storageAccounts", ("properties", "allowBlobPublicAccess"), False,
           "no anonymous blob access")
    expect("Microsoft.Storage/storageAccounts", ("properties", "supportsHttpsTrafficOnly"), True, "HTTPS only")
    expect("Microsoft.KeyVault/vaults", ("properties", "enableRbacAuthorization"), True, "RBAC mode")
    expect("Microsoft.KeyVault/vaults", ("properties", "enableSoftDelete"), True, "soft delete")
    expect("Microsoft.KeyVault/vaults", ("properties", "enablePurgeProtection"), True, "purge protection")
    expect("Microsoft.Insights/components", ("properties", "DisableLocalAuth"), True, "Entra-only ingestion")
    expect("Microsoft.Insights/components", ("properties", "WorkspaceResourceId"), "logAnalytics.id",
           "workspace-based Application Insights")
    expect("Microsoft.EventGrid/topics", ("properties", "disableLocalAuth"), True, "Entra-only publishing")
    expect("Microsoft.EventGrid/topics", ("properties", "minimumTlsVersionAllowed"), "1.2", "TLS 1.2 minimum")
    expect("Microsoft.CognitiveServices/accounts", ("kind",), "FormRecognizer", "Document Intelligence")
    expect("Microsoft.CognitiveServices/accounts", ("sku", "name"), "S0", "custom models need S0")
    expect("Microsoft.CognitiveServices/accounts", ("properties", "customSubDomainName"), "name",
           "a custom subdomain (needed for Entra tokens) equal to the account name")
    # FTP and basic-auth publishing off for the site
    policies = {(render(r["body"].get("parent")), r["body"].get("name")): get_ci(r["body"], "properties", "allow")
                for _, _, r in _resources_of(template, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    for _, symbol, _ in _resources_of(template, "Microsoft.Web/sites"):
        for kind in ("ftp", "scm"):
            if policies.get((symbol, kind)) is not False:
                problems.append(f"{symbol}: basic-auth {kind} publishing credentials are not disabled")
    return problems


def check_event_subscription(template: Template) -> list[str]:
    """ModelTrained events go to on_model_trained, with a retry policy and an identity-based dead-letter."""
    problems = []
    subs = _resources_of(template, "Microsoft.EventGrid/topics/eventSubscriptions")
    if not subs:
        return ["no Microsoft.EventGrid/topics/eventSubscriptions is declared"]
    for bf, symbol, res in subs:
        props = res["body"].get("properties") or {}
        dest = get_ci(props, "destination") or {}
        if dest.get("endpointType") != "AzureFunction":
            problems.append(f"{bf.rel}: {symbol} must deliver to an AzureFunction endpoint")
        target = render(get_ci(dest, "properties", "resourceId"))
        if not target.endswith("/functions/on_model_trained") or "functionApp.id" not in target:
            problems.append(f"{bf.rel}: {symbol} delivers to {target}, not ${{functionApp.id}}/functions/"
                            "on_model_trained")
        if get_ci(props, "filter", "includedEventTypes") != ["ModelTrained"]:
            problems.append(f"{bf.rel}: {symbol} must filter on the ModelTrained event type only")
        if not get_ci(props, "retryPolicy", "maxDeliveryAttempts"):
            problems.append(f"{bf.rel}: {symbol} has no retry policy")
        if get_ci(props, "deadLetterWithResourceIdentity", "identity", "type") is None:
            problems.append(f"{bf.rel}: {symbol} has no identity-based dead-letter destination")
        if get_ci(props, "deadLetterDestination") is not None:
            problems.append(f"{bf.rel}: {symbol} uses a key-based deadLetterDestination")
    return problems


# ------------------------------------------------------------------------------------------------------------
# placement: the control plane out of the source region


class PlacementRefused(Exception):
    """infra/core/placement.bicep called fail(): the deployment stops with this message."""


class Evaluator:
    """Evaluates the few Bicep expressions of small check/text modules (placement, monitoring queries) with given
    parameter values: strings with ${} holes, toLower, trim, ==, &&, !, ?:, fail(), loadTextContent, replace,
    string(). Anything else raises, so a template change the tests cannot follow is noticed."""

    def __init__(self, bf: BicepFile, params: dict[str, Any]):
        self.bf, self.params = bf, params

    def name(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in self.bf.section("variables"):
            return self.eval(self.bf.section("variables")[name]["value"])
        if name in self.bf.section("parameters"):
            raise KeyError(f"{self.bf.rel}: no value given for parameter {name!r}")
        return re.sub(r"\$\{(\w+)\}", lambda m: str(self.name(m.group(1))), name)  # a literal (maybe with holes)

    def eval(self, expr: Any) -> Any:
        if isinstance(expr, (bool, int)) or expr is None:
            return expr
        if isinstance(expr, str):
            return self.name(expr)
        if isinstance(expr, list):
            return [self.eval(v) for v in expr]
        if "function" in expr:
            fn = expr["function"]
            kind, args = fn.get("type"), [v for v in (fn.get("parameters") or {}).values() if v is not None]
            if kind == "fail":
                raise PlacementRefused(self.eval(args[0]))
            if kind == "load_text_content":
                return (self.bf.path.parent / args[0]).read_text(encoding="utf-8")
            values = [self.eval(a) for a in args]
            if kind == "to_lower":
                return values[0].lower()
            if kind == "trim":
                return values[0].strip()
            if kind == "replace":
                return values[0].replace(values[1], values[2])
            if kind == "string":
                return values[0] if isinstance(values[0], str) else json.dumps(values[0], separators=(",", ":"))
            raise NotImplementedError(f"{self.bf.rel}: function {kind}")
        if "operator" in expr:
            op = expr["operator"]
            kind, operands = op.get("type"), op.get("operands") or {}
            if kind == "conditional":
                taken = operands["true_value"] if self.eval(operands["condition"]) else operands["false_value"]
                return self.eval(taken)
            if kind == "equals":
                return self.eval(operands["operand_1"]) == self.eval(operands["operand_2"])
            if kind == "and":
                return bool(self.eval(operands["operand_1"])) and bool(self.eval(operands["operand_2"]))
            if kind == "not":
                return not self.eval(operands["bool_value"])
            raise NotImplementedError(f"{self.bf.rel}: operator {kind}")
        raise NotImplementedError(f"{self.bf.rel}: expression {render(expr)}")


def evaluate_placement(template: Template, *, source_region: str, control_region: str,
                       allow_in_source: bool) -> str:
    """The control region infra/core/placement.bicep lets through; raises PlacementRefused with its message."""
    bf = template.files["core/placement.bicep"]
    params = {"sourceRegion": source_region, "controlRegion": control_region,
              "allowControlInSourceRegion": allow_in_source}
    return Evaluator(bf, params).eval(bf.section("outputs")["controlRegion"]["value"])


CONTROL_PLANE_MODULES = ("identity", "monitoring", "storage", "keyVault", "functionApp", "durableTaskScheduler",
                         "runMonitoring")


def check_placement(template: Template) -> list[str]:
    """The control plane (and the resource group) in controlRegionName, the Event Grid topic with the source in
    sourceRegionName; every resource of a module in that module's `location` (or 'global'); and the placement
    check deployed before the resource group, so a refusal stops the deployment before anything exists."""
    problems = []
    main = template.main
    modules = main.section("modules")
    where = {}
    for symbol, mod in modules.items():
        _, _, body = unwrap(mod.get("config"))
        where[symbol] = render((body.get("params") or {}).get("location"))
    for symbol in CONTROL_PLANE_MODULES:
        if where.get(symbol) != "controlRegionName":
            problems.append(f"main.bicep: module {symbol} is placed in {where.get(symbol)}, not controlRegionName")
    if where.get("eventGrid") != "sourceRegionName":
        problems.append(f"main.bicep: the Event Grid topic is placed in {where.get('eventGrid')}, not with the "
                        "source (sourceRegionName)")
    unplaced = {s for s, loc in where.items() if loc != "None"} - set(CONTROL_PLANE_MODULES) - \
        {"eventGrid", "documentIntelligence"}
    problems += [f"main.bicep: module {s} has a location but no placement rule in tests/infra"
                 for s in sorted(unplaced)]
    (rg,) = [r for _, r, _ in resources(main) if r["type"] == "Microsoft.Resources/resourceGroups"]
    if render(rg["body"].get("location")) != "controlRegionName":
        problems.append("main.bicep: the resource group is not in controlRegionName")
    if "placement" not in (rg["body"].get("dependsOn") or []):
        problems.append("main.bicep: the resource group does not wait for the placement check (dependsOn)")
    placement_params = (unwrap(modules.get("placement", {}).get("config"))[2] or {}).get("params") or {}
    if {k: render(v) for k, v in placement_params.items()} != {
            "sourceRegion": "sourceRegionName", "controlRegion": "controlRegionName",
            "allowControlInSourceRegion": "allowControlInSourceRegion"}:
        problems.append(f"main.bicep: the placement check is not given the regions used: {render(placement_params)}")
    for bf in template.files.values():
        if bf.rel == "main.bicep":
            continue
        for symbol, res, _ in resources(bf):
            if res.get("existing") or "location" not in res["body"]:
                continue
            location = render(res["body"]["location"])
            if location not in ("location", "global"):
                problems.append(f"{bf.rel}: {symbol} is placed in {location}, not the module's location")
    return problems


# ------------------------------------------------------------------------------------------------------------
# portal monitoring: the workbook and the alert rules over the modelferry.runs records

MONITORING = "app/run-monitoring.bicep"
RECORD_FIELD = re.compile(r"\brec\['(\w+)'\]")
KIND_TEST = re.compile(r"rec\['kind'\]\)\s*(?:==\s*'(\w+)'|in\s*\(([^)]*)\))")
WORKBOOK_PARAMETERS = {"{TimeRange:grain}": "1h", "{TimeRange}": "ago(7d)"}


def monitoring_texts(template: Template, params: dict[str, Any] | None = None) -> dict[str, str]:
    """What the monitoring module deploys: the workbook's serializedData and each alert rule's query, evaluated
    from its vars (loadTextContent + replace) with the given module parameters."""
    bf = template.files[MONITORING]
    params = params or {"syncStaleAfterHours": 12, "sources": ["eastus"]}
    ev = Evaluator(bf, params)
    texts = {}
    for symbol, res, _ in resources(bf):
        if res["type"] == "Microsoft.Insights/workbooks":
            texts[symbol] = ev.eval(get_ci(res["body"], "properties", "serializedData"))
        if res["type"] == "Microsoft.Insights/scheduledQueryRules":
            (criterion,) = get_ci(res["body"], "properties", "criteria", "allOf")
            texts[symbol] = ev.eval(criterion["query"])
    return texts


def workbook_queries(serialized: str) -> dict[str, str]:
    """item name -> KQL of every query item of a workbook (type 3), workbook parameters filled in."""
    data = json.loads(serialized)
    out = {}
    for item in data.get("items") or []:
        if item.get("type") == 3:
            query = item["content"]["query"]
            for placeholder, value in WORKBOOK_PARAMETERS.items():
                query = query.replace(placeholder, value)
            out[item["name"]] = query
    return out


def all_queries(template: Template) -> dict[str, str]:
    """Every KQL query the deployment holds: 'workbook:<item>' and 'alert:<rule symbol>'."""
    texts = monitoring_texts(template)
    out = {}
    for symbol, text in texts.items():
        if text.lstrip().startswith("{"):
            out.update({f"workbook:{name}": q for name, q in workbook_queries(text).items()})
        else:
            out[f"alert:{symbol}"] = text
    return out


def kql_syntax_errors(query: str) -> list[str]:
    """Syntax errors of one KQL query, from an ANTLR grammar of the Kusto language (empty: it parses)."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from kusto_query_language_parser.parse_tools.KqlLexer import KqlLexer
    from kusto_query_language_parser.parse_tools.KqlParser import KqlParser

    class Collect(ErrorListener):
        def __init__(self) -> None:
            self.errors: list[str] = []

        def syntaxError(self, recognizer, offending, line, column, msg, e):  # ANTLR's method name
            self.errors.append(f"line {line}:{column} {msg}")

    errors = Collect()
    lexer = KqlLexer(InputStream(query))
    lexer.removeErrorListeners()
    lexer.addErrorListener(errors)
    parser = KqlParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    parser.top()
    return errors.errors


def record_fields_read(query: str) -> set[str]:
    """The record fields a query reads (every access is written rec['field'])."""
    return set(RECORD_FIELD.findall(query))


def record_kinds_read(query: str) -> set[str]:
    """The record kinds a query selects (rec['kind'] == 'x' or in ('x', 'y'))."""
    kinds = set()
    for single, several in KIND_TEST.findall(query):
        kinds |= {single} if single else set(re.findall(r"'(\w+)'", several))
    return kinds


def check_monitoring(template: Template, runs_kql: str, fields: set[str], kinds: set[str]) -> list[str]:
    """Every query starts with the shared `runs` definition, parses, reads only declared fields and kinds; each
    alert reads a kind the workbook shows, watches the workbook's component and notifies the action group."""
    problems = []
    queries = all_queries(template)
    if not any(k.startswith("workbook:") for k in queries) or not any(k.startswith("alert:") for k in queries):
        problems.append(f"expected workbook and alert queries, found {sorted(queries)}")
    workbook_kinds = set()
    for name, query in sorted(queries.items()):
        if not query.startswith(runs_kql):
            problems.append(f"{name}: does not start with the shared runs definition (infra/monitoring/runs.kql)")
        for error in kql_syntax_errors(query):
            problems.append(f"{name}: KQL syntax error {error}")
        for field_name in sorted(record_fields_read(query) - fields):
            problems.append(f"{name}: reads record field {field_name!r}, which the app does not write")
        read = record_kinds_read(query)
        if not read:
            problems.append(f"{name}: selects no record kind")
        for kind in sorted(read - kinds):
            problems.append(f"{name}: selects record kind {kind!r}, which the app does not write")
        if name.startswith("workbook:"):
            workbook_kinds |= read
    for name, query in sorted(queries.items()):
        if name.startswith("alert:") and not record_kinds_read(query) <= workbook_kinds:
            problems.append(f"{name}: alerts on records the workbook does not show")
    bf = template.files[MONITORING]
    symbols = {s: r for s, r, _ in resources(bf)}
    (workbook,) = [s for s, r in symbols.items() if r["type"] == "Microsoft.Insights/workbooks"]
    action_groups = [s for s, r in symbols.items() if r["type"] == "Microsoft.Insights/actionGroups"]
    if len(action_groups) != 1:
        return [*problems, f"{MONITORING}: expected one action group, found {action_groups}"]
    source = render(get_ci(symbols[workbook]["body"], "properties", "sourceId"))
    receivers = render(get_ci(symbols[action_groups[0]]["body"], "properties", "emailReceivers"))
    if receivers != "emailReceivers" or \
            "emailAddress: alertEmail" not in render(bf.section("variables")["emailReceivers"]["value"]):
        problems.append(f"{MONITORING}: the action group's e-mail receiver is not the alertEmail parameter")
    for symbol, res in symbols.items():
        if res["type"] != "Microsoft.Insights/scheduledQueryRules":
            continue
        props = res["body"].get("properties") or {}
        if [render(s) for s in props.get("scopes") or []] != [source]:
            problems.append(f"{MONITORING}: {symbol} watches {render(props.get('scopes'))}, not the workbook's "
                            f"{source}")
        groups = [render(g) for g in get_ci(props, "actions", "actionGroups") or []]
        if groups != [f"{action_groups[0]}.id"]:
            problems.append(f"{MONITORING}: {symbol} notifies {groups}, not the action group")
    return problems
