"""Offline checks of azure.yaml and infra/*.bicep (issue #5), each also run on a broken copy to prove it bites."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import infra_checks as ic
import pytest

from ferry import settings as ferry_settings
from ferry.settings import SETTINGS

# ------------------------------------------------------------------------------------------------------------
# the real templates


def test_every_bicep_file_parses(template: ic.Template) -> None:
    expected = {"main.bicep", "app/identity.bicep", "app/function.bicep", "app/eventgrid.bicep",
                "app/document-intelligence.bicep", "app/document-intelligence-access.bicep",
                "app/document-intelligence-key.bicep", "core/monitoring.bicep", "core/storage.bicep",
                "core/keyvault.bicep", "core/placement.bicep", "app/durable-task-scheduler.bicep",
                "app/run-monitoring.bicep"}
    assert set(template.files) == expected
    assert template.main.doc["globals"]["scope"]["value"] == "subscription"
    assert any(r["type"] == "Microsoft.Resources/resourceGroups" for _, r, _ in ic.resources(template.main))


def test_every_parameter_is_used(template: ic.Template) -> None:
    assert ic.check_parameters_used(template) == []


def test_module_calls_match_module_parameters(template: ic.Template) -> None:
    assert ic.check_module_calls(template) == []


def test_main_parameters_file_maps_azd_variables(template: ic.Template) -> None:
    assert ic.check_parameters_file(template) == []
    mapped = json.loads((ic.INFRA / "main.parameters.json").read_text())["parameters"]
    # a pure mapping of azd variables: every value is one ${VAR} or ${VAR=default}
    for name, entry in mapped.items():
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}", entry["value"]), name
    assert mapped["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert mapped["location"]["value"] == "${AZURE_LOCATION}"
    assert mapped["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    assert mapped["controlRegion"]["value"] == "${MODELFERRY_CONTROL_REGION}"
    assert mapped["allowControlInSourceRegion"]["value"] == "${MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION=false}"
    assert mapped["durableBackend"]["value"] == "${MODELFERRY_DURABLE_BACKEND=azureStorage}"
    assert mapped["alertEmail"]["value"] == "${MODELFERRY_ALERT_EMAIL}"
    backend = template.main.section("parameters")["durableBackend"]
    assert next(d["argument"] for d in backend["decorators"] if d["type"] == "allowed") == ["azureStorage", "dts"]
    assert backend["default"] == "azureStorage"


@pytest.mark.parametrize("variant", sorted(ic.VARIANTS))
def test_app_settings_are_exactly_what_ferry_reads(template: ic.Template, variant: str) -> None:
    assume = ic.VARIANTS[variant]
    assert ic.check_app_settings(template, SETTINGS, assume) == []
    names = ic.app_setting_names(template, assume)
    # the comparison is with the live registry, so a setting added to ferry/settings.py shows up here
    assert {n for n, s in SETTINGS.items() if not s.local_only} <= names
    assert "FERRY_KEY_VAULT_CA_BUNDLE" not in names
    # the backend is chosen by app settings alone (host.json serves both); the host keeps AzureWebJobsStorage
    assert (set(ic.DTS_SETTINGS) <= names) == (assume["durableBackend"] == "dts")
    assert not set(ic.DTS_SETTINGS) & names or assume["durableBackend"] == "dts"
    assert "AzureWebJobsStorage__blobServiceUri" in names


def test_host_json_serves_both_backends() -> None:
    """The azureManaged provider needs extension bundle 4.32.0 or later; host.json names no storage provider (the
    dts settings override it) and keeps the records the alerts count out of sampling."""
    host = json.loads((ic.REPO / "host.json").read_text())
    bundle = host["extensionBundle"]["version"]
    low = re.fullmatch(r"\[(\d+)\.(\d+)\.(\d+), 5\.0\.0\)", bundle)
    assert low and tuple(map(int, low.groups())) >= (4, 32, 0), bundle
    assert "storageProvider" not in host["extensions"]["durableTask"]
    assert "Trace" in host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";")


def test_tuning_defaults_equal_the_settings_module(template: ic.Template) -> None:
    assert ic.check_tuning_defaults(template, SETTINGS) == []


def test_ferry_resources_entries_have_the_fields_ferry_expects(template: ic.Template) -> None:
    fields = ic.ferry_resource_entry_fields(template)
    assert set(ferry_settings.REQUIRED_RESOURCE_FIELDS) <= fields <= set(ferry_settings.RESOURCE_FIELDS)
    api = template.main.section("parameters")["documentIntelligenceApiVersion"]
    allowed = next(d["argument"] for d in api["decorators"] if d["type"] == "allowed")
    assert tuple(allowed) == ferry_settings.API_VERSIONS and api["default"] == "2024-11-30"


def test_created_and_existing_accounts_have_the_same_shape(template: ic.Template) -> None:
    """Both account lists feed the same loops (roles, keys, FERRY_RESOURCES), so they must carry the same fields."""
    variables = template.main.section("variables")
    created = set(ic.unwrap(variables["createdAccounts"]["value"])[2])
    existing = set(ic.unwrap(variables["existingAccounts"]["value"])[2])
    assert created == existing == {"alias", "name", "region", "subscriptionId", "resourceGroupName", "resourceId",
                                   "endpoint"}


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Evaluate a Bicep interpolated string whose holes are names or dotted names found in `env`."""
    return re.sub(r"\$\{([\w.]+)\}", lambda m: env[m.group(1)], text)


