"""One call from a Dockfile to an ASGI application: ``agentdock.app("Dockfile.yaml")``.

The spec is loaded and validated, the entrypoint imported with the Dockfile's directory on
``sys.path``, the pipeline compiled, and the server plugin (``litestar`` unless another is
named) found through the plugin manager's ``servers`` registrations, so the runtime never
imports a plugin by name.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.capabilities import AppServer
from agentdock.plugins import PluginError, PluginManager, get_plugin_manager

from agentdock_runtime.compile import compile_pipeline
from agentdock_runtime.freshimport import import_fresh
from agentdock_runtime.heap import freeze_startup_heap
from agentdock_runtime.hostcheck import served_app
from agentdock_runtime.iomodels import import_object
from agentdock_runtime.pipeline import Pipeline, PipelineError

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "DEFAULT_SERVER",
    "DOCKFILE_ENV",
    "INSECURE_ENV",
    "LoadedAgent",
    "app",
    "app_from_env",
    "build_server_app",
    "get_server",
    "load_agent",
]

log = logging.getLogger("agentdock.runtime")

DEFAULT_SERVER = "litestar"
#: Read by :func:`app_from_env` (the factory uvicorn imports in reload or multi-worker mode).
DOCKFILE_ENV = "AGENTDOCK_DOCKFILE"
INSECURE_ENV = "AGENTDOCK_INSECURE_NO_AUTH"


@dataclass(frozen=True, slots=True)
class LoadedAgent:
    """A validated spec, its imported entrypoint and the directory it was found in."""

    spec: DockSpec
    entry: Any
    project_dir: Path


def load_agent(
    spec_or_path: Any,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    plugins: PluginManager | None = None,
    fresh_under: str | os.PathLike[str] | None = None,
) -> LoadedAgent:
    """Load (when given a path) and import an agent.

    :param spec_or_path: a ``DockSpec``, a Dockfile path, or a directory holding one. A spec
        object's entrypoint is imported from ``project_dir`` (default: the current one).
    :param fresh_under: a directory whose modules are forgotten before the import (a server
        hosting the agents of that directory reloads one; see :mod:`.freshimport`).
    :raises agentdock.DockfileError: the Dockfile is invalid.
    """
    if isinstance(spec_or_path, str | os.PathLike):
        from agentdock.validation import load

        path = Path(spec_or_path)
        if path.is_dir():
            path = path / "Dockfile.yaml"
        spec = load(path, env=env, plugins=plugins)
        project_dir = path.resolve().parent
    else:
        spec = spec_or_path
        project_dir = Path(project_dir).resolve() if project_dir is not None else Path.cwd()
    if fresh_under is not None:
        entry = import_fresh(spec.agent.entrypoint, Path(project_dir), Path(fresh_under))
        return LoadedAgent(spec, entry, Path(project_dir))
    directory = str(project_dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return LoadedAgent(spec, import_object(spec.agent.entrypoint), Path(project_dir))


def get_server(spec: DockSpec, *, plugins: PluginManager, server: str = DEFAULT_SERVER) -> Any:
    """The server plugin ``server`` built for ``spec`` (an :class:`agentdock.protocols.Server`)."""
    registration = plugins.get("servers", server)
    if registration is None:
        raise PipelineError(f"no server plugin named {server!r}")
    try:
        return registration.factory(spec)
    except Exception as exc:
        raise PipelineError(
            f"server {server!r} could not be built: {type(exc).__name__}: {exc}"
        ) from exc


def build_server_app(
    spec: DockSpec, pipeline: Pipeline, *, plugins: PluginManager, server: str = DEFAULT_SERVER
) -> Any:
    """The ASGI app of the server plugin ``server`` for ``pipeline``."""
    instance = get_server(spec, plugins=plugins, server=server)
    if not isinstance(instance, AppServer):
        raise PipelineError(f"server plugin {server!r} cannot build an ASGI application")
    return instance.app(pipeline)


def app(
    spec_or_path: Any,
    *,
    insecure_no_auth: bool = False,
    plugins: PluginManager | None = None,
    server: str = DEFAULT_SERVER,
) -> Any:
    """The ASGI application serving one agent, ready for uvicorn or any ASGI server.

    :param spec_or_path: a ``DockSpec`` or the path of a Dockfile (or its directory).
    :param insecure_no_auth: serve without authentication (local development only).
    :param plugins: the plugin manager (default: the process-wide one, entry points on).
    :param server: the server plugin to use.
    :raises agentdock.DockfileError: the Dockfile is invalid.
    :raises PipelineError: a plugin is missing (an auth provider unless ``insecure_no_auth``).
    """
    application = _build(spec_or_path, insecure_no_auth, plugins, server)
    if insecure_no_auth:  # agentdock serve and the entrypoint warn themselves, naming the URL
        log.warning("authentication is OFF (insecure_no_auth); never expose this runtime")
    return application


def _build(
    spec_or_path: Any, insecure_no_auth: bool, plugins: PluginManager | None, server: str
) -> Any:
    manager = plugins if plugins is not None else get_plugin_manager()
    agent = load_agent(spec_or_path, plugins=manager)
    pipeline = compile_pipeline(
        agent.spec, entry=agent.entry, plugins=manager, insecure_no_auth=insecure_no_auth
    )
    return build_server_app(agent.spec, pipeline, plugins=manager, server=server)


def log_plugin_error(err: PluginError) -> None:
    """A plugin error as one warning of the runtime's log (the runtime's own listener:
    :meth:`agentdock.plugins.PluginManager.add_error_listener`)."""
    where = f" ({err.distribution})" if err.distribution else ""
    log.warning("plugin %s%s: %s", err.name, where, err.error)


def app_from_env() -> Any:
    """:func:`app` for the Dockfile named by ``AGENTDOCK_DOCKFILE``: the uvicorn factory of
    ``agentdock serve --reload`` or ``--workers``, whose process warned of
    ``AGENTDOCK_INSECURE_NO_AUTH`` once already (each worker does not again). Served on a
    socket, so without authentication it answers only the host names of
    :mod:`.hostcheck`."""
    path = os.environ.get(DOCKFILE_ENV)
    if not path:
        raise RuntimeError(f"{DOCKFILE_ENV} is not set")
    insecure = os.environ.get(INSECURE_ENV) == "1"
    get_plugin_manager().add_error_listener(log_plugin_error)
    application = served_app(
        _build(path, insecure, None, DEFAULT_SERVER), insecure_no_auth=insecure
    )
    freeze_startup_heap()
    return application
