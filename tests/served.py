"""A real uvicorn server on 127.0.0.1, in a thread, configured as the runtime configures it.

The ASGI test clients call the application directly: they enforce none of uvicorn's limits
(WebSocket message size, read deadlines). Tests of those limits go through this instead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from agentdock_plugins.litestar.limits import ServerLimits
from agentdock_plugins.litestar.running import server_config


@contextlib.contextmanager
def serving(app: Any, limits: ServerLimits | None = None) -> Iterator[int]:
    """Serve ``app`` until the block ends; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = int(listener.getsockname()[1])
    config = server_config(app, host="127.0.0.1", port=port, limits=limits, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server thread ended before it started"
        assert time.monotonic() < deadline, "the server never started"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()
