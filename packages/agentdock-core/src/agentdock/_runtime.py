"""Where the public facade (``agentdock.app``, ``agentdock.testing``) reaches the runtime.

Core never imports ``agentdock_runtime`` at module level (the runtime depends on core, not
the other way round): this module imports it when an application is first asked for, and
says which package to install when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.plugins import PluginManager

__all__ = ["app"]

_MISSING = (
    "serving an agent needs the agentdock-runtime package and a server plugin: "
    "pip install agentdock-runtime agentdock-plugins"
)


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
    try:
        from agentdock_runtime.app import DEFAULT_SERVER
        from agentdock_runtime.app import app as build
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "agentdock_runtime":
            raise
        raise ModuleNotFoundError(_MISSING, name=exc.name) from None
    return build(
        spec_or_path,
        insecure_no_auth=insecure_no_auth,
        plugins=plugins,
        server=server or DEFAULT_SERVER,
    )
