"""Where the public facade (``agentdock.app``, ``agentdock.testing``) reaches the runtime.

Core never imports ``agentdock_runtime`` at module level (the runtime depends on core, not
the other way round): this module, and no other module of core, imports it, when an
application or a client is first asked for, and says which package to install when it is
missing. The import-linter contract in the workspace's pyproject.toml allows exactly these
imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from agentdock.plugins import PluginManager

__all__ = ["app", "async_client", "client"]

_MISSING = (
    "serving an agent needs the agentdock-runtime package and a server plugin: "
    "pip install agentdock-runtime agentdock-plugins"
)


@contextmanager
def _runtime_required() -> Iterator[None]:
    """Turn a missing ``agentdock_runtime`` into a ``ModuleNotFoundError`` naming what to
    install; any other missing module is left as it is."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "agentdock_runtime":
            raise
        raise ModuleNotFoundError(_MISSING, name=exc.name) from None


def app(
    spec_or_path: Any,
    *,
    insecure_no_auth: bool = False,
    plugins: PluginManager | None = None,
    server: str | None = None,
) -> Any:
    """The ASGI application serving one agent, as ``agentdock serve`` builds it; run it
    under uvicorn or any ASGI server (which then owns logging: see the README's Serving).

    :param spec_or_path: a ``DockSpec`` (its entrypoint imported from the current
        directory), a Dockfile path, or the directory holding one.
    :param insecure_no_auth: serve without authentication (local development only).
    :param plugins: the plugin manager (default: the process-wide one, entry points on).
    :param server: the server plugin (default: ``litestar``).
    :raises agentdock.DockfileError: the Dockfile is invalid.
    :raises ModuleNotFoundError: ``agentdock-runtime`` is not installed.
    """
    with _runtime_required():
        from agentdock_runtime.app import DEFAULT_SERVER
        from agentdock_runtime.app import app as build
    return build(
        spec_or_path,
        insecure_no_auth=insecure_no_auth,
        plugins=plugins,
        server=server or DEFAULT_SERVER,
    )


def client(asgi_app: Any, **kwargs: Any) -> httpx.Client:
    """The runtime's in-process ``httpx.Client`` for ``asgi_app`` (lifespan included)."""
    with _runtime_required():
        from agentdock_runtime.asgiclient import client as client_of
    return client_of(asgi_app, **kwargs)


def async_client(asgi_app: Any, **kwargs: Any) -> httpx.AsyncClient:
    """The runtime's in-process ``httpx.AsyncClient`` for ``asgi_app`` (lifespan included)."""
    with _runtime_required():
        from agentdock_runtime.asgiclient import async_client as client_of
    return client_of(asgi_app, **kwargs)
