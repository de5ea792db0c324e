"""The uvicorn protocols the server runs with: HTTP with read deadlines, and WebSocket.

**Read deadlines.** uvicorn times only the wait between two requests of a kept-alive connection
(``timeout_keep_alive``); a client that sends its request a byte at a time holds the
connection, its buffers and a place among the server's connections for as long as it likes.
:class:`DeadlineHttpProtocol` is uvicorn's httptools protocol with two timers:

* **headers**: runs from the moment the connection opens, or from the next request's first
  byte, to the end of the request's headers;
* **body**: runs from the end of the headers to the end of the body.

A request that misses either is answered ``408`` with the error envelope
(``{"error": "RequestTimeout", ...}``) and the connection is closed; a connection that never
sent a byte, or whose response has already started, is closed without one.

**A client that went away.** A request whose connection closed (by the client, or at the body
deadline) before its response was complete gets :data:`agentdock.capabilities.CLIENT_GONE` in
its scope: ``408`` where the deadline answered it, ``499`` otherwise. The metrics middleware
counts it under that status and the error handler does not log the application's failed
read as a server error. Only a lost connection pays for this. A timer is set
only when a read leaves a request incomplete, so a request that arrives in one read, as
nearly all do, costs no timer at all.

While the server drains before a stop (:mod:`.handover`), each request is answered with
``connection: close``, so a kept-alive client moves to the next version's connection.

uvicorn takes a protocol factory (``Config(http=...)``): :func:`deadline_protocol` gives one.

**WebSocket.** :class:`WebSocketProtocol` is uvicorn's websockets protocol, which refuses a
message larger than its ``ws_max_size`` from the frame's header and bounds what
permessage-deflate inflates to the same size. A handshake the application refuses with an
HTTP response (the ASGI denial-response extension, see :mod:`.ws`) counts as complete, so
uvicorn does not log each refusal as an application error.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from agentdock.capabilities import CLIENT_GONE
from agentdock_runtime import RuntimeHTTPError
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from agentdock_plugins.litestar.errors import error_parts
from agentdock_plugins.litestar.handover import DRAINING

__all__ = ["DeadlineHttpProtocol", "WebSocketProtocol", "deadline_protocol"]


def _timeout_response(detail: str) -> bytes:
    _, body, _ = error_parts(RuntimeHTTPError(408, "RequestTimeout", detail))
    head = (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + body


_HEADERS_LATE = _timeout_response("the request headers did not arrive in time")
_BODY_LATE = _timeout_response("the request body did not arrive in time")


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines (module docstring)."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
        body_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        #: What the current request still waits for: "headers", "body" or nothing.
        self._waiting: str | None = None

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    # -- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # The connection's first request is timed from the moment it opened.
        self._deadline = self.loop.call_later(self._header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.scope.setdefault(CLIENT_GONE, 499)  # type: ignore[misc]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Timers only for a request still incomplete once what arrived is parsed: one that
        # arrives whole in one read (most do) costs none.
        if self._waiting is not None and self._deadline is None:
            if self._waiting == "headers":
                self._deadline = self.loop.call_later(self._header_timeout, self._headers_late)
            else:
                self._deadline = self.loop.call_later(self._body_timeout, self._body_late)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over, with its own timers.
        self._disarm()
        self._waiting = None
        super().handle_websocket_upgrade()

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._waiting = "headers"

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        self._waiting = None if upgrading else "body"
        if not upgrading and getattr(self.server_state, DRAINING, False):
            self.cycle.keep_alive = False  # draining (.handover): answer, then close

    def on_message_complete(self) -> None:
        self._disarm()
        self._waiting = None
        super().on_message_complete()

    # -- deadlines ---------------------------------------------------------------------------

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._waiting == "headers" and (cycle is None or cycle.response_complete):
            self.transport.write(_HEADERS_LATE)
        self.transport.close()

    def _body_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None:
            if not cycle.response_started:
                self.transport.write(_BODY_LATE)
                cycle.scope[CLIENT_GONE] = 408  # type: ignore[literal-required]
            # The application sees the client as gone: its reads end, its writes are dropped.
            cycle.disconnected = True
            cycle.keep_alive = False
            cycle.message_event.set()
        self.transport.close()


def deadline_protocol(*, header_timeout: float, body_timeout: float) -> Any:
    """The protocol factory for ``uvicorn.Config(http=...)`` (it pickles, for workers)."""
    return functools.partial(
        DeadlineHttpProtocol, header_timeout=header_timeout, body_timeout=body_timeout
    )


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol; a refusal sent as an HTTP response ends the handshake."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True
