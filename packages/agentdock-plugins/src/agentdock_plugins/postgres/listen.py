"""``LISTEN`` for API key changes, on a connection of its own, in a daemon thread.

The registry store sends ``NOTIFY`` on :data:`~agentdock.registry.KEY_CHANNEL` in the
transaction that revokes or rotates a key, so every runtime reading the same database hears
of it the moment it commits, whichever host it runs on. Listening needs only the right to
connect: nothing is written. When the connection drops, notifications sent meanwhile are
lost, so each (re)connection is reported as a change of unknown extent (``None``) and the
runtime re-reads every row it holds; TCP keepalives make a silently dead server count as a
drop within about half a minute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from agentdock.registry import KEY_CHANNEL

__all__ = ["KeyChangeListener"]

log = logging.getLogger("agentdock.registry")

#: Seconds between attempts to listen again after the connection failed.
RETRY_S = 1.0
#: Seconds one wait for notifications lasts (how soon ``stop()`` is noticed).
_WAIT_S = 0.5
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}


class KeyChangeListener:
    """Calls ``on_change(payload)`` for each key change, ``on_change(None)`` on each
    (re)connection; :meth:`stop` ends the thread."""

    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[str | None], None],
        *,
        connect_timeout: int = 5,
        retry_s: float = RETRY_S,
    ) -> None:
        self._conninfo = conninfo
        self._on_change = on_change
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": connect_timeout,
            **_KEEPALIVES,
        }
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentdock-key-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, **self._kwargs) as conn:
                    conn.execute(f"LISTEN {KEY_CHANNEL}")
                    if failing:
                        log.warning("listening for API key changes again")
                        failing = False
                    self._on_change(None)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=_WAIT_S):
                            self._on_change(note.payload)
            except psycopg.Error as exc:
                if not failing:
                    # The type only: a driver message may carry the server's address.
                    log.warning(
                        "cannot listen for API key changes (%s); cached key rows expire "
                        "on their own meanwhile",
                        type(exc).__name__,
                    )
                    failing = True
                self._stop.wait(self._retry_s)

    def stop(self) -> None:
        """End the thread (within one wait) and close its connection."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