@pytest.mark.parametrize("region", ["westus2", "westeurope", "germanywestcentral", "australiacentral2"])
def test_created_accounts_produce_settings_ferry_accepts(template: ic.Template, region: str) -> None:
    """The names/endpoints main.bicep derives for a created account pass ferry/settings.py's validation."""
    abbrs = json.loads((ic.INFRA / "abbreviations.json").read_text())
    env = {f"abbrs.{k}": v for k, v in abbrs.items()} | {"resourceToken": "a" * 13, "region": region}
    created = template.main.section("variables")["createdAccounts"]
    body = ic.unwrap(created["value"])[2]
    name = _interpolate(body["name"], env)
    endpoint = _interpolate(body["endpoint"], env)
    assert endpoint == f"https://{name}.cognitiveservices.azure.com/"
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]", name), name  # custom subdomain rules
    ferry_resources = {region: {"endpoint": endpoint, "region": region, "apiVersion": "2024-11-30",
                                "resourceId": f"/subscriptions/0000/resourceGroups/rg-dev/providers/"
                                              f"Microsoft.CognitiveServices/accounts/{name}",
                                "keySecretName": f"docintel-{region}-key", "cmk": False}}
    parsed = ferry_settings.parse({"FERRY_RESOURCES": json.dumps(ferry_resources),
                                   "FERRY_KEY_VAULT_URI": "https://kv-x.vault.azure.net/"})
    assert parsed.resource(region).endpoint == endpoint.rstrip("/")
    # and the other globally-unique names fit their services' length limits
    for key, limit in (("storageStorageAccounts", 24), ("keyVaultVaults", 24), ("webSitesFunctions", 60)):
        assert len(abbrs[key] + env["resourceToken"]) <= limit


@pytest.mark.parametrize("variant", sorted(ic.VARIANTS))
def test_role_assignments_use_verified_roles_on_single_resources(template: ic.Template, variant: str) -> None:
    assume = ic.VARIANTS[variant]
    assert ic.check_role_assignments(template, assume) == []
    grants = {(ic.KNOWN_ROLES[g][0], ra["scope_type"]) for ra in ic.role_assignments(template, assume)
              if ra["principal"] == ic.APP_IDENTITY_PRINCIPAL for g in ra["guids"]}
    dts = {ic.DTS_GRANT} if assume["durableBackend"] == "dts" else set()
    assert grants == ic.EXPECTED_APP_GRANTS | dts


