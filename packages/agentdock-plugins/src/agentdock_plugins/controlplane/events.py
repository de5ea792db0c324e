"""The control plane's event log: what the dashboard and API clients follow live.

Events (``build_event``, ``deploy_status``, ``health_event``) are published from the
threads that run deploys and from the health watcher, numbered in order, and kept in a
bounded ring. A reader names the last id it saw (SSE ``Last-Event-ID``, or ``?cursor=``)
and gets everything after it, then waits; a reader whose cursor fell out of the ring is
told so by a ``gap`` event, then resumes at the oldest kept. Publishing never blocks on a
reader: a waiting reader is woken through its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

__all__ = ["EVENT_KINDS", "HEARTBEAT_S", "Event", "EventLog", "Gap", "Heartbeat", "follow"]

EVENT_KINDS = ("build_event", "deploy_status", "health_event")
#: How long an idle stream (SSE or WebSocket) waits before a heartbeat.
HEARTBEAT_S = 15.0


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str
    at: float
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at, **self.data}


class EventLog:
    """Numbered events in a ring of ``keep``; thread-safe publishing, async waiting."""

    def __init__(self, keep: int = 10_000) -> None:
        self._events: deque[Event] = deque(maxlen=keep)
        self._next = 1
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake readers on ``loop`` (the server's, at start-up)."""
        self._loop = loop
        self._changed = asyncio.Event()

    def publish(self, kind: str, **data: Any) -> Event:
        """Append an event (from any thread) and wake the readers."""
        with self._lock:
            event = Event(self._next, kind, time.time(), data)
            self._next += 1
            self._events.append(event)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # RuntimeError: the loop closed in between, so nobody is waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)
        return event

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        if changed is not None:
            changed.set()

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._next - 1

    def after(self, cursor: int, limit: int = 1000) -> tuple[list[Event], bool]:
        """Events with an id above ``cursor`` (at most ``limit``), and whether some between
        the cursor and the oldest kept were dropped from the ring."""
        with self._lock:
            events = list(self._events)
        gap = bool(events) and cursor + 1 < events[0].id and cursor < self._next - 1
        return [e for e in events if e.id > cursor][:limit], gap

    async def wait(self, cursor: int, timeout: float) -> None:
        """Return when an event after ``cursor`` exists, or after ``timeout`` seconds."""
        changed = self._changed
        if changed is None or self.last_id > cursor:
            return
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return


@dataclass(frozen=True, slots=True)
class Gap:
    """Events after ``after`` fell out of the ring before the reader got them."""

    after: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing happened for a while: proof the stream is alive."""


async def follow(
    log: EventLog, position: int, heartbeat_s: float
) -> AsyncIterator[Event | Gap | Heartbeat]:
    """Every event after ``position``, then each new one as it is published, for ever; a
    :class:`Gap` where some were dropped, a :class:`Heartbeat` after ``heartbeat_s`` idle.
    What the SSE and the WebSocket streams both send, each in its own framing."""
    while True:
        found, gap = log.after(position)
        if gap:
            yield Gap(position)
        for event in found:
            position = event.id
            yield event
        if not found:
            await log.wait(position, heartbeat_s)
            if log.last_id <= position:
                yield Heartbeat()
