"""``LocalCloud``: several Document Intelligence resources (regions), Key Vault and managed identity, one clock.

    with LocalCloud.from_config(cfg, clock=clock) as cloud:
        src = cloud.resource("fr-eastus")        # ResourceHandle: endpoint, keys, control API
        cloud.state                              # the state-file dict
        cloud.advance(3600)                      # moves every time-based behaviour

A copy started on one resource lands on another: resources share a ``World`` (clock, lock, lookup by
resourceId). Bearer tokens are checked against the same ``TokenRegistry`` the managed-identity
endpoint issues from.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from .clock import SystemClock
from .config import CloudConfig, parse
from .docintel.handle import ResourceHandle
from .docintel.world import World
from .identity import TokenRegistry


class LocalCloud:
    def __init__(self, config: CloudConfig, *, clock: Any = None) -> None:
        self.config = config
        self.clock = clock if clock is not None else SystemClock()
        self.tokens = TokenRegistry(self.clock)
        self.world = World(self.clock)
        self._resources = {s.name: ResourceHandle(s, self.world, self.tokens) for s in config.resources}
        self._keyvault: Any = None
        self._workdir: Path | None = None
        self._own_workdir = False
        self._started = False

    @classmethod
    def from_config(cls, config: dict[str, Any], *, clock: Any = None) -> LocalCloud:
        """Validate ``config`` (raises ``ConfigError`` naming the field) and build the cloud (not started)."""
        return cls(parse(config), clock=clock)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalCloud:
        if self._started:
            return self
        try:
            for handle in self._resources.values():
                handle.start()
            if self.config.key_vault is not None:
                self._start_keyvault()
            self._started = True
            if self.config.state_file:
                self.write_state(self.config.state_file)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_keyvault(self) -> None:
        from .keyvault import KeyVaultEmulator

        kv = self.config.key_vault
        assert kv is not None
        if self.config.workdir:
            self._workdir = Path(self.config.workdir)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="localcloud-"))
            self._own_workdir = True
        self._keyvault = KeyVaultEmulator(port=kv.port, secrets=kv.secrets, clock=self.clock,
                                          workdir=self._workdir, tokens=self.tokens,
                                          identity_port=kv.identity_port, identity_header=kv.identity_header)
        self._keyvault.start()

    def stop(self) -> None:
        # stop the servers side by side: each one waits for its serve loop to notice
        stoppers = [threading.Thread(target=h.stop) for h in self._resources.values()]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if self._keyvault is not None:
            self._keyvault.stop()
            self._keyvault = None
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._started = False

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ access
    def resource(self, name: str) -> ResourceHandle:
        try:
            return self._resources[name]
        except KeyError:
            raise KeyError(f"no resource named {name!r}; resources: {', '.join(self._resources)}") from None

    @property
    def resources(self) -> dict[str, ResourceHandle]:
        return dict(self._resources)

    @property
    def keyvault(self) -> Any:
        """The ``KeyVaultEmulator`` (None when the config has no keyVault section)."""
        return self._keyvault

    @property
    def identity(self) -> TokenRegistry:
        """The token registry the managed-identity endpoint issues from and the emulators validate with."""
        return self.tokens

    @property
    def state(self) -> dict[str, Any]:
        """The state-file document: endpoints, regions, resource ids (never keys or secrets)."""
        out: dict[str, Any] = {"resources": {n: h.describe() for n, h in self._resources.items()}}
        if self._keyvault is not None:
            out["keyVault"] = self._keyvault.state()
        return out

    def write_state(self, path: str | os.PathLike[str]) -> Path:
        """Write ``state`` atomically (tmp + rename) so a watcher never reads half a file."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target

    # ------------------------------------------------------------------ control
    def now(self) -> float:
        return self.clock.time()

    def advance(self, seconds: float) -> None:
        """Move the shared clock and apply whatever became due (copies finish, operations expire)."""
        self.clock.advance(seconds)
        with self.world.lock:
            self.world.tick()

    def reset(self) -> None:
        for handle in self._resources.values():
            handle.reset()
