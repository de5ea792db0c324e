"""``/ws/stream``: runs over one WebSocket, one JSON text frame per stream item.

The client sends ``{"input": {...}, "thread_id": "..."}`` (``thread_id`` optional); the
server answers with ``{"event": KIND, "id": N, "data": {...}}`` frames, ``start`` to ``end``
or ``error``, the same items as the SSE stream. A frame that is not such an object gets one
``error`` frame holding the error envelope, and the connection stays open for the next run.
Credentials come from the handshake's headers. When the client disconnects mid-run, the run
is cancelled with the handler's task.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

from agentdock_runtime import MalformedJSONError, Pipeline, RuntimeHTTPError, StreamItem
from agentdock_runtime.iomodels import decode_json
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from agentdock_plugins.litestar.encoding import encode_json

__all__ = ["ws_session"]


def _frame(event: str, item_id: int, data: Mapping[str, Any]) -> str:
    return encode_json({"event": event, "id": item_id, "data": data}).decode()


def _request(raw: str | bytes) -> tuple[Any, str | None]:
    try:
        message = decode_json(raw)
    except MalformedJSONError:
        raise MalformedJSONError("the frame is not valid JSON") from None
    if type(message) is not dict or "input" not in message:
        raise RuntimeHTTPError(
            400, "BadRequest", 'a frame must be an object {"input": {...}}', path="input"
        )
    thread_id = message.get("thread_id")
    if thread_id is not None and not isinstance(thread_id, str):
        raise RuntimeHTTPError(400, "BadRequest", "thread_id must be a string", path="thread_id")
    value = message["input"]
    # Objects go to the pipeline as they are; anything else is re-encoded for its 422.
    return (value if type(value) is dict else encode_json(value)), thread_id


async def ws_session(
    socket: WebSocket[Any, Any, Any], pipeline: Pipeline, headers: Mapping[str, str]
) -> None:
    """Serve runs on ``socket`` until the client closes it."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await socket.receive_data(mode="text")
            try:
                payload, thread_id = _request(message)
                # Pipeline.stream is an async generator: aclose() ends the run on disconnect.
                items = cast(
                    "AsyncGenerator[StreamItem, None]",
                    pipeline.stream(payload, headers=headers, thread_id=thread_id),
                )
                async with contextlib.aclosing(items):
                    async for item in items:
                        await socket.send_text(_frame(item.event, item.id, item.data))
            except RuntimeHTTPError as exc:
                await socket.send_text(_frame("error", 1, exc.envelope()))
