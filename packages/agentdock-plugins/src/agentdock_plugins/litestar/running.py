"""Running an ASGI app under uvicorn so that SIGTERM means a clean exit (status 0).

uvicorn re-raises the signal it caught once it has shut down, so the process would die of
SIGTERM after a graceful stop; a supervisor (Docker, Kubernetes, systemd) then reads a
failure. Here the signal only starts the graceful shutdown and ``run`` returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn
from agentdock_runtime.heap import freeze_startup_heap

__all__ = ["LISTEN_FD_ENV", "run"]

#: A listening socket inherited from a supervisor (see :func:`run`).
LISTEN_FD_ENV = "AGENTDOCK_LISTEN_FD"

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
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


def run(app: Any, *, host: str, port: int, **options: Any) -> None:
    """Serve ``app`` until SIGINT or SIGTERM; returns after a graceful shutdown.

    With ``AGENTDOCK_LISTEN_FD`` set (a supervisor handed over a socket it already bound
    and listens on), that socket is served instead of binding ``host:port``: nobody can take
    the port between the supervisor's choice and the runtime's start, and connections wait
    in its backlog while the runtime restarts.
    """
    # Requests are reported as structured run events, not uvicorn's access log line.
    options.setdefault("access_log", False)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", **options)
    fd = os.environ.pop(LISTEN_FD_ENV, "")
    sockets = [socket.socket(fileno=int(fd))] if fd.isdigit() else None
    freeze_startup_heap()
    _Server(config).run(sockets=sockets)
