"""Which URL is which operation, per API generation, on the real paths (docs/service-facts.md).

Matching is case-insensitive on the fixed parts (the service answers ``copyResults`` and ``copyresults``);
captured ids keep their case. A path no API knows, or an api-version it does not serve, raises the
gateway's 404 (strict by default, with a detail header naming what did not match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import errors
from .versions import BY_PATH_VERSION, BY_QUERY, ApiVersion

# operation → (rate-limit group, APIM operation name used in 429 texts and apim-operation-name).
# "Manage - Copy model", "Operations - Get operation" and "Manage - Get model" are real (429 recording);
# the other names follow the same pattern (inferred).
OPERATIONS: dict[str, tuple[str, str]] = {
    "train": ("manage", "Manage - Train model"),
    "compose": ("manage", "Manage - Compose model"),
    "build": ("manage", "Manage - Build model"),
    "authorizeCopy": ("manage", "Manage - Authorize copy model"),
    "copy": ("manage", "Manage - Copy model"),
    "deleteModel": ("manage", "Manage - Delete model"),
    "getModel": ("get", "Manage - Get model"),
    "getCopyResult": ("get", "Manage - Get copy model result"),
    "getOperation": ("get", "Operations - Get operation"),
    "getInfo": ("get", "Manage - Get info"),
    "listModels": ("list", "Manage - List models"),
    "listOperations": ("list", "Operations - List operations"),
    # classifier management counts as model management (inferred names, same pattern)
    "buildClassifier": ("manage", "Manage - Build classifier"),
    "authorizeClassifierCopy": ("manage", "Manage - Authorize copy classifier"),
    "copyClassifier": ("manage", "Manage - Copy classifier"),
    "deleteClassifier": ("manage", "Manage - Delete classifier"),
    "getClassifier": ("get", "Manage - Get classifier"),
    "listClassifiers": ("list", "Manage - List classifiers"),
}
CLASSIFIER_COPY_OPERATIONS = {"authorizeClassifierCopy", "copyClassifier"}  # 2024-11-30 only
CLASSIFIER_OPERATIONS = {"buildClassifier", "deleteClassifier", "getClassifier", "listClassifiers",
                         *CLASSIFIER_COPY_OPERATIONS}  # 2023-07-31 and 2024-11-30

_ID = r"(?P<model_id>[^/:]+)"
_CID = r"(?P<classifier_id>[^/:]+)"
V2_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/custom/models", "train"),
    ("GET", r"/custom/models", "listModels"),
    ("POST", r"/custom/models/copyAuthorization", "authorizeCopy"),
    ("POST", r"/custom/models/compose", "compose"),
    ("GET", rf"/custom/models/{_ID}", "getModel"),
    ("DELETE", rf"/custom/models/{_ID}", "deleteModel"),
    ("POST", rf"/custom/models/{_ID}/copy", "copy"),
    ("GET", rf"/custom/models/{_ID}/copyResults/(?P<result_id>[^/]+)", "getCopyResult"),
]
V3_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/documentModels:build", "build"),
    ("POST", r"/documentModels:compose", "compose"),
    ("POST", r"/documentModels:authorizeCopy", "authorizeCopy"),
    ("POST", rf"/documentModels/{_ID}:copyTo", "copy"),
    ("GET", r"/documentModels", "listModels"),
    ("GET", rf"/documentModels/{_ID}", "getModel"),
    ("DELETE", rf"/documentModels/{_ID}", "deleteModel"),
    ("GET", r"/operations", "listOperations"),
    ("GET", r"/operations/(?P<op_id>[^/]+)", "getOperation"),
    ("GET", r"/info", "getInfo"),
    ("POST", r"/documentClassifiers:build", "buildClassifier"),
    ("POST", r"/documentClassifiers:authorizeCopy", "authorizeClassifierCopy"),
    ("POST", rf"/documentClassifiers/{_CID}:copyTo", "copyClassifier"),
    ("GET", r"/documentClassifiers", "listClassifiers"),
    ("GET", rf"/documentClassifiers/{_CID}", "getClassifier"),
    ("DELETE", rf"/documentClassifiers/{_CID}", "deleteClassifier"),
]
_V2 = [(m, re.compile(p + r"/?$", re.IGNORECASE), op) for m, p, op in V2_ROUTES]
_V3 = [(m, re.compile(p + r"/?$", re.IGNORECASE), op) for m, p, op in V3_ROUTES]
_V2_PREFIX = re.compile(r"^/formrecognizer/(v2\.[01])(/.*)$", re.IGNORECASE)
_V3_PREFIX = re.compile(r"^(/formrecognizer|/documentintelligence)(/.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    operation: str
    api: ApiVersion
    params: dict[str, str]

    @property
    def group(self) -> str:
        return OPERATIONS[self.operation][0]

    @property
    def apim_name(self) -> str:
        return OPERATIONS[self.operation][1]


def _find(table: list[tuple[str, re.Pattern[str], str]], method: str, rest: str) -> tuple[str, dict[str, str]] | None:
    for route_method, pattern, op in table:
        found = pattern.match(rest)
        if found and route_method == method:
            return op, found.groupdict()
    return None


def match(method: str, path: str, query: dict[str, list[str]]) -> Match:
    """Resolve a request to an operation or raise the gateway's 404."""
    v2 = _V2_PREFIX.match(path)
    if v2:
        api = BY_PATH_VERSION[v2.group(1).lower()]
        found = _find(_V2, method, v2.group(2))
        if found is None or (found[0] == "compose" and api.version == "v2.0"):
            raise errors.route_not_found(f"no {api.version} operation for {method} {path}")
        op, params = found
        if op == "listModels" and query.get("op", ["full"])[0].lower() == "summary":
            op = "getInfo"
        return Match(op, api, params)
    v3 = _V3_PREFIX.match(path)
    if v3:
        prefix = v3.group(1).lower()
        versions = BY_QUERY[prefix]
        found = _find(_V3, method, v3.group(2))
        if found is None:
            raise errors.route_not_found(f"no operation for {method} {path}")
        requested = query.get("api-version", [None])[0]
        api = versions.get(requested or "")
        if api is None:
            raise errors.unsupported_api_version(requested, prefix, sorted(versions))
        if found[0] in CLASSIFIER_OPERATIONS and not api.has_classifiers:
            raise errors.route_not_found(f"no classifiers in api-version {api.version}: {method} {path}")
        if found[0] in CLASSIFIER_COPY_OPERATIONS and not api.has_classifier_copy:
            raise errors.route_not_found(f"no classifier copy in api-version {api.version}: {method} {path}")
        return Match(found[0], api, found[1])
    raise errors.route_not_found(f"{path} is not a Form Recognizer / Document Intelligence path "
                                 "(/formrecognizer/v2.0|v2.1/..., /formrecognizer/..., /documentintelligence/...)")
