"""Following an agent's log live: the target's ``logs(follow=True)`` (what ``agentdock logs
--follow`` prints) read in a thread of its own and handed to an SSE stream.

A target's follow blocks between lines (the local target polls its log file), so it cannot
run on the event loop, nor in the shared worker threads, which it would hold for as long
as a browser keeps the tab open. Each follower gets its own daemon thread and at most
:data:`MAX_FOLLOWERS` run at once. The thread hands lines over through a bounded window
(:data:`WINDOW` lines): when the client reads slower than the log grows the thread waits,
so memory stays bounded whatever the log does. When the client goes, the stream tells the
thread to stop and stops the target's log (:class:`~agentdock.deployment.followedlog.
FollowedLog`, what the built-in targets return): the thread's wait inside the target ends
at once and it frees its place among the followers. A target whose log is a plain iterator
cannot be woken: its thread stops at the log's next line or the runtime's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator

__all__ = ["END", "MAX_FOLLOWERS", "WINDOW", "Followers", "TooManyFollowers", "follow_log"]

#: How many logs one control plane follows at once (each holds a thread).
MAX_FOLLOWERS = 32
#: Lines read ahead of the client at most.
WINDOW = 1000
#: How often a thread waiting for room in the window checks whether its client left.
_CHECK_S = 0.5


class TooManyFollowers(Exception):
    """Every place for a followed log is taken."""


#: What :func:`follow_log` yields when the log ended (the runtime stopped).
END = object()


class Followers:
    """The places for followed logs. :meth:`full` answers a request before its stream
    starts; the stream takes its place when its thread starts (a response never sent holds
    none) and its thread gives it back when it ends."""

    def __init__(self, limit: int = MAX_FOLLOWERS) -> None:
        self._limit = limit
        self._taken = 0
        self._lock = threading.Lock()

    @property
    def taken(self) -> int:
        return self._taken

    def full(self) -> bool:
        with self._lock:
            return self._taken >= self._limit

    def take(self) -> bool:
        with self._lock:
            if self._taken >= self._limit:
                return False
            self._taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._taken -= 1


def _read(
    lines: Iterator[str],
    keep: Callable[[str], bool] | None,
    hand: Callable[[object], None],
    room: threading.Semaphore,
    stop: threading.Event,
    done: Callable[[], None],
) -> None:
    """The thread: each kept line into the window, then :data:`END`, until told to stop."""
    try:
        for line in lines:
            if stop.is_set():
                return
            if keep is not None and not keep(line):
                continue
            while not room.acquire(timeout=_CHECK_S):
                if stop.is_set():
                    return
            hand(line)
        hand(END)
    except Exception as exc:  # a target that fails mid-way ends the stream, named
        hand(exc)
    finally:
        with contextlib.suppress(Exception):
            close = getattr(lines, "close", None)
            if close is not None:
                close()
        done()


async def follow_log(
    lines: Iterator[str],
    keep: Callable[[str], bool] | None,
    followers: Followers,
    heartbeat_s: float,
) -> AsyncGenerator[object, None]:
    """Each line of ``lines`` that ``keep`` keeps, then :data:`END`; None after
    ``heartbeat_s`` without one; an exception the target raised, as the last item
    (:class:`TooManyFollowers` when every place is taken). The place this takes in
    ``followers`` is given back when the thread ends."""
    if not followers.take():
        yield TooManyFollowers(f"{MAX_FOLLOWERS} logs are followed already")
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    room = threading.Semaphore(WINDOW)
    stop = threading.Event()

    def hand(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, item)

    thread = threading.Thread(
        target=_read,
        args=(lines, keep, hand, room, stop, followers.give_back),
        name="agentdock-log-follow",
        daemon=True,
    )
    thread.start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), heartbeat_s)
            except TimeoutError:
                yield None
                continue
            if isinstance(item, str):
                room.release()
            yield item
            if not isinstance(item, str):
                return
    finally:
        stop.set()
        # Wakes the thread if it waits inside the target (FollowedLog.stop: thread-safe,
        # and it only sets an event or shuts a socket, so it never blocks the loop).
        stopping = getattr(lines, "stop", None)
        if callable(stopping):
            with contextlib.suppress(Exception):
                stopping()
