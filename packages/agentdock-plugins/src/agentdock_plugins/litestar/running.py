"""Running an ASGI app under uvicorn so that SIGTERM means a clean exit (status 0).

uvicorn re-raises the signal it caught once it has shut down, so the process would die of
SIGTERM after a graceful stop; a supervisor (Docker, Kubernetes, systemd) then reads a
failure. Here the signal only starts the graceful shutdown and ``run`` returns.

:func:`uvicorn_options` holds the server to the :class:`~.limits.ServerLimits`: header and
body read deadlines, and WebSocket messages no larger than a request body (:mod:`.protocols`).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn
from agentdock_runtime.heap import freeze_startup_heap

from agentdock_plugins.litestar.handover import LISTEN_FD_ENV, Handover, inherited
from agentdock_plugins.litestar.limits import ServerLimits
from agentdock_plugins.litestar.protocols import WebSocketProtocol, deadline_protocol

__all__ = ["LISTEN_FD_ENV", "run", "server_config", "uvicorn_options"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    #: Sockets a supervisor handed down (:mod:`.handover`); None when it binds its own.
    handover: Handover | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.handover is not None and self.started:
            self.handover.attach(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.handover is not None:  # a successor may serve the same socket: hand over
            await self.handover.drain(self)
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def uvicorn_options(limits: ServerLimits) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that enforce ``limits``.

    uvicorn's websockets protocol refuses a message larger than ``ws_max_size`` from its
    frame header, before reading the payload, and bounds what permessage-deflate may
    inflate to the same size; it stops reading a connection while one received message
    waits for the application (``ws_max_queue`` says the same to uvicorn's other protocols).
    """
    return {
        "http": deadline_protocol(
            header_timeout=limits.header_timeout, body_timeout=limits.body_timeout
        ),
        "ws": WebSocketProtocol,
        "ws_max_size": limits.max_body_bytes,
        "ws_max_queue": 1,
        "ws_per_message_deflate": True,
    }


def server_config(
    app: Any, *, host: str, port: int, limits: ServerLimits | None = None, **options: Any
) -> uvicorn.Config:
    """The uvicorn configuration :func:`run` serves ``app`` with (``options`` win)."""
    # Requests are reported as structured run events, not uvicorn's access log line.
    options.setdefault("access_log", False)
    # uvicorn's records go through the process's logging as configured by whoever owns the
    # process (agentdock_runtime.logconfig), not through handlers of uvicorn's own.
    options.setdefault("log_config", None)
    options = {**uvicorn_options(limits or ServerLimits()), **options}
    return uvicorn.Config(app, host=host, port=port, lifespan="on", **options)


def run(
    app: Any, *, host: str, port: int, limits: ServerLimits | None = None, **options: Any
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM; returns after a graceful shutdown.

    With ``AGENTDOCK_LISTEN_FD`` set (a supervisor handed over sockets it already bound
    and listens on), those sockets are served instead of binding ``host:port``: nobody can
    take the port between the supervisor's choice and the runtime's start, and connections
    wait in its backlog while the runtime restarts. A stable address shared with the
    version before this one is taken over when the supervisor says so (:mod:`.handover`).

    :param limits: the bounds of :func:`uvicorn_options` (default: :class:`ServerLimits`'s).
    """
    config = server_config(app, host=host, port=port, limits=limits, **options)
    server = _Server(config)
    server.handover = inherited()
    freeze_startup_heap()
    server.run(sockets=server.handover.served if server.handover else None)
