"""Where deploy operations find their pieces: the registry, the plugins, the home directory.

The AgentDock home holds the registry, bundles, run state and logs: ``$AGENTDOCK_HOME``, or
``.agentdock/`` of the working directory (the same place ``agentdock key`` uses).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.deployment.errors import DeployError, InvalidDeployInput, NotFound
from agentdock.registry import SQLStore, default_registry_path, open_store

__all__ = ["Workspace", "actor", "pid_alive"]


def actor() -> str:
    """Who runs the operation, for the registry and the audit log (never a credential)."""
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return os.environ.get("USER") or "unknown"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, exited but not yet reaped,
    does not; one that is our own child is reaped on the way)."""
    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: kill(0) said it exists
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass
class Workspace:
    """An open registry, a plugin manager and the home directory, for one operation."""

    store: SQLStore
    plugins: Any
    home: Path
    owns_store: bool = True

    @classmethod
    def open(cls, store: SQLStore | None = None, plugins: Any = None) -> Workspace:
        from agentdock.plugins import get_plugin_manager
        from agentdock.registry import RegistryError

        home = default_registry_path().parent
        owns = store is None
        if store is None:
            try:
                store = open_store()
            except RegistryError as exc:
                raise InvalidDeployInput(str(exc)) from None
        return cls(store, plugins or get_plugin_manager(), home.resolve(), owns)

    def close(self) -> None:
        if self.owns_store:
            self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def plugin(self, kind: str, name: str) -> Any:
        """A builder or target instance by name, or a clear error listing the known ones."""
        registration = self.plugins.get(kind, name)
        if registration is None:
            known = ", ".join(sorted(self.plugins.registrations(kind))) or "none"
            singular = kind.rstrip("s")
            raise InvalidDeployInput(
                f"no {singular} named {name!r} (known: {known})",
                hint="install the plugin that provides it, or pick a known one",
            )
        try:
            return registration.factory()
        except DeployError:
            raise
        except Exception as exc:
            raise InvalidDeployInput(
                f"the {name} {kind.rstrip('s')} plugin failed to load: {type(exc).__name__}: {exc}"
            ) from None

    def target(self, name: str) -> Any:
        return self.plugin("targets", name)

    def builder(self, name: str) -> Any:
        return self.plugin("builders", name)

    def require_agent(self, agent: str) -> None:
        if agent not in self.store.list_agents():
            raise NotFound(
                f"no agent named {agent!r} in the registry {self.home}",
                hint="deploy it first: agentdock deploy Dockfile.yaml",
            )

    def lock_owner(self) -> tuple[int, str]:
        return os.getpid(), socket.gethostname()

    def is_stale(self, pid: int, host: str, acquired_at: float) -> bool:
        """A lock whose holder process is gone (same host) can be taken over."""
        return host == socket.gethostname() and not pid_alive(int(pid))
