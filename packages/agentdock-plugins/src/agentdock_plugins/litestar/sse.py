"""Server-Sent Events over a pipeline stream: frames, heartbeats and cancellation.

The agent advances in a child task so the response can send ``: ping`` comments while it is
idle. When the client goes away, Litestar cancels the response; the ``finally`` below then
cancels the child task (the cancellation reaches the agent) and waits for it, shielded, so no
task of the run outlives the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator

import anyio
from agentdock_runtime import InternalError, StreamItem

from agentdock_plugins.litestar.encoding import sse_comment, sse_frame

__all__ = ["sse_stream"]

log = logging.getLogger("agentdock.server")

_PING = sse_comment("ping")


async def _next(items: AsyncGenerator[StreamItem, None]) -> StreamItem:
    return await anext(items)


async def sse_stream(
    first: StreamItem, items: AsyncGenerator[StreamItem, None], *, heartbeat: float
) -> AsyncIterator[bytes]:
    """Yield ``first`` and every further item as SSE frames, with heartbeats while idle."""
    yield sse_frame(first)
    last_id = first.id
    pending: asyncio.Task[StreamItem] | None = None
    try:
        while True:
            pending = asyncio.get_running_loop().create_task(_next(items))
            while True:
                done, _ = await asyncio.wait((pending,), timeout=heartbeat)
                if done:
                    break
                yield _PING
            task, pending = pending, None
            try:
                item = task.result()
            except StopAsyncIteration:
                return
            except Exception as exc:
                run_id = first.data.get("run_id")
                log.error("run %s: stream failed with %s", run_id, type(exc).__name__)
                error = InternalError("the runtime failed to complete the run")
                yield sse_frame(StreamItem(last_id + 1, "error", error.envelope(run_id)))
                return
            last_id = item.id
            yield sse_frame(item)
    finally:
        with anyio.CancelScope(shield=True):
            if pending is not None:
                pending.cancel()
                await asyncio.wait((pending,))
            await items.aclose()