def test_no_key_or_secret_leaves_the_deployment(template: ic.Template) -> None:
    assert ic.check_no_secrets_out(template) == []
    key_module = template.files["app/document-intelligence-key.bicep"]
    assert "listKeys(" in key_module.text  # the one place a key is read, straight into a secret


def test_security_settings_hold(template: ic.Template) -> None:
    assert ic.check_security(template) == []


def test_event_subscription_targets_on_model_trained(template: ic.Template) -> None:
    assert ic.check_event_subscription(template) == []


def test_azure_yaml_deploys_the_root_as_a_python_function_app() -> None:
    text = (ic.REPO / "azure.yaml").read_text()
    assert re.search(r"(?m)^name: modelferry$", text)
    assert re.search(r"(?m)^  api:\n    project: \.\n    language: python\n    host: function$", text)
    hooks = re.findall(r"run: (\./\S+)", text)
    assert len(hooks) == 6
    for hook in hooks:
        assert (ic.REPO / hook).is_file(), hook
    posix = (ic.INFRA / "hooks" / "postdeploy.sh").read_text()
    assert "azd env set MODELFERRY_CREATE_EVENT_SUBSCRIPTION true" in posix and "azd provision" in posix
    mapped = json.loads((ic.INFRA / "main.parameters.json").read_text())["parameters"]
    assert mapped["createEventSubscription"]["value"] == "${MODELFERRY_CREATE_EVENT_SUBSCRIPTION=false}"
    # infra/ is not part of the Function App package
    assert "infra/" in (ic.REPO / ".funcignore").read_text().split()


# ------------------------------------------------------------------------------------------------------------
# broken copies: each check must report the break


def test_unused_parameter_is_reported(mutate) -> None:
    broken = mutate(("core/monitoring.bicep", "param principalId string",
                     "param principalId string\n\nparam forgottenKnob string = 'x'"))
    assert ic.check_parameters_used(broken) == ["core/monitoring.bicep: parameter 'forgottenKnob' is declared "
                                                "but never used"]


def test_missing_module_parameter_is_reported(mutate) -> None:
    broken = mutate(("main.bicep", "    operatorPrincipalId: principalId\n", ""))
    assert any("operatorPrincipalId" in p for p in ic.check_module_calls(broken))


@pytest.mark.parametrize(("edit", "expected"), [
    (("main.bicep", "      FERRY_KEY_VAULT_URI: keyVault.outputs.uri\n", ""),
     "app setting FERRY_KEY_VAULT_URI (read by ferry/settings.py) is not set by infra/"),
    (("main.bicep", "  FERRY_KEY_CACHE_SECONDS: '300'\n", ""),
     "app setting FERRY_KEY_CACHE_SECONDS (read by ferry/settings.py) is not set by infra/"),
    (("main.bicep", "      FERRY_TARGETS: ferryTargets\n",
      "      FERRY_TARGETS: ferryTargets\n      FERRY_TARGET: 'x'\n"),
     "app setting FERRY_TARGET is set by infra/ but ferry/settings.py does not read it"),
    (("main.bicep", "      FERRY_SOURCE: ferrySource\n",
      "      FERRY_SOURCE: ferrySource\n      FERRY_KEY_VAULT_CA_BUNDLE: '/tmp/ca.pem'\n"),
     "app setting FERRY_KEY_VAULT_CA_BUNDLE is local-only and must not be set in Azure"),
    (("app/function.bicep", "AzureWebJobsStorage__credential: 'managedidentity'",
      "AzureWebJobsStorage__credential: 'connectionstring'"),
     "AzureWebJobsStorage__credential must be 'managedidentity'"),
    (("app/function.bicep", "'ClientId=${identityClientId};Authorization=AAD'", "'ClientId=${identityClientId}'"),
     "APPLICATIONINSIGHTS_AUTHENTICATION_STRING must select Entra ID (Authorization=AAD)"),
])
def test_app_settings_drift_is_reported(mutate, edit, expected) -> None:
    assert expected in ic.check_app_settings(mutate(edit), SETTINGS)


