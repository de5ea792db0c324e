"""The stable address of a local agent: one listening socket for every version of it.

A deploy, a rollback or a restart after a crash keeps the address its agent (and instance)
has: the new version gets the very socket the serving one accepts on (:mod:`.handoff`), so
a client holding the URL never sees it refused. The address is remembered in
``<home>/run/endpoints/<agent>[.<instance>].json`` (the host and port asked for, and the
port given), so that a deploy after ``stop`` binds it again. It changes only when the
operator asks for another one: another ``expose.port`` in the Dockfile, or another
``--host``; or when someone else took the port while nothing of the agent listened (the
deploy then says which port it uses instead).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentdock.deployment.artifacts import Progress, StartRequest
from agentdock.deployment.errors import DeployFailed
from agentdock.deployment.workspace import pid_alive
from agentdock_runtime.listen import ListenError, bind, host_port

from agentdock_plugins.local.handoff import (
    UnsafeDirectory,
    handoff_key,
    private_dir,
    receive_listener,
    socket_dir,
)
from agentdock_plugins.local.jsonfile import read_json, write_json

__all__ = ["listen_socket", "read_record", "record_path", "stable_listener", "write_record"]


def listen_socket(host: str, wanted: int) -> socket.socket:
    """A socket bound and listening on ``host``: on ``wanted`` when it is free, else on the
    first free one of the 20 after it, else on a port the system picks. The runtime serves
    this very socket (handed down through the supervisor), so the port cannot be taken
    between this choice and the runtime's start."""
    candidates = list(range(wanted, min(wanted + 21, 65536))) if wanted else []
    for port in [*candidates, 0]:
        with contextlib.suppress(ListenError):
            return bind(host, port)
    raise DeployFailed(f"no port to listen on at {host}", hint="free a port")


def record_path(home: Path, agent: str, instance: str | None) -> Path:
    name = f"{agent}.{instance}" if instance else agent
    return Path(home) / "run" / "endpoints" / f"{name}.json"


def read_record(path: Path) -> dict[str, Any] | None:
    """The remembered address, or None (never deployed, or an unreadable file)."""
    return read_json(path)


def write_record(path: Path, handle: Mapping[str, Any]) -> None:
    """Remember the address a deployment took over (written once it serves it)."""
    record = {
        "host": handle["host"],
        "requested_port": handle["requested_port"],
        "port": handle["port"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


def handoff_dir() -> Path:
    """This user's private socket directory, or a :class:`DeployFailed` saying what is
    wrong with it."""
    directory = socket_dir()
    try:
        return private_dir(directory)
    except UnsafeDirectory as exc:
        raise DeployFailed(
            f"cannot hand the agent's address over: {exc}",
            hint=f"remove {directory} (AgentDock makes it again, mode 700)",
        ) from None
    except OSError as exc:
        raise DeployFailed(f"cannot create {directory}: {exc.strerror or exc}") from None


def stable_listener(
    request: StartRequest, host: str, progress: Progress
) -> tuple[socket.socket, str, Path]:
    """The socket a new deployment of ``request`` will serve, the handoff key of its agent
    and instance, and the socket directory.

    The serving version's socket when the same address is asked for (``host`` and
    ``expose.port`` as last time); else a socket bound on the remembered port (nothing of
    the agent listens: a first deploy after ``stop`` or a crash loop), else on the port
    asked for."""
    directory = handoff_dir()
    key = handoff_key(request.home, request.agent, request.instance)
    record = read_record(record_path(request.home, request.agent, request.instance)) or {}
    same = record.get("host") == host and record.get("requested_port") == request.port
    wanted = int(record.get("port") or request.port) if same else request.port
    if same:
        handed = receive_listener(directory, key, host, wanted, alive=pid_alive)
        if handed is not None:
            progress(
                "start",
                f"taking over {host_port(host, wanted)} from the version serving it",
                port=wanted,
            )
            return handed, key, directory
    listener = listen_socket(host, wanted)
    port = int(listener.getsockname()[1])
    if port != wanted:
        mine = " (this agent's address)" if same else ""
        progress("start", f"port {wanted}{mine} is taken: using {port}", port=port)
    return listener, key, directory
