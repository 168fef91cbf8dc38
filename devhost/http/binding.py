"""The `durableClient` binding JSON the Durable extension hands to an out-of-process client function.

Same shape and URL layout as the extension's `BindingHelper.DurableOrchestrationClientToString`:
public management URLs under `{origin}/runtime/webhooks/durabletask` (with the task hub, the
connection name and — when keys are enabled — the `durabletask_extension` system key as `code`), and
an `rpcBaseUrl` that the SDK's `DurableOrchestrationClient` sends every call to. The SDK swaps the
`INSTANCEID` placeholder and the URL origin when it builds `create_check_status_response`, so these
URLs work with curl against the devhost.
"""

from __future__ import annotations

import json
from urllib.parse import quote_plus

__all__ = ["INSTANCE_ID_PLACEHOLDER", "WEBHOOK_PATH", "client_binding_json", "management_urls"]

INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"
DEFAULT_CONNECTION = "Storage"


def _query_suffix(hub_name: str, connection: str | None, system_key: str | None) -> str:
    suffix = f"taskHub={quote_plus(hub_name)}&connection={quote_plus(connection or DEFAULT_CONNECTION)}"
    if system_key:
        suffix += f"&code={system_key}"
    return suffix


def management_urls(origin: str, instance_id: str, *, hub_name: str, connection: str | None = None,
                    system_key: str | None = None, return_500_on_failure: bool = False) -> dict[str, str]:
    """The extension's HttpManagementPayload for one instance (origin like `http://127.0.0.1:7071`)."""
    prefix = f"{origin.rstrip('/')}{WEBHOOK_PATH}/instances/{quote_plus(instance_id)}"
    suffix = _query_suffix(hub_name, connection, system_key)
    status_uri = f"{prefix}?{suffix}"
    if return_500_on_failure:
        status_uri += "&returnInternalServerErrorOnFailure=true"
    return {
        "id": instance_id,
        "statusQueryGetUri": status_uri,
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{suffix}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{suffix}",
        "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{suffix}",
        "purgeHistoryDeleteUri": f"{prefix}?{suffix}",
        "restartPostUri": f"{prefix}/restart?{suffix}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{suffix}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{suffix}",
    }


def check_status_body(urls: dict[str, str]) -> dict[str, str]:
    """The body of the extension's own 202 check-status response (no rewind URL, as in the extension)."""
    keys = ("id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri",
            "restartPostUri", "suspendPostUri", "resumePostUri")
    return {k: urls[k] for k in keys}


def client_binding_json(origin: str, *, hub_name: str, system_key: str | None = None,
                        connection: str | None = None) -> str:
    """The JSON string the worker passes to a `durableClient` parameter."""
    base = f"{origin.rstrip('/')}{WEBHOOK_PATH}"
    query = f"code={system_key}" if system_key else ""
    creation_prefix = f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return json.dumps({
        "taskHubName": hub_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{creation_prefix}?{query}",
            "createAndWaitOnNewInstancePostUri":
                f"{creation_prefix}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{query}",
        },
        "managementUrls": management_urls(origin, INSTANCE_ID_PLACEHOLDER, hub_name=hub_name,
                                          connection=connection, system_key=system_key),
        "baseUrl": base,
        "requiredQueryStringParameters": query,
        "rpcBaseUrl": f"{origin.rstrip('/')}{RPC_PATH}",
    })