def test_tuning_default_drift_is_reported(mutate) -> None:
    broken = mutate(("main.bicep", "FERRY_COPY_DEADLINE_SECONDS: '3600'", "FERRY_COPY_DEADLINE_SECONDS: '60'"))
    assert "ferryTuning default FERRY_COPY_DEADLINE_SECONDS='60' differs from ferry/settings.py's '3600'" in \
        ic.check_tuning_defaults(broken, SETTINGS)


@pytest.mark.parametrize(("edit", "expected"), [
    # Key Vault Administrator instead of Secrets User: unknown (broader) role, and the app loses Secrets User
    (("core/keyvault.bicep", "var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'",
      "var keyVaultSecretsUserRoleId = '00482a5a-887f-4fb3-b363-3b7fe8e74483'"),
     "core/keyvault.bicep: role assignment appSecretsUser: role 00482a5a-887f-4fb3-b363-3b7fe8e74483 is not one "
     "of the built-in roles this deployment may grant"),
    # a typo in a GUID
    (("core/storage.bicep", "'974c5e8b-45b9-4653-ba55-5f855dd0fb88'", "'974c5e8b-45b9-4653-ba55-5f855dd0fb89'"),
     "the Function App identity is not granted Storage Queue Data Contributor on a Microsoft.Storage/storageAccounts"),
    # no scope: the grant would land on the whole resource group
    (("app/document-intelligence-access.bicep", "  scope: account\n", ""),
     "app/document-intelligence-access.bicep: role assignment cognitiveServicesUser: scope None is not a resource "
     "declared in the same file, so the grant would apply to the whole resource group"),
    # a real role on the wrong kind of resource
    (("app/document-intelligence-access.bicep",
      "var cognitiveServicesUserRoleId = 'a97b65f3-24c7-4388-baec-2e87135dc908'",
      "var cognitiveServicesUserRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'"),
     "app/document-intelligence-access.bicep: role assignment cognitiveServicesUser: Storage Blob Data Owner is "
     "scoped to a Microsoft.CognitiveServices/accounts; it belongs on Microsoft.Storage/storageAccounts"),
    # the app identity granted more than it needs
    (("core/keyvault.bicep", "    principalId: operatorPrincipalId\n",
      "    principalId: appPrincipalId\n"),
     "the Function App identity is granted Key Vault Secrets Officer on a Microsoft.KeyVault/vaults, which it "
     "does not need"),
])
def test_role_mistakes_are_reported(mutate, edit, expected) -> None:
    assert expected in ic.check_role_assignments(mutate(edit))


@pytest.mark.parametrize(("edit", "expected_part"), [
    (("app/document-intelligence-key.bicep", "param activeKey string\n",
      "param activeKey string\n\noutput leaked string = listKeys(accountId, '2024-10-01').key1\n"),
     "output leaked calls"),
    (("app/document-intelligence-key.bicep", "param activeKey string\n",
      "param activeKey string\n\noutput primaryKey string = activeKey\n"),
     "output primaryKey is named like a secret"),
    (("app/document-intelligence.bicep", "    customSubDomainName: name\n",
      "    customSubDomainName: name\n    apiProperties: {\n"
      "      k: listKeys(resourceId('x/y', name), '2024-10-01').key1\n    }\n"),
     "resource account calls list_func"),
    (("app/identity.bicep", "output clientId string = identity.properties.clientId",
      "output clientId string = identity.properties.clientId\n\n@secure()\nparam pw string\n\n"
      "output pwOut string = pw"),
     "output pwOut exposes the @secure() parameter pw"),
])
def test_secret_leaks_are_reported(mutate, edit, expected_part) -> None:
    problems = ic.check_no_secrets_out(mutate(edit))
    assert any(expected_part in p for p in problems), problems


