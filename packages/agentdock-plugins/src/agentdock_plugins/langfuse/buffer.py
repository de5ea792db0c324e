"""The offline buffer: export requests LangFuse could not take yet, on local disk.

Each row is one encoded OTLP export request (the gzip'd protobuf body, exactly what will be
POSTed) under a batch id, so a re-send is byte-for-byte the first attempt and carries the
same id, with the number of telemetry events its runs were built from. Rows hold no key,
header or URL. The buffer is bounded twice: by total body bytes (the oldest rows go first
when a new one does not fit) and by age (rows older than the retention are dropped). Every
loss is counted in :attr:`SpanBuffer.stats`, in rows and in events.

Several worker processes may share one file: a sender *leases* a row before sending it, so
two processes never send the same row at the same time, and a lease that outlives a crashed
process expires.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BufferStats", "SpanBuffer"]

log = logging.getLogger("agentdock.langfuse")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id    TEXT PRIMARY KEY,
    created_at  REAL NOT NULL,
    size        INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    leased_until REAL NOT NULL DEFAULT 0,
    body        BLOB NOT NULL,
    events      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batches_created ON batches (created_at);
"""
#: How long a sender owns a row it is sending.
LEASE_S = 60.0


@dataclass
class BufferStats:
    """What happened to buffered batches since start-up."""

    stored: int = 0
    sent: int = 0
    dropped_full: int = 0
    dropped_expired: int = 0
    dropped_disk: int = 0
    #: Telemetry events of the rows above that the buffer had kept and then lost (made room,
    #: expired, or refused by LangFuse on a re-send); a row it could not take is the
    #: caller's to count.
    events_dropped: int = 0


