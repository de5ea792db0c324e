"""A followed log that another thread may stop.

Following a runtime's log blocks between lines: the local target waits for its file to
grow, the docker and kubernetes targets wait on a socket for the engine's next chunk. A
reader that lost interest (a dashboard tab closed) cannot leave that wait by itself: a
generator cannot be closed while another thread runs it, so before this its thread held on
until the log's next line or the runtime's end, however long that took.

A target's ``logs`` returns a :class:`FollowedLog` instead of a bare iterator so whoever
reads it in a thread can call :meth:`FollowedLog.stop` from another one: a poller waiting
with :meth:`FollowedLog.wait` wakes at once, and the cancels registered with
:meth:`FollowedLog.on_stop` (closing the socket the read waits on) make a blocked read end;
the iteration then stops without an error. Plain iterators stay valid ``logs`` results:
their readers just cannot be stopped early.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator

__all__ = ["FollowedLog"]


class FollowedLog(Iterator[str]):
    """The lines of ``read(self)`` (called at once; a generator runs on the first
    ``next``), until they end or :meth:`stop` is called."""

    def __init__(self, read: Callable[[FollowedLog], Iterable[str]]) -> None:
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._cancels: list[Callable[[], object]] = []
        self._lines = iter(read(self))

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` between two looks at the log, or less if stopped meanwhile;
        whether it was stopped (for readers that poll)."""
        return self._stopped.wait(seconds)

    def on_stop(self, cancel: Callable[[], object]) -> None:
        """Call ``cancel`` (from the stopping thread) when stopped; at once if already."""
        with self._lock:
            if not self._stopped.is_set():
                self._cancels.append(cancel)
                return
        _quietly(cancel)

    def stop(self) -> None:
        """Make the reading thread's wait end promptly; safe from any thread, twice too."""
        with self._lock:
            self._stopped.set()
            cancels, self._cancels = self._cancels, []
        for cancel in cancels:
            _quietly(cancel)

    def __iter__(self) -> FollowedLog:
        return self

    def __next__(self) -> str:
        if self._stopped.is_set():
            raise StopIteration
        try:
            return next(self._lines)
        except StopIteration:
            raise
        except Exception:
            if self._stopped.is_set():  # the cancel broke the read: that is the end asked for
                raise StopIteration from None
            raise

    def close(self) -> None:
        """Stop, and close the lines (from the reading thread, or once it is done)."""
        self.stop()
        close = getattr(self._lines, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()


def _quietly(cancel: Callable[[], object]) -> None:
    # A cancel that fails (a socket already closed) must not stop the others.
    with contextlib.suppress(Exception):
        cancel()
