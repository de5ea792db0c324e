"""HTTP clients that talk to an agent in-process, for tests and notebooks.

The agent's ASGI application is built as ``agentdock serve`` builds it and driven without a
socket; its start-up and shutdown (the ASGI lifespan) run too, so ``/ready`` answers 200
and telemetry is flushed when the client closes::

    from agentdock.testing import client

    with client("Dockfile.yaml", insecure_no_auth=True) as http:
        assert http.post("/invoke", json={"text": "hi"}).json() == {"text": "HI"}

    async with async_client("Dockfile.yaml", insecure_no_auth=True) as http:
        response = await http.get("/ready")

Both return plain ``httpx`` clients; extra keyword arguments (``headers``, ``timeout``,
``base_url``...) go to them. They need ``agentdock-runtime`` (which brings ``httpx``) and a
server plugin installed; both are reached through :mod:`agentdock._runtime`.
Like the rest of the library they leave logging alone: no handler is installed and no
event line is printed (``agentdock serve`` and the container entrypoint do that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from agentdock.plugins import PluginManager

__all__ = ["DEFAULT_BASE_URL", "async_client", "client"]

DEFAULT_BASE_URL = "http://agentdock.test"


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
