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


def module_calls(template: Template, rel: str) -> list[tuple[BicepFile, str, dict, dict | None]]:
    """(calling file, module symbol, params, loop) for every module declaration that deploys file `rel`."""
    calls = []
    for caller in template.files.values():
        caller_dir = caller.path.parent
        for symbol, mod in caller.section("modules").items():
            target = (caller_dir / str(mod.get("detail", {}).get("path", ""))).resolve()
            if target == (template.root / rel).resolve():
                loop, _, body = unwrap(mod.get("config"))
                calls.append((caller, symbol, (body or {}).get("params") or {}, loop))
    return calls


# ------------------------------------------------------------------------------------------------------------
# the resolver: possible object keys / possible literal strings of an expression


class Resolver:
    """Follows identifiers through vars, loop items, params and module call sites (no evaluation)."""

    def __init__(self, template: Template):
        self.t = template

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
        calls = module_calls(self.t, bf.rel)
        for caller, _symbol, params, loop in calls:
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
                    operands = op.get("operands", {})
                    return self.keys(bf, operands.get("true_value"), loops) | \
                        self.keys(bf, operands.get("false_value"), loops)
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


def app_setting_names(template: Template) -> set[str]:
    bf, res = app_settings_resource(template)
    return Resolver(template).keys(bf, res["body"].get("properties"))


def check_app_settings(template: Template, settings: dict[str, Any]) -> list[str]:
    """The app settings are exactly what ferry.settings reads (minus local-only ones), plus the platform's."""
    names = app_setting_names(template)
    wanted = {n for n, s in settings.items() if not s.local_only}
    local_only = {n for n, s in settings.items() if s.local_only}
    problems = [f"app setting {n} (read by ferry/settings.py) is not set by infra/" for n in sorted(wanted - names)]
    problems += [f"app setting {n} is set by infra/ but ferry/settings.py does not read it" for n in sorted(names)
                 if n.startswith("FERRY_") and n not in settings]
    problems += [f"app setting {n} is local-only and must not be set in Azure" for n in sorted(names & local_only)]
    # the platform side: identity-based storage and Entra-authenticated telemetry, no connection strings
    bf, res = app_settings_resource(template)
    items = Resolver(template).items(bf, res["body"].get("properties"))
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


def role_assignments(template: Template) -> Iterator[dict[str, Any]]:
    """Every role assignment with its resolved role GUIDs, scope and principal."""
    resolver = Resolver(template)
    for bf in template.files.values():
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


def check_role_assignments(template: Template) -> list[str]:
    """Known built-in roles only, each scoped to one resource of the right type, and the app identity's exact set."""
    problems = []
    app_grants = set()
    for ra in role_assignments(template):
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
    for role, scope_type in sorted(EXPECTED_APP_GRANTS - app_grants):
        problems.append(f"the Function App identity is not granted {role} on a {scope_type}")
    for role, scope_type in sorted(app_grants - EXPECTED_APP_GRANTS):
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
