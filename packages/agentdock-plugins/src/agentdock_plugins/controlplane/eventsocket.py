"""``WS /controller/events``: the event stream of ``GET /controller/events`` over a WebSocket.

For clients that keep one socket open (and for proxies that buffer SSE). One JSON text frame
per item: an event as ``{"id", "kind", "at", ...}`` (the SSE event's data), ``{"kind":
"gap", "after": N}`` when events were dropped from the ring, ``{"kind": "heartbeat"}`` after
15 s idle. ``?cursor=N`` resumes after event N; without it, only new events. The server
only sends: a frame from the client is ignored, and its close ends the stream at once.

A browser sends its session cookie with a WebSocket handshake from any site, so the guard
refuses a handshake whose ``Origin`` is another site (cross-site WebSocket hijacking) before
it looks at the session. The caller's key is read again as frames go out (at most once a
second): a revoked or expired key's socket is closed with 1008.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from litestar import WebSocket, websocket
from litestar.params import Parameter

from agentdock_plugins.controlplane.access import StillAllowed, controlplane_of, require
from agentdock_plugins.controlplane.events import HEARTBEAT_S, Event, Gap, follow

__all__ = ["event_socket"]


@websocket("/controller/events", guards=[require("viewer")])
async def event_socket(
    socket: WebSocket[Any, Any, Any], cursor: Annotated[int | None, Parameter(ge=0)] = None
) -> None:
    log = controlplane_of(socket).events
    position = log.last_id if cursor is None else cursor
    allowed = StillAllowed(socket, "viewer")
    await socket.accept()

    async def send() -> None:
        async for item in follow(log, position, HEARTBEAT_S):
            if not allowed():  # the key was revoked or expired: close (policy violation)
                await socket.close(code=1008)
                tasks.cancel_scope.cancel()
                return
            if isinstance(item, Event):
                frame: dict[str, Any] = item.to_json()
            elif isinstance(item, Gap):
                frame = {"kind": "gap", "after": item.after}
            else:
                frame = {"kind": "heartbeat"}
            await socket.send_text(json.dumps(frame))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(send)
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
        tasks.cancel_scope.cancel()
