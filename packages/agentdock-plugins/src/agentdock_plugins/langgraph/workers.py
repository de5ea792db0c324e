"""The worker threads that run synchronous graphs: few while calls are quick, more when they wait.

A synchronous graph runs in a thread so a slow node never holds the event loop. How many
threads may run at once matters both ways:

* an agent that waits seconds on a model needs many threads in flight, or a small pool
  caps how many requests it serves at once;
* a quick, CPU-bound graph gains nothing from many: every extra runnable thread competes
  for the GIL with the event loop and the others (over HTTP on one core, 1 or 2 threads
  serve the echo graph a quarter slower than 6, and 6, 16 or 32 are within the noise of
  one another).

So the pool starts with ``core`` threads in flight and lets more in only when calls stop
finishing: when a call is waiting and none has finished for ``grow_after`` seconds, the
waiting calls get threads of their own, up to ``maximum``. When calls finish quickly again
and nobody waits, the limit falls back towards ``core``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["WorkerPool", "default_core_threads"]

T = TypeVar("T")

#: Seconds without a finished call before waiting calls get more threads.
GROW_AFTER = 0.005


def default_core_threads(maximum: int) -> int:
    """Threads in flight while calls are quick: a few per core, never above ``maximum``."""
    return max(1, min(maximum, 2 * (os.cpu_count() or 1) + 2))


class WorkerPool:
    """Runs blocking calls in threads, ``core`` at a time until calls stop finishing."""

    def __init__(
        self,
        maximum: int,
        *,
        core: int | None = None,
        grow_after: float = GROW_AFTER,
        name: str = "agentdock-graph",
    ) -> None:
        if maximum < 1:
            raise ValueError(f"the worker pool needs at least 1 thread, not {maximum}")
        self.maximum = maximum
        self.core = min(core if core is not None else default_core_threads(maximum), maximum)
        self.grow_after = grow_after
        self._executor = ThreadPoolExecutor(max_workers=maximum, thread_name_prefix=name)
        #: Calls allowed in flight now (between ``core`` and ``maximum``).
        self.limit = self.core
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._progress = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread, in the caller's context variables."""
        loop = asyncio.get_running_loop()
        if self.running < self.limit and not self._waiting:
            self.running += 1
        else:
            await self._wait_turn(loop)
        call = functools.partial(contextvars.copy_context().run, function, *args)
        try:
            return await loop.run_in_executor(self._executor, call)
        finally:
            self._done()

    async def _wait_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append(turn)
        if self._timer is None:
            self._timer = loop.call_later(self.grow_after, self._check)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._done()  # the turn was handed over just as the caller gave up
            else:
                with contextlib.suppress(ValueError):  # already popped as cancelled
                    self._waiting.remove(turn)
            raise

    def _done(self) -> None:
        self._progress = time.monotonic()
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the finished call's slot goes to the next caller
                return
        self.running -= 1
        if self.limit > self.core and self.running < self.limit - 1:
            self.limit = max(self.core, self.running + 1)

    def _check(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        loop = asyncio.get_running_loop()
        if time.monotonic() - self._progress >= self.grow_after and self.limit < self.maximum:
            room = min(self.maximum - self.limit, len(self._waiting))
            self.limit += room
            for _ in range(room):
                turn = self._waiting.popleft()
                if not turn.done():
                    self.running += 1
                    turn.set_result(None)
        if self._waiting:
            self._timer = loop.call_later(self.grow_after, self._check)

    def shutdown(self) -> None:
        """Stop the threads; calls not started yet are dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._executor.shutdown(wait=False, cancel_futures=True)
