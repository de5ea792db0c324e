"""Running an ASGI app under uvicorn so that SIGTERM means a clean exit (status 0).

uvicorn re-raises the signal it caught once it has shut down, so the process would die of
SIGTERM after a graceful stop; a supervisor (Docker, Kubernetes, systemd) then reads a
failure. Here the signal only starts the graceful shutdown and ``run`` returns.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

__all__ = ["run"]

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
    """Serve ``app`` until SIGINT or SIGTERM; returns after a graceful shutdown."""
    # Requests are reported as structured run events, not uvicorn's access log line.
    options.setdefault("access_log", False)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", **options)
    _Server(config).run()
