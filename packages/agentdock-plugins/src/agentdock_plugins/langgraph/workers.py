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

A call reaches a thread through a ``queue.SimpleQueue`` and its result comes back with
``call_soon_threadsafe``, rather than through ``run_in_executor``: the executor's
``concurrent.futures.Future``, chained onto an asyncio future, cost the echo graph about
twice the hand-over time (21.7 µs against 10.5 µs a call, one core).

A call given a ``stop`` event outlives its caller's cancellation: the event is set (the
function checks it between steps) and the caller waits for the function to return before
the cancellation goes on, so nothing the function writes lands after its caller is told it
ended. The pool does this with the call's own future, rather than the caller wrapping the
call in a shielded task of its own (a task, a shield and one more turn of the loop a call).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
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
        self.name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        #: Calls handed to the threads whose result has not come back to the loop yet.
        self._outstanding = 0
        self._closed = False
        #: Taken by ``run`` (check, start a thread, queue) and by ``shutdown``, which may
        #: come from another thread.
        self._lock = threading.Lock()
        # A pool dropped without shutdown() still ends its threads, as an executor's do.
        weakref.finalize(self, _stop_threads, self._calls, self._threads)
        #: Calls allowed in flight now (between ``core`` and ``maximum``).
        self.limit = self.core
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._progress = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        #: Calls whose caller was cancelled and waits for them to return (``stop``), each
        #: with the future :meth:`_settle` resolves when the thread is done with it.
        self._stopping: dict[asyncio.Future[Any], asyncio.Future[None]] = {}

    async def run(
        self, function: Callable[..., T], *args: Any, stop: threading.Event | None = None
    ) -> T:
        """``function(*args)`` in a worker thread, in the caller's context variables.

        With ``stop``: a cancelled caller sets it and waits for ``function`` to return
        (unless the pool is shut down meanwhile), then is cancelled."""
        loop = asyncio.get_running_loop()
        if self.running < self.limit and not self._waiting:
            self.running += 1
        else:
            await self._wait_turn(loop)
        try:
            future: asyncio.Future[T] = loop.create_future()
            call = (loop, future, contextvars.copy_context(), function, args, self)
            with self._lock:
                if self._closed:
                    raise RuntimeError("the worker pool is shut down")
                self._outstanding += 1
                # A thread for every call in flight, even one whose caller gave up while its
                # function still runs, up to the maximum.
                if self._outstanding > len(self._threads) and len(self._threads) < self.maximum:
                    self._start_thread()
                self._calls.put(call)
            del call
            try:
                return await future
            except asyncio.CancelledError:
                if stop is not None and future.cancelled() and not self._closed:
                    await self._stopped(loop, future, stop)
                raise
        finally:
            self._done()

    async def _stopped(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], stop: threading.Event
    ) -> None:
        """Set ``stop`` and wait until the thread is done with the call of ``future`` (its
        caller cancelled it, so :meth:`_settle` has not seen it yet)."""
        stop.set()
        finished: asyncio.Future[None] = loop.create_future()
        self._stopping[future] = finished
        try:
            await finished
        finally:
            self._stopping.pop(future, None)

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=_work,
            args=(self._calls,),
            name=f"{self.name}_{len(self._threads)}",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _settle(
        self, future: asyncio.Future[Any], result: Any, error: BaseException | None
    ) -> None:
        """On the loop: the result of a call a thread finished."""
        self._outstanding -= 1
        if future.done():  # its caller gave up
            self._release(future)
            return
        if isinstance(error, StopIteration):  # a future cannot hold one (asyncio's rule)
            wrapped = RuntimeError(f"the call raised {type(error).__name__}")
            wrapped.__cause__ = error
            error = wrapped
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _release(self, future: asyncio.Future[Any]) -> None:
        """On the loop: a stopped call's caller may go on (see :meth:`_stopped`)."""
        finished = self._stopping.pop(future, None)
        if finished is not None and not finished.done():
            finished.set_result(None)

    def _drop(self, future: asyncio.Future[Any]) -> None:
        """On the loop: a call shut down before it started is cancelled."""
        future.cancel()
        self._release(future)

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
        """Stop the threads; calls not started yet are cancelled (from any thread)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while True:
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
                if call is not None:
                    loop, future = call[0], call[1]
                    with contextlib.suppress(RuntimeError):  # the loop is already closed
                        loop.call_soon_threadsafe(self._drop, future)
            _stop_threads(self._calls, self._threads)


def _stop_threads(calls: queue.SimpleQueue[Any], threads: list[threading.Thread]) -> None:
    """One stop for each thread (they end once the calls queued before it are done)."""
    for _ in threads:
        calls.put(None)


#: A call for a worker thread: the loop to answer on, its future, the caller's context
#: variables, the function and its arguments, and the pool that counts it.
_Call = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
    WorkerPool,
]


def _work(calls: queue.SimpleQueue[_Call | None]) -> None:
    """A worker thread: run calls until the pool puts ``None``."""
    while True:
        call = calls.get()
        if call is None:
            return
        loop, future, context, function, args, pool = call
        result: Any = None
        error: BaseException | None = None
        if not future.cancelled():  # its caller gave up before it started
            try:
                result = context.run(function, *args)
            except BaseException as exc:  # everything reaches the caller, as an executor does
                error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(pool._settle, future, result, error)
        # An idle thread keeps nothing of its last call (payload, context, pool, loop).
        del call, loop, future, context, function, args, pool, result, error