@pytest.mark.parametrize(("edit", "expected_part"), [
    (("app/function.bicep", "httpsOnly: true", "httpsOnly: false"), "properties.httpsOnly is False"),
    (("app/function.bicep", "      minTlsVersion: '1.2'", "      minTlsVersion: '1.0'"), "minTlsVersion is '1.0'"),
    (("app/function.bicep", "ftpsState: 'Disabled'", "ftpsState: 'AllAllowed'"), "ftpsState is 'AllAllowed'"),
    (("app/function.bicep", "  name: 'ftp'\n  properties: {\n    allow: false",
      "  name: 'ftp'\n  properties: {\n    allow: true"),
     "basic-auth ftp publishing credentials are not disabled"),
    (("core/storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true"),
     "allowSharedKeyAccess is True"),
    (("core/storage.bicep", "minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"),
     "minimumTlsVersion is 'TLS1_0'"),
    (("core/storage.bicep", "allowBlobPublicAccess: false", "allowBlobPublicAccess: true"),
     "allowBlobPublicAccess is True"),
    (("core/keyvault.bicep", "enableRbacAuthorization: true", "enableRbacAuthorization: false"),
     "enableRbacAuthorization is False"),
    (("core/keyvault.bicep", "enablePurgeProtection: true\n", ""), "enablePurgeProtection is None"),
    (("core/monitoring.bicep", "DisableLocalAuth: true", "DisableLocalAuth: false"), "DisableLocalAuth is False"),
    (("app/eventgrid.bicep", "disableLocalAuth: true", "disableLocalAuth: false"), "disableLocalAuth is False"),
    (("app/function.bicep", "name: 'FC1'", "name: 'Y1'"), "sku.name is 'Y1'"),
    (("app/function.bicep", "version: '3.11'", "version: '3.10'"), "version is '3.10'"),
])
def test_security_regressions_are_reported(mutate, edit, expected_part) -> None:
    problems = ic.check_security(mutate(edit))
    assert any(expected_part in p for p in problems), problems


@pytest.mark.parametrize(("edit", "expected_part"), [
    (("app/eventgrid.bicep", "/functions/on_model_trained'", "/functions/start_copy'"), "not ${functionApp.id}"),
    (("app/eventgrid.bicep", "        'ModelTrained'\n", "        'ModelBuilt'\n"), "filter on the ModelTrained"),
    (("app/eventgrid.bicep", "    retryPolicy: {", "    retryPolicyX: {"), "has no retry policy"),
    (("app/eventgrid.bicep", "deadLetterWithResourceIdentity: {", "deadLetterDestinationX: {"),
     "no identity-based dead-letter"),
])
def test_event_subscription_mistakes_are_reported(mutate, edit, expected_part) -> None:
    problems = ic.check_event_subscription(mutate(edit))
    assert any(expected_part in p for p in problems), problems


# ------------------------------------------------------------------------------------------------------------
# the templates and the docs name functions that the app really registers


