"""The container entrypoint given a directory of agents: every agent in one process.

``AGENTDOCK_SPEC`` names a directory without a ``Dockfile.yaml`` of its own: each of its
sub-directories holding one is an agent. Every Dockfile is loaded as the entrypoint loads
one (placeholders from the environment alone, all errors of all files reported together,
prefixed with the file: exit 78), then the server plugin, built for the first agent (by
directory name, whose ``expose`` also gives the default address), hosts them all under
``/agents/{name}/`` (:class:`agentdock.capabilities.DirectoryServing`).

``AGENTDOCK_RELOAD=1`` reloads an agent whose files change (off by default: an image's code
does not change under it; on, a changed Dockfile is validated as ``agentdock serve``
validates it). Exits: 78 for configuration (no agent, two agents of one name, a server
plugin that cannot host a directory, a missing plugin), 70 when an agent's code does not
load, 69 when the registry store is down, 0 after a graceful shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock_runtime.entrypoint import (
    EX_CONFIG,
    EX_SOFTWARE,
    EX_UNAVAILABLE,
    INSECURE_ENV,
    ConfigError,
    _fatal,
    _listen,
    load_spec,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_runtime.entrypoint import Settings

__all__ = ["RELOAD_ENV", "serve_directory"]

RELOAD_ENV = "AGENTDOCK_RELOAD"
_DOCKFILE = "Dockfile.yaml"

log = logging.getLogger("agentdock.runtime")


def _specs(directory: Path, env: Mapping[str, str], plugins: Any) -> dict[Path, DockSpec]:
    """Each agent directory's spec; every problem of every file at once (ConfigError)."""
    agents = sorted(d for d in directory.iterdir() if d.is_dir() and (d / _DOCKFILE).is_file())
    if not agents:
        raise ConfigError([f"{directory} holds no agent: no sub-directory has a {_DOCKFILE}"])
    specs: dict[Path, DockSpec] = {}
    problems: list[str] = []
    for agent in agents:
        try:
            specs[agent] = load_spec(agent / _DOCKFILE, env, plugins=plugins)
        except ConfigError as exc:
            problems += [f"{agent / _DOCKFILE}: {line}" for line in exc.lines]
    if problems:
        raise ConfigError(problems)
    return specs


def serve_directory(settings: Settings, env: Mapping[str, str], plugins: Any) -> int:
    """Serve every agent of ``settings.spec_path`` until SIGTERM; 0 after a clean stop.

    :raises ConfigError: the directory holds no agent, or a Dockfile is invalid.
    """
    from agentdock.capabilities import DirectoryServing
    from agentdock.registry import RegistryError

    from agentdock_runtime import PipelineError, listen, logconfig
    from agentdock_runtime.app import get_server, log_plugin_error

    directory = settings.spec_path
    specs = _specs(directory, env, plugins)
    first = next(iter(specs.values()))
    logconfig.configure(level=logconfig.level_of(first))
    plugins.add_error_listener(log_plugin_error)
    try:
        server = get_server(first, plugins=plugins)
    except PipelineError as exc:
        _fatal([str(exc)], EX_CONFIG)
    if not isinstance(server, DirectoryServing):
        _fatal(["the server plugin cannot host a directory of agents"], EX_CONFIG)
    host, port = _listen(settings, first)
    where = listen.url(host, port)
    if settings.insecure_no_auth:
        log.warning(
            "authentication is OFF (%s=1). Anyone who can reach %s can run these agents. "
            "Never use this in production.",
            INSECURE_ENV,
            where,
        )
    names = sorted(spec.agent.name for spec in specs.values())
    log.info(
        "Serving %s on %s (%s)",
        ", ".join(names),
        where,
        ", ".join(f"/agents/{name}" for name in names),
        extra={"event": "serving", "agents": names, "url": where, "port": port},
    )
    try:
        server.serve_directory(
            directory,
            specs,
            host,
            port,
            plugins=plugins,
            insecure_no_auth=settings.insecure_no_auth,
            watch=env.get(RELOAD_ENV, "").strip() == "1",
            drain_timeout=settings.drain_timeout,
        )
    except (ValueError, PipelineError) as exc:
        _fatal([str(exc)], EX_CONFIG)
    except RegistryError as exc:
        _fatal([str(exc)], EX_UNAVAILABLE)
    except Exception as exc:
        _fatal([f"cannot load an agent of {directory}: {type(exc).__name__}: {exc}"], EX_SOFTWARE)
    return 0
