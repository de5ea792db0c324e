"""The offline buffer: export requests LangFuse could not take yet, on local disk.

Each row is one encoded OTLP export request (the gzip'd protobuf body, exactly what will be
POSTed) under a batch id, so a re-send is byte-for-byte the first attempt and carries the
same id. Rows hold no key, header or URL. The buffer is bounded twice: by total body bytes
(the oldest rows go first when a new one does not fit) and by age (rows older than the
retention are dropped). Every loss is counted in :attr:`SpanBuffer.stats`.

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
    body        BLOB NOT NULL
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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    # -- writing -----------------------------------------------------------------------------

    def put(self, batch_id: str, body: bytes, *, now: float | None = None) -> bool:
        """Keep ``body`` for a later re-send; ``False`` when it could not be kept (counted)."""
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
                    self._make_room(size)
                    self._db.execute(
                        "INSERT OR IGNORE INTO batches (batch_id, created_at, size, body) "
                        "VALUES (?, ?, ?, ?)",
                        (batch_id, now, size, body),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self.stats.dropped_disk += 1
                self._disk_warning(exc)
                return False
        self.stats.stored += 1
        return True

    def _make_room(self, size: int) -> None:
        used = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM batches").fetchone()[0]
        while used + size > self.max_bytes:
            row = self._db.execute(
                "SELECT batch_id, size FROM batches ORDER BY created_at LIMIT 1"
            ).fetchone()
            if row is None:
                break
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (row[0],))
            used -= row[1]
            self.stats.dropped_full += 1
            log.warning("LangFuse buffer is full (%d bytes); dropped its oldest batch", used)

    def _expire(self, now: float) -> None:
        cursor = self._db.execute(
            "DELETE FROM batches WHERE created_at < ?", (now - self.retention_s,)
        )
        if cursor.rowcount > 0:
            self.stats.dropped_expired += cursor.rowcount
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
        """Forget a row LangFuse accepted (or, ``delivered=False``, refused for good)."""
        with self._lock:
            try:
                self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            except sqlite3.Error as exc:
                self._disk_warning(exc)
                return
        if delivered:
            self.stats.sent += 1
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