@pytest.fixture(scope="module")
def app_functions() -> dict[str, set[str]]:
    """Function name -> binding types, from the composition root (function_app.app)."""
    import importlib.util

    # Load the repository's function_app.py freshly: other tests (devhost sample apps, the e2e host) may have left
    # another or an already-indexed `function_app` in sys.modules, and an app can be indexed only once.
    spec = importlib.util.spec_from_file_location("_infra_function_app",
                                                  Path(__file__).resolve().parents[2] / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {f.get_function_name(): {b.type for b in f.get_bindings()} for f in module.app.get_functions()}


def test_event_subscription_delivers_to_the_event_grid_trigger(template: ic.Template, app_functions) -> None:
    (res,) = [r for b in template.files.values() for _, r, _ in ic.resources(b)
              if r["type"] == "Microsoft.EventGrid/topics/eventSubscriptions"]
    target = ic.render(ic.get_ci(res["body"], "properties", "destination", "properties", "resourceId"))
    function_name = target.rsplit("/functions/", 1)[1]
    assert "eventGridTrigger" in app_functions[function_name]


def test_docs_queries_name_registered_functions(app_functions) -> None:
    doc = (ic.REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```kusto\n(.*?)```", doc, flags=re.S)
    assert len(blocks) >= 4
    named = {n for block in blocks for n in re.findall(r'"([a-z]+(?:_[a-z]+)+)"', block)}
    assert {"copy_model", "copy_model_to_target", "poll_copy"} <= named
    assert named <= set(app_functions), named - set(app_functions)
    assert "start_copy" in app_functions and "/api/copies" in doc


# ------------------------------------------------------------------------------------------------------------
# placement: the control plane out of the source region (both placements), refused unless asked for


def test_control_plane_and_topic_are_placed_by_region_role(template: ic.Template) -> None:
    assert ic.check_placement(template) == []
    variables = template.main.section("variables")
    # default control region: the second account (the first target), else the azd location
    assert ic.render(variables["defaultControlRegion"]["value"]) == \
        "conditional(greater_than(length(accountRegions), 1), accountRegions[1], to_lower(location))"
    assert ic.render(variables["controlRegionName"]["value"]) == \
        "conditional(empty(controlRegion), defaultControlRegion, to_lower(trim(controlRegion)))"


@pytest.mark.parametrize(("source", "control", "allow", "expected"), [
    ("eastus", "westeurope", False, "westeurope"),           # control plane elsewhere: the default case
    ("eastus", "westeurope", True, "westeurope"),
    ("eastus", "eastus", True, "eastus"),                    # in the source region, asked for explicitly
    ("eastus", "EastUS", False, None),                       # refused, whatever the spelling
    ("eastus", "eastus", False, None),
])
def test_placement_check_refuses_the_source_region_unless_asked(template: ic.Template, source, control, allow,
                                                                expected) -> None:
    if expected is None:
        with pytest.raises(ic.PlacementRefused) as refused:
            ic.evaluate_placement(template, source_region=source, control_region=control, allow_in_source=allow)
        message = str(refused.value)
        assert f"control region ({control}) is the source region" in message
        assert "MODELFERRY_CONTROL_REGION" in message and "MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION=true" in message
        assert "go down together with the source" in message  # says why
    else:
        assert ic.evaluate_placement(template, source_region=source, control_region=control,
                                     allow_in_source=allow) == expected


def _preprovision(env: dict[str, str]) -> subprocess.CompletedProcess:
    hook = ic.INFRA / "hooks" / "preprovision.sh"
    return subprocess.run(["sh", str(hook)], env={"PATH": os.environ["PATH"], **env}, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize(("env", "control"), [
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_TARGET_REGIONS": "westeurope, japaneast"}, "westeurope"),
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_SOURCE_REGION": "westus2", "MODELFERRY_TARGET_REGIONS": "eastus"},
     "eastus"),
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_TARGET_REGIONS": "westeurope",
      "MODELFERRY_CONTROL_REGION": "northeurope"}, "northeurope"),
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION": "true"}, "eastus"),
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_DURABLE_BACKEND": "dts",
      "MODELFERRY_TARGET_REGIONS": "westeurope"}, "westeurope"),
])
def test_preprovision_hook_lets_a_separate_control_region_through(env, control) -> None:
    done = _preprovision(env)
    assert done.returncode == 0, done.stderr
    assert f"control plane in {control}," in done.stdout


@pytest.mark.parametrize(("env", "expected"), [
    ({"AZURE_LOCATION": "eastus"}, "the control region (eastus) is the source region"),   # no target at all
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_TARGET_REGIONS": "westeurope", "MODELFERRY_CONTROL_REGION": "EastUS"},
     "the control region (eastus) is the source region"),
    ({"AZURE_LOCATION": "eastus", "MODELFERRY_TARGET_REGIONS": "westeurope", "MODELFERRY_DURABLE_BACKEND": "DTS"},
     "MODELFERRY_DURABLE_BACKEND is 'DTS'"),
])
def test_preprovision_hook_refuses_with_the_reason(env, expected) -> None:
    done = _preprovision(env)
    assert done.returncode == 1
    assert expected in done.stderr
    powershell = (ic.INFRA / "hooks" / "preprovision.ps1").read_text()
    assert "MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION=true" in powershell and "-cne 'dts'" in powershell


