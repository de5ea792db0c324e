"""Serving sockets a supervisor hands down, taking over a stable address, and draining.

A local deployment's runtime inherits listening sockets instead of binding its own
(``agentdock_plugins.local.supervisor``):

``AGENTDOCK_LISTEN_FD``
    The sockets it serves from the start, comma-separated: its own (where the health gate
    reaches this runtime and no other) and, after a restart of a runtime that was already
    promoted, the agent's stable address.
``AGENTDOCK_STANDBY_FD``
    The agent's stable address, which the version before this one still serves: this
    runtime accepts on it only once promoted.
``AGENTDOCK_CONTROL_FD``
    A Unix socket to the supervisor. A line ``promote`` is answered ``serving`` once the
    runtime accepts on the standby socket (at once when it already does), or ``error: ...``.
    When it closes (the supervisor was killed), the runtime shuts down gracefully: an
    unsupervised runtime would hold the agent's address where no deploy can take it over.

While two versions accept on the same socket, each connection goes to one of them; the
connections waiting in its backlog wait for either. The version stopped after the switch
first stops accepting, then drains (:meth:`Handover.drain`): every request on a connection
it already holds is answered, with ``connection: close``, so the client's next request opens
a connection that the new version accepts. A kept-alive connection is thus never closed
under a client that is sending on it, which no client could tell from a failure.

Standard library and :mod:`agentdock.listenfd` only at import time (the supervisor reads the
names above from here).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from agentdock.listenfd import LISTEN_FD_ENV, descriptors

__all__ = [
    "CONTROL_FD_ENV",
    "DRAINING",
    "LISTEN_FD_ENV",
    "STANDBY_FD_ENV",
    "Handover",
    "inherited",
]

STANDBY_FD_ENV = "AGENTDOCK_STANDBY_FD"
CONTROL_FD_ENV = "AGENTDOCK_CONTROL_FD"
#: Set on uvicorn's ``server_state`` while draining: a request then closes its connection.
DRAINING = "agentdock_draining"
_POLL = 0.05

log = logging.getLogger("agentdock.server")


@dataclass
class Handover:
    """What a supervisor handed this runtime, and what it does with it."""

    served: list[socket.socket]
    standby: socket.socket | None = None
    control: socket.socket | None = None
    adopted: bool = False
    server: Any = field(default=None, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    def attach(self, server: Any) -> None:
        """Listen to the supervisor once ``server`` (a started ``uvicorn.Server``) serves."""
        self.server = server
        if self.control is not None:
            self.control.setblocking(False)
            asyncio.get_running_loop().add_reader(self.control.fileno(), self._on_control)

    def _on_control(self) -> None:
        assert self.control is not None
        loop = asyncio.get_running_loop()
        try:
            data = self.control.recv(256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # The supervisor is gone (killed: a stop would have signalled us first). Nobody
            # would restart this runtime, report on it or hand its agent's address to the
            # next version, which would then move to another port: shut down gracefully,
            # so the address is free for the next deploy and ``status`` tells the truth.
            loop.remove_reader(self.control.fileno())
            log.warning("the supervisor is gone: shutting down")
            if self.server is not None:
                self.server.should_exit = True
            return
        for line in data.decode("ascii", "replace").splitlines():
            if line.strip() == "promote":
                task = loop.create_task(self._promote())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _promote(self) -> None:
        try:
            await self.promote()
        except Exception as exc:  # told to the supervisor, which fails the deploy
            reply = f"error: {type(exc).__name__}: {exc}"
        else:
            reply = "serving"
        with contextlib.suppress(OSError):
            assert self.control is not None
            self.control.send(reply.encode() + b"\n")

    async def promote(self) -> None:
        """Accept on the standby socket too (idempotent)."""
        server = self.server
        if self.standby is None or self.adopted:
            return
        if server is None or server.should_exit:
            raise RuntimeError("the runtime is shutting down")
        config = server.config
        factory = functools.partial(
            config.http_protocol_class,
            config=config,
            server_state=server.server_state,
            app_state=server.lifespan.state,
        )
        loop = asyncio.get_running_loop()
        listening = await loop.create_server(
            factory, sock=self.standby, ssl=config.ssl, backlog=config.backlog
        )
        server.servers.append(listening)  # closed with the others at shutdown
        self.adopted = True

    async def drain(self, server: Any) -> None:
        """Stop accepting, then answer what arrives on the connections already open, each
        answer closing its connection, until none is left or ``timeout_keep_alive`` (plus
        a little) passed: a connection idle that long would be closed by then anyway.
        Requests still running are left to uvicorn's shutdown (``timeout_graceful_shutdown``).
        """
        for listening in server.servers:
            listening.close()
        state = server.server_state
        setattr(state, DRAINING, True)
        for connection in list(state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                cycle.keep_alive = False
        deadline = time.monotonic() + float(server.config.timeout_keep_alive) + 0.5
        while (
            any(hasattr(c, "cycle") for c in state.connections)  # HTTP, not WebSocket
            and not server.force_exit
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(_POLL)


def inherited() -> Handover | None:
    """The sockets the supervisor handed down (the variables are removed, so nothing the
    agent starts inherits them), or None when there are none."""
    served = descriptors(os.environ.pop(LISTEN_FD_ENV, ""))
    standby = descriptors(os.environ.pop(STANDBY_FD_ENV, ""))
    control = descriptors(os.environ.pop(CONTROL_FD_ENV, ""))
    if not served:
        for fd in standby + control:
            with contextlib.suppress(OSError):
                os.close(fd)
        return None
    return Handover(
        served=[socket.socket(fileno=fd) for fd in served],
        standby=socket.socket(fileno=standby[0]) if standby else None,
        control=socket.socket(fileno=control[0]) if control else None,
    )
