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
from collections.abc import Callable
from typing import Any

import psycopg
from agentdock.registry import KEY_CHANNEL

from agentdock_plugins.keyfeed import RETRY_S, KeyFeed

__all__ = ["KeyChangeListener"]

log = logging.getLogger("agentdock.registry")

#: Seconds one wait for notifications lasts (how soon ``stop()`` is noticed).
_WAIT_S = 0.5
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}


class KeyChangeListener(KeyFeed):
    """Calls ``on_change(payload)`` for each key change, ``on_change(None)`` on each
    (re)connection; :meth:`stop` ends the thread."""

    log = log
    # The type only: a driver message may carry the server's address.
    failing_message = (
        "cannot listen for API key changes (%s); cached key rows expire on their own meanwhile"
    )
    recovered_message = "listening for API key changes again"
    errors = (psycopg.Error,)
    thread_name = "agentdock-key-listen"

    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[str | None], None],
        *,
        connect_timeout: int = 5,
        retry_s: float = RETRY_S,
    ) -> None:
        self._conninfo = conninfo
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": connect_timeout,
            **_KEEPALIVES,
        }
        super().__init__(on_change, retry_s=retry_s)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, **self._kwargs) as conn:
            conn.execute(f"LISTEN {KEY_CHANNEL}")
            self._connected()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=_WAIT_S):
                    self._on_change(note.payload)
