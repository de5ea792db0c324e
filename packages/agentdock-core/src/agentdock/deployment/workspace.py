"""Where deploy operations find their pieces: the registry, the plugins, the home directory.

The AgentDock home holds the registry, bundles, run state and logs: ``$AGENTDOCK_HOME``, else
the nearest ``.agentdock/registry.db`` up from the working directory, else ``.agentdock/`` of
the working directory (:mod:`agentdock.home`; the same place ``agentdock key`` uses). Only
an operation that records something (a deploy) creates a registry there.
"""

from __future__ import annotations

import contextlib
import difflib
import getpass
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.deployment.errors import DeployError, InvalidDeployInput, NotFound
from agentdock.home import locate_home
from agentdock.registry import describe_store, open_store
from agentdock.storecontract import Store

__all__ = ["Workspace", "actor", "did_you_mean", "pid_alive"]


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean 'my-agent'?)`` for a name close to a known one, else ``""``."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"


def actor() -> str:
    """Who runs the operation, for the registry and the audit log (never a credential)."""
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return os.environ.get("USER") or "unknown"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, exited but not yet reaped,
    does not; one that is our own child is reaped on the way).

    A process whose first thread shows as a zombie while others of its threads still run
    (or are still exiting, holding its open files and sockets) is alive: its end is when
    its last thread's is."""
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
    if stat.rsplit(")", 1)[-1].split()[0] != "Z":
        return True
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    return any(thread != str(pid) for thread in threads)


@dataclass
class Workspace:
    """An open registry, a plugin manager and the home directory, for one operation.

    ``registry`` names the registry read (its file, or a store plugin's URL without the
    password), for messages; ``created`` says where and why when this operation created it.
    """

    store: Store
    plugins: Any
    home: Path
    owns_store: bool = True
    registry: str = ""
    created: str | None = None

    @classmethod
    def open(
        cls,
        store: Store | None = None,
        plugins: Any = None,
        *,
        create: bool = False,
        agent: str | None = None,
    ) -> Workspace:
        """The workspace of the home :func:`~agentdock.home.locate_home` finds.

        Without ``create`` a missing registry is :class:`NotFound` (exit 5, naming
        ``agent`` when given) and nothing is written; with it (a deploy) a new one is
        created in ``.agentdock/`` of the working directory.
        """
        from agentdock.plugins import get_plugin_manager
        from agentdock.registry import DATABASE_URL_ENV, RegistryError

        location = locate_home()
        owns = store is None
        created = None
        if store is None:
            embedded = not os.environ.get(DATABASE_URL_ENV)
            if embedded and not location.exists:
                if not create:
                    about = f"no agent named {agent!r}: " if agent else ""
                    raise NotFound(
                        f"{about}no registry found (looked for {location.searched()})",
                        hint="run this where the agent was deployed from (or below it), "
                        "or set AGENTDOCK_HOME to the directory holding its registry.db",
                    )
                created = location.creating()
            try:
                store = open_store(location.registry, create=create) if embedded else open_store()
            except RegistryError as exc:
                raise InvalidDeployInput(str(exc)) from None
        return cls(
            store,
            plugins or get_plugin_manager(),
            location.path.resolve(),
            owns,
            describe_store(store),
            created,
        )

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

    def not_found(self, cause: str, hint: str | None = None) -> NotFound:
        """A :class:`NotFound` that names the registry it read."""
        return NotFound(f"{cause} (registry: {self.registry})", hint=hint)

    def require_agent(self, agent: str) -> None:
        known = self.store.list_agents()
        if agent not in known:
            raise NotFound(
                f"no agent named {agent!r} in the registry {self.registry}"
                + did_you_mean(agent, known),
                hint="deploy it first (agentdock deploy Dockfile.yaml), or run this where "
                "its registry is (or with AGENTDOCK_HOME set to it)",
            )

    def lock_owner(self) -> tuple[int, str]:
        return os.getpid(), socket.gethostname()

    def is_stale(self, pid: int, host: str, acquired_at: float) -> bool:
        """A lock whose holder process is gone (same host) can be taken over."""
        return host == socket.gethostname() and not pid_alive(int(pid))
