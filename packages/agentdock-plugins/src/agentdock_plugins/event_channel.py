"""The channel that carries a run's events from its producer (a task or a thread) to the
consumer that streams them, then the run's usage.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from agentdock.run import StreamEvent

from agentdock_plugins.langchain_messages import usage_data

if TYPE_CHECKING:
    from agentdock_plugins.langchain_callbacks import RunTracker

__all__ = ["EventChannel"]


class _End:
    """The producer finished (``error`` is ``None``) or failed."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class EventChannel:
    """Carries a run's events from its producer (a task or a thread) to the consumer."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[StreamEvent | _End] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        #: Set when the consumer stopped listening; a thread producer checks it.
        self.closed = threading.Event()

    def put(self, event: StreamEvent) -> None:
        """Enqueue from the loop's thread."""
        self._queue.put_nowait(event)

    def put_threadsafe(self, event: StreamEvent | _End) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def run(
        self,
        produce: Callable[[], Awaitable[None]],
        tracker: RunTracker,
    ) -> AsyncIterator[StreamEvent]:
        """Run ``produce`` as a task and yield what it and the callbacks emit, then usage."""

        async def producer() -> None:
            try:
                await produce()
            except Exception as error:  # handed to the consumer, which raises it
                self._queue.put_nowait(_End(error))
            else:
                self._queue.put_nowait(_End())

        task = asyncio.create_task(producer())
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        tracker.finish(item.error)
                        raise item.error
                    break
                yield item
            tracker.finish()
            yield StreamEvent("usage", usage_data(tracker.usage))
        finally:
            self.closed.set()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