@pytest.mark.parametrize(("edit", "expected_part"), [
    (("main.bicep", "    location: sourceRegionName\n", "    location: controlRegionName\n"),
     "the Event Grid topic is placed in controlRegionName"),
    (("main.bicep", "  dependsOn: [\n    placement\n  ]\n", ""), "does not wait for the placement check"),
    (("app/durable-task-scheduler.bicep", "  location: location\n", "  location: 'eastus'\n"),
     "scheduler is placed in eastus"),
    (("main.bicep", "    allowControlInSourceRegion: allowControlInSourceRegion\n",
      "    allowControlInSourceRegion: true\n"), "the placement check is not given the regions used"),
])
def test_placement_mistakes_are_reported(mutate, edit, expected_part) -> None:
    problems = ic.check_placement(mutate(edit))
    assert any(expected_part in p for p in problems), problems


def test_a_control_plane_module_left_in_the_azd_location_is_reported(mutate) -> None:
    text = (ic.INFRA / "main.bicep").read_text()
    block = text[text.index("module keyVault"):]
    old = block[:block.index("    location: controlRegionName\n") + len("    location: controlRegionName\n")]
    broken = mutate(("main.bicep", old, old.replace("location: controlRegionName", "location: location")))
    assert "main.bicep: module keyVault is placed in location, not controlRegionName" in ic.check_placement(broken)


# ------------------------------------------------------------------------------------------------------------
# the Durable Task Scheduler backend: its role and settings, checked to bite


@pytest.mark.parametrize(("edit", "expected"), [
    (("app/durable-task-scheduler.bicep", "  scope: taskHub\n", "  scope: scheduler\n"),
     "app/durable-task-scheduler.bicep: role assignment appTaskHubAccess: Durable Task Data Contributor is scoped "
     "to a Microsoft.DurableTask/schedulers; it belongs on Microsoft.DurableTask/schedulers/taskHubs"),
    # Durable Task Worker instead: not a role this deployment grants, and the app loses its task hub role
    (("app/durable-task-scheduler.bicep", "'0ad04412-c4d5-4796-b79c-f76d14c8d402'",
      "'80d0d6b0-f522-40a4-8886-a5a11720c375'"),
     "the Function App identity is not granted Durable Task Data Contributor on a "
     "Microsoft.DurableTask/schedulers/taskHubs"),
])
def test_dts_role_mistakes_are_reported(mutate, edit, expected) -> None:
    broken = mutate(edit)
    assert expected in ic.check_role_assignments(broken, ic.VARIANTS["dts/control-elsewhere"])
    # the Azure Storage variant deploys no scheduler, so the same mistake is invisible there
    assert ic.check_role_assignments(broken, ic.VARIANTS["storage/control-elsewhere"]) == []


@pytest.mark.parametrize(("edit", "expected"), [
    (("main.bicep", "storageProvider__type: 'azureManaged'", "storageProvider__type: 'AzureStorage'"),
     "app setting AzureFunctionsJobHost__extensions__durableTask__storageProvider__type is 'AzureStorage', "
     "expected 'azureManaged' for the dts backend"),
    (("main.bicep", ";Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'",
      ";Authentication=ManagedIdentity'"),
     "app setting DURABLE_TASK_SCHEDULER_CONNECTION_STRING is "
     "'Endpoint=${durableTaskScheduler.outputs.endpoint};Authentication=ManagedIdentity', expected "
     "'Endpoint=${durableTaskScheduler.outputs.endpoint};Authentication=ManagedIdentity;"
     "ClientID=${identity.outputs.clientId}' for the dts backend"),
    (("main.bicep", "    hostSettings: useDts ? {", "    hostSettings: true ? {"),
     "app setting TASKHUB_NAME is set without the dts backend"),
])
def test_dts_setting_mistakes_are_reported(mutate, edit, expected) -> None:
    broken = mutate(edit)
    variant = "storage/control-elsewhere" if "without the dts" in expected else "dts/control-elsewhere"
    assert expected in ic.check_app_settings(broken, SETTINGS, ic.VARIANTS[variant])
