"""HTTP clients that talk to an agent in-process, for tests and notebooks.

The agent's ASGI application is built as ``agentdock serve`` builds it and driven without a
socket; its start-up and shutdown (the ASGI lifespan) run too, so ``/ready`` answers 200
and telemetry is flushed when the client closes::

    from agentdock.testing import client

    with client("Dockfile.yaml", insecure_no_auth=True) as http:
        assert http.post("/invoke", json={"text": "hi"}).json() == {"text": "HI"}

    async with async_client("Dockfile.yaml", insecure_no_auth=True) as http:
        response = await http.get("/ready")

To test a plugin, serve an agent with the built-ins plus the plugin under test,
registered in process (whether or not it is also installed)::

    from agentdock.testing import client, plugin_manager

    with client("Dockfile.yaml", plugins=plugin_manager(my_plugin)) as http:
        ...

Under pytest the ``agentdock_client`` fixture does the same and closes the client after
the test (:mod:`agentdock.pytest_plugin`).

Both return plain ``httpx`` clients; extra keyword arguments (``headers``, ``timeout``,
``base_url``...) go to them. They need ``agentdock-runtime`` (which brings ``httpx``) and a
server plugin installed; both are reached through :mod:`agentdock._runtime`.
Like the rest of the library they leave logging alone: no handler is installed and no
event line is printed (``agentdock serve`` and the container entrypoint do that).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from agentdock.plugins import PluginManager

__all__ = ["DEFAULT_BASE_URL", "async_client", "client", "plugin_manager"]

DEFAULT_BASE_URL = "http://agentdock.test"


def plugin_manager(
    *plugins: object | tuple[str, object],
    entry_points: bool = False,
    replaces: Iterable[str] = (),
) -> PluginManager:
    """A plugin manager with AgentDock's built-ins and ``plugins``, the plugins under test.

    The built-ins load from their entry points, as installed (a fresh
    :func:`agentdock.make_plugin_manager` has none: it could not serve). ``plugins`` (objects,
    or ``(name, object)`` pairs) are registered in process, so they act without a Dockfile
    naming them, as a program's own plugins do. With ``entry_points=True`` every installed
    plugin loads too, except the entry point of a plugin under test (an editable install of
    the plugin being tested), which is not registered twice.

    :param replaces: ``kind:name=plugin`` items: built-in names the plugins may take.
    """
    from importlib import metadata

    from agentdock.plugins import (
        BUILTIN_DISTRIBUTION,
        ENTRY_POINT_GROUP,
        PluginManager,
        register_each,
    )

    under_test = [item[1] if isinstance(item, tuple) else item for item in plugins]
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    wanted = {
        ep.name
        for ep in found
        if (entry_points or (ep.dist is not None and ep.dist.name == BUILTIN_DISTRIBUTION))
        and not _is_under_test(ep, under_test)
    }
    manager = PluginManager(load_entry_points=True, allowlist=wanted, replaces=replaces)
    manager.load()
    register_each(manager, plugins)
    return manager


def _is_under_test(entry_point: Any, under_test: list[object]) -> bool:
    """Whether ``entry_point`` names a module among the plugins under test (compared by
    module name, so it is not imported to find out)."""
    names = {getattr(p, "__name__", None) for p in under_test} - {None}
    return entry_point.value.partition(":")[0] in names


def _build_app(
    spec_or_path: Any, insecure_no_auth: bool, plugins: PluginManager | None, server: str | None
) -> Any:
    from agentdock._runtime import app

    return app(spec_or_path, insecure_no_auth=insecure_no_auth, plugins=plugins, server=server)


def client(
    spec_or_path: Any,
    *,
    insecure_no_auth: bool = False,
    plugins: PluginManager | None = None,
    server: str | None = None,
    **kwargs: Any,
) -> httpx.Client:
    """A synchronous ``httpx.Client`` for the agent of ``spec_or_path``.

    The application runs on an event loop in a background thread, started with the client
    (or its first request) and stopped by ``close()`` or leaving the ``with`` block.

    :param spec_or_path: a ``DockSpec`` (its entrypoint imported from the current
        directory), a Dockfile path, or the directory holding one.
    :param insecure_no_auth: serve without authentication.
    :param plugins: the plugin manager (default: the process-wide one).
    :param server: the server plugin (default: ``litestar``).
    :raises agentdock.DockfileError: the Dockfile is invalid.
    """
    from agentdock import _runtime

    kwargs.setdefault("base_url", DEFAULT_BASE_URL)
    return _runtime.client(_build_app(spec_or_path, insecure_no_auth, plugins, server), **kwargs)


def async_client(
    spec_or_path: Any,
    *,
    insecure_no_auth: bool = False,
    plugins: PluginManager | None = None,
    server: str | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the agent, running on the caller's event loop.

    The application starts with ``async with`` (or the first request) and stops with
    ``aclose()`` or the end of the block. Arguments as for :func:`client`.
    """
    from agentdock import _runtime

    kwargs.setdefault("base_url", DEFAULT_BASE_URL)
    app = _build_app(spec_or_path, insecure_no_auth, plugins, server)
    return _runtime.async_client(app, **kwargs)