class SpanBuffer:
    """A bounded SQLite spool of encoded export requests.

    :param path: the database file (its directory is created).
    :param max_bytes: the most body bytes kept; older rows are dropped to make room.
    :param retention_s: rows older than this are dropped.
    """

    def __init__(self, path: Path, *, max_bytes: int, retention_s: float) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.retention_s = retention_s
        self.stats = BufferStats()
        self._lock = threading.Lock()
        self._warned_disk = False
        self._warned_full = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_events_column()

    def _add_events_column(self) -> None:
        """A buffer written before rows counted their events gets the column (0 for old
        rows); another process adding it at the same time is fine."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batches)")}
        if "events" not in columns:
            try:
                self._db.execute("ALTER TABLE batches ADD COLUMN events INTEGER NOT NULL DEFAULT 0")
            except sqlite3.OperationalError:
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(batches)")}
                if "events" not in columns:
                    raise

    # -- writing -----------------------------------------------------------------------------

    def put(self, batch_id: str, body: bytes, *, events: int = 0, now: float | None = None) -> bool:
        """Keep ``body`` (built from ``events`` telemetry events) for a later re-send;
        ``False`` when it could not be kept (counted as a row; its events are the caller's)."""
        now = time.time() if now is None else now
        size = len(body)
        if size > self.max_bytes:
            self.stats.dropped_full += 1
            log.warning("LangFuse batch of %d bytes exceeds the buffer bound; dropped", size)
            return False
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._expire(now)
                    room = self._make_room(size, now)
                    if room:
                        self._db.execute(
                            "INSERT OR IGNORE INTO batches"
                            " (batch_id, created_at, size, body, events) VALUES (?, ?, ?, ?, ?)",
                            (batch_id, now, size, body, events),
                        )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self.stats.dropped_disk += 1
                self._disk_warning(exc)
                return False
        if not room:
            self.stats.dropped_full += 1
            self._full_warning("every batch in it is being sent; a new batch was dropped")
            return False
        self.stats.stored += 1
        return True

    def _make_room(self, size: int, now: float) -> bool:
        """Drop the oldest rows until ``size`` more bytes fit; ``False`` (nothing dropped)
        when they cannot. A row being sent (leased) is never dropped: it may be arriving
        at LangFuse right now, and a loss must be counted only when it is one."""
        used, free = self._db.execute(
            "SELECT COALESCE(SUM(size), 0), COALESCE(SUM(CASE WHEN leased_until < ? "
            "THEN size ELSE 0 END), 0) FROM batches",
            (now,),
        ).fetchone()
        if used + size <= self.max_bytes:
            return True
        if used - free + size > self.max_bytes:
            return False
        while used + size > self.max_bytes:
            batch_id, row_size, events = self._db.execute(
                "SELECT batch_id, size, events FROM batches WHERE leased_until < ? "
                "ORDER BY created_at LIMIT 1",
                (now,),
            ).fetchone()
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            used -= row_size
            self.stats.dropped_full += 1
            self.stats.events_dropped += events
            self._full_warning("dropped its oldest batches")
        return True

    def _full_warning(self, what: str) -> None:
        # One warning until LangFuse takes a batch again, not one per batch of a flood.
        if not self._warned_full:
            self._warned_full = True
            log.warning("LangFuse buffer is full (%d bytes); %s", self.max_bytes, what)

    def _expire(self, now: float) -> None:
        # Rows being sent wait for their sender's verdict, as in _make_room.
        args = (now - self.retention_s, now)
        (events,) = self._db.execute(
            "SELECT COALESCE(SUM(events), 0) FROM batches"
            " WHERE created_at < ? AND leased_until < ?",
            args,
        ).fetchone()
        cursor = self._db.execute(
            "DELETE FROM batches WHERE created_at < ? AND leased_until < ?", args
        )
        if cursor.rowcount > 0:
            self.stats.dropped_expired += cursor.rowcount
            self.stats.events_dropped += events
            log.warning(
                "dropped %d LangFuse batches older than the buffer's retention", cursor.rowcount
            )

    def _disk_warning(self, exc: sqlite3.Error) -> None:
        # One warning per outage, not one per batch.
        if not self._warned_disk:
            self._warned_disk = True
            log.warning(
                "LangFuse buffer unavailable (%s); batches are dropped and counted",
                type(exc).__name__,
            )

    # -- sending -----------------------------------------------------------------------------

    def lease(
        self, limit: int, *, now: float | None = None, lease_s: float = LEASE_S
    ) -> list[tuple[str, bytes]]:
        """The oldest rows nobody is sending, leased to the caller for ``lease_s`` seconds
        (long enough to send them all: another sender never takes a row still being sent)."""
        now = time.time() if now is None else now
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._expire(now)
                    rows = self._db.execute(
                        "SELECT batch_id, body FROM batches WHERE leased_until < ? "
                        "ORDER BY created_at LIMIT ?",
                        (now, limit),
                    ).fetchall()
                    self._db.executemany(
                        "UPDATE batches SET leased_until = ?, attempts = attempts + 1 "
                        "WHERE batch_id = ?",
                        [(now + lease_s, row[0]) for row in rows],
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._disk_warning(exc)
                return []
        return [(str(batch_id), bytes(body)) for batch_id, body in rows]

    def done(self, batch_id: str, *, delivered: bool = True) -> None:
        """Forget a row LangFuse accepted (or, ``delivered=False``, refused for good: its
        events are counted lost)."""
        with self._lock:
            try:
                row = None
                if not delivered:
                    row = self._db.execute(
                        "SELECT events FROM batches WHERE batch_id = ?", (batch_id,)
                    ).fetchone()
                self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            except sqlite3.Error as exc:
                self._disk_warning(exc)
                return
        if delivered:
            self.stats.sent += 1
            self._warned_full = False
        elif row is not None:
            self.stats.events_dropped += row[0]
        self._warned_disk = False

    def release(self, batch_id: str) -> None:
        """Give a leased row back after a failed attempt, so the next pass retries it."""
        with self._lock:
            try:
                self._db.execute(
                    "UPDATE batches SET leased_until = 0 WHERE batch_id = ?", (batch_id,)
                )
            except sqlite3.Error as exc:
                self._disk_warning(exc)

    # -- looking -----------------------------------------------------------------------------

    def pending(self) -> int:
        """Rows waiting to be sent."""
        with self._lock:
            try:
                return int(self._db.execute("SELECT COUNT(*) FROM batches").fetchone()[0])
            except sqlite3.Error:
                return 0

    def size_bytes(self) -> int:
        """Body bytes held."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM batches").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
