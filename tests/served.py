"""A real uvicorn server on 127.0.0.1, in a thread, configured as the runtime configures it.

The ASGI test clients call the application directly: they enforce none of uvicorn's limits
(WebSocket message size, read deadlines). Tests of those limits go through this instead.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
import uvicorn
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from agentdock_plugins.litestar.limits import ServerLimits
from agentdock_plugins.litestar.running import server_config
from auth_support import add_key

CHAT = Path(__file__).resolve().parents[1] / "examples" / "chat"


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


@contextlib.contextmanager
def served_chat(root: Path) -> Iterator[tuple[str, str]]:
    """A copy of ``examples/chat`` under ``root`` served on a real socket with its API-key
    auth on, a home of its own under ``root``; yields its base URL and a developer key. The
    example's ``agent`` modules are dropped from ``sys.modules`` before and after, so another
    project's ``agent`` is never reused."""
    monkey = pytest.MonkeyPatch()
    monkey.setenv("AGENTDOCK_HOME", str(root / "home"))
    monkey.delenv("AGENTDOCK_REDIS_URL", raising=False)
    with open_store() as store:
        key = add_key(store, "chat")
    project = root / "chat"
    shutil.copytree(CHAT, project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    _forget_agent_modules()
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    app = agentdock.app(project / "Dockfile.yaml", plugins=manager)
    try:
        with serving(app) as port:
            yield f"http://127.0.0.1:{port}", key.key
    finally:
        while str(project) in sys.path:
            sys.path.remove(str(project))
        _forget_agent_modules()
        monkey.undo()


def _forget_agent_modules() -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == "agent"]:
        del sys.modules[name]
