"""devhost's host layer: one aiohttp server for HTTP triggers, the Durable HTTP API, Event Grid and admin.

Public API:
    `HostServer(index, engine, *, port=0, host="127.0.0.1", route_prefix="api", keys=None, hub_name=None,
                function_timeout=None)` — `.start()` → self (listening), `.url`, `.stop()`, context manager,
                `.client_binding_json()`, `.invoke(name, trigger_value)`, `.call(coro)`.
    `HostKeys.generate(names)` / `HostKeys.load(path)` — keys enabled; `.master_key`,
                `.function_key(name)`, `.system_key("durabletask"|"eventgrid")`, `.save(path)`.
"""

from devhost.http.keys import HostKeys
from devhost.http.server import HostServer

__all__ = ["HostKeys", "HostServer"]
