"""The thread that hears of API key changes, shared by the Redis and PostgreSQL feeds.

A feed holds a connection of its own (a Redis subscription, a PostgreSQL ``LISTEN``) in a
daemon thread and connects again, every ``retry_s``, whenever it fails. Changes sent while
it was away are lost, so each (re)connection is reported as a change of unknown extent
(``on_change(None)``) and the runtime re-reads every key row it holds. The first failure of
an outage is logged once, with the exception type only (a URL or a driver message may carry
a password or the server's address), and so is the recovery.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["RETRY_S", "KeyFeed"]

#: Seconds between attempts to connect again after the connection failed.
RETRY_S = 1.0


class KeyFeed:
    """Calls ``on_change(payload)`` for each change a session hears, ``on_change(None)`` on
    each (re)connection, from a daemon thread; :meth:`stop` ends it.

    A subclass sets the class attributes and implements :meth:`_listen`; its own attributes
    must be set before ``super().__init__`` (which starts the thread).
    """

    #: The logger of the warnings below.
    log: logging.Logger
    #: Logged (``%s``: the exception type) when a session fails after having worked.
    failing_message: str
    #: Logged when a session works again after a failure.
    recovered_message: str
    #: What a session's failure raises; anything else ends the thread.
    errors: tuple[type[BaseException], ...] = (Exception,)
    thread_name = "agentdock-key-feed"

    def __init__(self, on_change: Callable[[Any], None], *, retry_s: float = RETRY_S) -> None:
        self._on_change = on_change
        self._retry_s = retry_s
        self._failing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        """One session: connect, call :meth:`_connected` once listening, then hand each
        change to ``self._on_change`` until ``self._stop`` is set; raise on a failure."""
        raise NotImplementedError

    def _connected(self) -> None:
        """A session listens (again): whatever was sent meanwhile is unknown."""
        if self._failing:
            self.log.warning(self.recovered_message)
            self._failing = False
        self._on_change(None)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except self.errors as exc:
                if not self._failing:
                    self.log.warning(self.failing_message, type(exc).__name__)
                    self._failing = True
                self._stop.wait(self._retry_s)

    def stop(self) -> None:
        """End the thread (within one wait) and close its connection."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
