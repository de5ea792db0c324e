"""The local collector sink: run, tool and policy rows written to SQLite by one thread.

``emit`` (in the telemetry drain task) turns events into row tuples and queues them, one
list per batch; past ``max_queued`` rows it drops and counts. A worker thread inserts in
batches, one transaction each, and prunes past the retention bounds every
``prune_every`` rows, so neither SQLite's writes nor its fsyncs ever run on the event loop.

Bound to a pipeline (``bind``), it also records the telemetry events every sink lost, as
``drop`` rows, with the next batch after a loss and at shutdown, so ``agentdock metrics
show`` reports them next to the runs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock_plugins.localstore.store import (
    Retention,
    connect,
    drop_row,
    insert_rows,
    prune,
    row_from_event,
    telemetry_db_path,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["LocalStoreSink"]

log = logging.getLogger("agentdock.localstore")


#: After writing a partial batch, the writer waits this long for more rows.
LINGER_SEC = 0.05
#: Longest wait between attempts to open an unavailable store.
MAX_RETRY_SEC = 60.0


class LocalStoreSink:
    """Keeps run, tool and policy rows in the local telemetry store.

    :param spec: the resolved ``DockSpec`` (its tool allow-list bounds stored tool names).
    :param path: the SQLite file (default: :func:`telemetry_db_path`).
    :param retention: row and age bounds (default: from the environment).
    """

    #: Seconds before the first new attempt to open an unavailable store (then doubling).
    retry_after = 1.0

    def __init__(
        self,
        spec: DockSpec | None = None,
        *,
        path: Path | None = None,
        retention: Retention | None = None,
        max_queued: int = 10_000,
        batch_size: int = 500,
        prune_every: int = 1_000,
    ) -> None:
        #: The events that become rows (``TelemetrySink.wants``).
        self.wants = frozenset({"run_end", "tool_event", "policy_event"})
        self.path = path if path is not None else telemetry_db_path()
        self.retention = retention if retention is not None else Retention.from_env()
        # Without a spec (a sink made by hand): any tool name, agent ``unknown``.
        allowed = spec.policies.tools.allowed if spec is not None else None
        self._tool_names = frozenset(allowed) if allowed else None
        self._agent = spec.agent.name if spec is not None else "unknown"
        self._pipeline: Any | None = None
        #: Each sink's loss count as of its last queued ``drop`` row.
        self._drops_seen: dict[str, int] = {}
        self.batch_size = batch_size
        self.prune_every = prune_every
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        #: Rows that may wait for the writer; ``0`` or less: unbounded (as ``queue.Queue``).
        self.max_queued = max_queued if max_queued > 0 else sys.maxsize
        # Rows wait as the lists ``emit`` made, one per batch of events: a lock and a
        # notify per batch, where a ``queue.Queue`` of rows took a put, a get and a
        # ``task_done`` per row (one core, echo graph: ~10 µs more CPU a run).
        self._batches: deque[list[tuple[Any, ...]]] = deque()
        self._queued = 0
        self._stop = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def queued(self) -> int:
        """Rows waiting for the writer."""
        return self._queued

    def bind(self, pipeline: Any) -> None:
        """Record the events each of ``pipeline``'s sinks loses (``telemetry_drops``)."""
        if callable(getattr(pipeline, "telemetry_drops", None)):
            self._pipeline = pipeline
            self._agent = str(getattr(pipeline, "agent", None) or self._agent)

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        names = self._tool_names
        rows = [row for event in events if (row := row_from_event(event, names)) is not None]
        with self._cond:
            if rows:
                room = self.max_queued - self._queued
                if room < len(rows):
                    self.dropped += len(rows) - max(room, 0)
                    rows = rows[: max(room, 0)]
            rows.extend(self._drop_rows())
            if rows:
                self._ensure_thread()
                self._batches.append(rows)
                self._queued += len(rows)
                self._cond.notify()

    def _drop_rows(self) -> list[tuple[Any, ...]]:
        """A ``drop`` row for each sink that lost events since its last one, while there is
        room (under ``_cond``); one that does not fit waits for a later batch, uncounted."""
        if self._pipeline is None:
            return []
        rows: list[tuple[Any, ...]] = []
        now = time.time()
        for sink, total in self._pipeline.telemetry_drops().items():
            delta = total - self._drops_seen.get(sink, 0)
            if delta > 0 and self._queued + len(rows) < self.max_queued:
                rows.append(drop_row(self._agent, sink, delta, now))
                self._drops_seen[sink] = total
        return rows

    def _ensure_thread(self) -> None:
        """Start the writer if it is not running (under ``_cond``)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="agentdock-localstore", daemon=True)
        self._thread.start()

    def _take(self, timeout: float | None = None) -> list[tuple[Any, ...]] | None:
        """Up to ``batch_size`` queued rows (whole batches), waiting up to ``timeout`` for
        some; ``[]`` when none came, ``None`` when asked to stop and nothing is left."""
        with self._cond:
            if not self._batches and not self._stop:
                self._cond.wait(timeout)
            if not self._batches:
                return None if self._stop else []
            rows = self._batches.popleft()
            while self._batches and len(rows) + len(self._batches[0]) <= self.batch_size:
                rows.extend(self._batches.popleft())
            self._queued -= len(rows)
            return rows

    def _run(self) -> None:
        conn = self._connect()
        if conn is None:
            return
        since_prune = 0
        try:
            with suppress(sqlite3.Error):
                prune(conn, self.retention)
            while True:
                batch = self._take()
                if batch is None:
                    return
                if not batch:
                    continue
                try:
                    with conn:
                        insert_rows(conn, batch)
                    self.written += len(batch)
                    since_prune += len(batch)
                    if since_prune >= self.prune_every:
                        prune(conn, self.retention)
                        since_prune = 0
                # Disk full, locked too long, a value SQLite cannot hold: lose the batch.
                except (sqlite3.Error, OverflowError, ValueError) as exc:
                    self.write_errors += 1
                    with self._cond:  # emit counts its own drops under the same lock
                        self.dropped += len(batch)
                    log.warning("local telemetry store: %d rows lost (%s)", len(batch), exc)
                if len(batch) < self.batch_size and not self._stop:
                    # Let rows gather: one transaction (and one wake-up of this thread) for
                    # many runs rather than one per run, each of which costs the loop the GIL.
                    time.sleep(LINGER_SEC)
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        """Open the store, retrying with back-off (rows meanwhile are dropped and counted);
        ``None`` when asked to stop first."""
        delay = self.retry_after
        warned = False
        while True:
            try:
                return connect(self.path)
            except (OSError, sqlite3.Error) as exc:
                if not warned:
                    log.warning("local telemetry store %s unavailable (%s)", self.path, exc)
                    warned = True
            if self._discard_for(delay):
                return None
            delay = min(delay * 2, MAX_RETRY_SEC)

    def _discard_for(self, seconds: float) -> bool:
        """Drop (and count) rows for ``seconds``; True when a stop request came."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            rows = self._take(left)
            if rows is None:
                return True
            with self._cond:  # emit counts its own drops under the same lock
                self.dropped += len(rows)
        return False

    def _drain(self, timeout: float) -> None:
        with self._cond:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            self._stop = True
            self._cond.notify_all()
        thread.join(timeout)

    async def flush(self) -> None:
        """Record the sinks' last losses, write everything queued, then stop the writer (it
        restarts on the next event)."""
        await self.emit(())
        await asyncio.to_thread(self._drain, 5.0)
