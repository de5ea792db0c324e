"""Built-in plugin: the ``litestar`` server.

Litestar and uvicorn are imported only when a server is built, never by ``agentdock
validate``::

    server = litestar_server(spec)
    asgi_app = server.app(pipeline)      # or server.serve(pipeline, "127.0.0.1", 8080)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.litestar.server import LitestarServer

__all__ = ["agentdock_register_commands", "agentdock_register_servers", "litestar_server"]


def litestar_server(spec: DockSpec, **options: Any) -> LitestarServer:
    """Build the server: see :class:`agentdock_plugins.litestar.server.LitestarServer`."""
    from agentdock_plugins.litestar.server import LitestarServer

    return LitestarServer(spec, **options)


@hookimpl
def agentdock_register_servers(register: Any) -> None:
    register(
        "litestar",
        litestar_server,
        description="Litestar: REST, SSE and WebSocket routes, OpenAPI, served by uvicorn",
    )


@hookimpl
def agentdock_register_commands(cli: Any) -> None:
    """``agentdock serve``: the agent of a Dockfile under this server, until stopped."""
    from agentdock_plugins.litestar.commands import serve_command

    cli.add_command(serve_command)
