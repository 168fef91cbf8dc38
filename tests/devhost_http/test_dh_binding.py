import json

import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient

from devhost.http.binding import client_binding_json


def _request(url: str) -> func.HttpRequest:
    return func.HttpRequest("POST", url, headers={}, params={}, route_params={}, body=b"")


def test_binding_json_is_accepted_by_the_sdk_client():
    client = DurableOrchestrationClient(client_binding_json("http://127.0.0.1:7071", hub_name="Hub"))
    assert client._orchestration_bindings.rpc_base_url == "http://127.0.0.1:7071/durabletask/"
    assert client._orchestration_bindings.task_hub_name == "Hub"


def test_check_status_response_points_at_the_request_origin():
    client = DurableOrchestrationClient(client_binding_json("http://127.0.0.1:7071", hub_name="Hub"))
    response = client.create_check_status_response(_request("http://localhost:9999/api/copies"), "abc")
    assert response.status_code == 202
    body = json.loads(response.get_body())
    assert body["statusQueryGetUri"] == \
        "http://localhost:9999/runtime/webhooks/durabletask/instances/abc?taskHub=Hub&connection=Storage"
    assert body["sendEventPostUri"].startswith("http://localhost:9999/runtime/webhooks/durabletask/instances/abc/"
                                               "raiseEvent/{eventName}?")
    assert body["terminatePostUri"].endswith("/instances/abc/terminate?reason={text}&taskHub=Hub&connection=Storage")
    assert response.headers["Location"] == body["statusQueryGetUri"]
    assert response.headers["Retry-After"] == "10"


def test_system_key_is_in_every_management_url():
    data = json.loads(client_binding_json("http://127.0.0.1:1", hub_name="Hub", system_key="SYS"))
    assert data["requiredQueryStringParameters"] == "code=SYS"
    assert all(url.endswith("&code=SYS") for k, url in data["managementUrls"].items() if k != "id")
    assert data["creationUrls"]["createNewInstancePostUri"] == \
        "http://127.0.0.1:1/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]?code=SYS"
    assert data["baseUrl"] == "http://127.0.0.1:1/runtime/webhooks/durabletask"
    assert data["managementUrls"]["id"] == "INSTANCEID"
