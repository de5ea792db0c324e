"""The embedded registry store: one SQLite file, WAL journal, foreign keys on.

One connection per store, shared across threads behind a lock: the runtime reads keys from
a worker thread and writes ``last_used_at`` in batches from another, the CLI uses it from
the main thread. WAL lets a CLI write (``key revoke``) while a runtime reads; the busy
timeout makes a writer wait for another writer instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentdock.registry.migrations import MIGRATIONS
from agentdock.registry.records import ApiKeyRecord, AuditEntry

__all__ = [
    "BUSY_TIMEOUT_MS",
    "HOME_ENV",
    "RegistryError",
    "SQLiteStore",
    "default_registry_path",
    "open_store",
]

HOME_ENV = "AGENTDOCK_HOME"
BUSY_TIMEOUT_MS = 5000

_KEY_SELECT = (
    "SELECT k.id, a.name, k.role, k.hashed_key, k.hash_algorithm, k.created_at, k.created_by, "
    "k.expires_at, k.revoked_at, k.rotated_at, k.grace_until, k.replaced_by, k.last_used_at "
    "FROM api_keys k JOIN agents a ON a.id = k.agent_id"
)
#: Details keys an audit entry may never carry, whatever the caller passes.
_SECRET_WORDS = ("key", "secret", "token", "password", "digest", "hash")
_SAFE_DETAIL_KEYS = frozenset({"key_id", "new_key_id", "old_key_id", "hash_algorithm"})


class RegistryError(Exception):
    """The registry cannot be opened or a write broke a constraint (one-line cause)."""


def default_registry_path(project_dir: str | os.PathLike[str] | None = None) -> Path:
    """``$AGENTDOCK_HOME/registry.db`` when set, else ``<project>/.agentdock/registry.db``."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home) / "registry.db"
    base = Path(project_dir) if project_dir is not None else Path.cwd()
    return base / ".agentdock" / "registry.db"


def open_store(
    path: str | os.PathLike[str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
) -> SQLiteStore:
    """Open (creating it and its directory if needed) and migrate the registry."""
    target = Path(path) if path is not None else default_registry_path(project_dir)
    store = SQLiteStore(target)
    try:
        store.migrate()
    except sqlite3.Error as exc:
        store.close()
        raise RegistryError(f"cannot migrate the registry {store.path}: {exc}") from None
    return store


def _key(row: tuple[Any, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(*row)


def _clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (details or {}).items():
        lowered = name.lower()
        if lowered not in _SAFE_DETAIL_KEYS and any(w in lowered for w in _SECRET_WORDS):
            continue
        out[name] = value
    return out


class SQLiteStore:
    """Registry store on :mod:`sqlite3` (satisfies :class:`agentdock.protocols.Store`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise RegistryError(f"cannot open the registry {self.path}: {exc}") from None
        self._lock = threading.RLock()
        with self._lock:
            try:
                self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:  # not a database, read-only, locked, ...
                self._conn.close()
                raise RegistryError(f"cannot open the registry {self.path}: {exc}") from None

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def migrate(self) -> None:
        """Apply every migration not yet recorded in ``schema_migrations``."""
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            for number, script in MIGRATIONS:
                with self._tx() as conn:
                    done = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (number,)
                    ).fetchone()
                    if done:
                        continue
                    for statement in script.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        (number, time.time()),
                    )

    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def pragma(self, name: str) -> Any:
        """One PRAGMA's value (``journal_mode``, ``foreign_keys``, ``busy_timeout``)."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._lock:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    # -- agents ---------------------------------------------------------------------------

    def _agent_id(self, conn: sqlite3.Connection, name: str, now: float) -> int:
        row = conn.execute("SELECT id FROM agents WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        cur = conn.execute("INSERT INTO agents (name, created_at) VALUES (?, ?)", (name, now))
        return int(cur.lastrowid or 0)

    # -- API keys -------------------------------------------------------------------------

    def create_api_key(
        self,
        *,
        agent: str,
        role: str,
        key_id: str,
        hashed_key: str,
        hash_algorithm: str,
        expires_at: float | None = None,
        created_by: str | None = None,
        now: float | None = None,
    ) -> ApiKeyRecord:
        """Insert a key row (the agent row is created on first use)."""
        at = time.time() if now is None else now
        try:
            with self._tx() as conn:
                agent_id = self._agent_id(conn, agent, at)
                conn.execute(
                    "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, "
                    "created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key_id,
                        agent_id,
                        role,
                        hashed_key,
                        hash_algorithm,
                        at,
                        created_by,
                        expires_at,
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise RegistryError(f"cannot store key {key_id}: {exc}") from None
        record = self.get_api_key(key_id)
        assert record is not None
        return record

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The row of one key id (the public part of a presented key), or None."""
        with self._lock:
            row = self._conn.execute(f"{_KEY_SELECT} WHERE k.id = ?", (key_id,)).fetchone()
        return _key(row) if row is not None else None

    def list_api_keys(self, agent: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one agent), oldest first."""
        with self._lock:
            if agent is None:
                rows = self._conn.execute(f"{_KEY_SELECT} ORDER BY k.created_at, k.id").fetchall()
            else:
                rows = self._conn.execute(
                    f"{_KEY_SELECT} WHERE a.name = ? ORDER BY k.created_at, k.id", (agent,)
                ).fetchall()
        return [_key(row) for row in rows]

    def rotate_api_key(
        self,
        *,
        agent: str,
        key_id: str,
        new_key_id: str,
        new_hashed_key: str,
        hash_algorithm: str,
        grace_seconds: float,
        created_by: str | None = None,
        now: float | None = None,
    ) -> tuple[ApiKeyRecord, ApiKeyRecord] | None:
        """Replace a live key by a new one with the same role and expiry, in one transaction.

        The old key stays valid until ``now + grace_seconds``. Returns ``(old, new)``, or
        None when the agent has no such live (not revoked, not rotated, not expired) key.
        """
        at = time.time() if now is None else now
        with self._tx() as conn:
            row = conn.execute(
                "SELECT k.agent_id, k.role, k.expires_at FROM api_keys k JOIN agents a "
                "ON a.id = k.agent_id WHERE k.id = ? AND a.name = ? AND k.revoked_at IS NULL "
                "AND k.rotated_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)",
                (key_id, agent, at),
            ).fetchone()
            if row is None:
                return None
            agent_id, role, expires_at = row
            conn.execute(
                "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, "
                "created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new_key_id,
                    agent_id,
                    role,
                    new_hashed_key,
                    hash_algorithm,
                    at,
                    created_by,
                    expires_at,
                ),
            )
            conn.execute(
                "UPDATE api_keys SET rotated_at = ?, grace_until = ?, replaced_by = ? WHERE id = ?",
                (at, at + grace_seconds, new_key_id, key_id),
            )
        old, new = self.get_api_key(key_id), self.get_api_key(new_key_id)
        assert old is not None and new is not None
        return old, new

    def revoke_api_key(
        self, *, agent: str, key_id: str, now: float | None = None
    ) -> ApiKeyRecord | None:
        """Mark a key revoked (effective immediately); None when the agent has no such key.

        Revoking an already revoked key keeps its first ``revoked_at``.
        """
        at = time.time() if now is None else now
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? "
                "AND agent_id = (SELECT id FROM agents WHERE name = ?)",
                (at, key_id, agent),
            )
            if cur.rowcount == 0:
                return None
        return self.get_api_key(key_id)

    def touch_api_keys(self, used: Mapping[str, float] | Iterable[tuple[str, float]]) -> int:
        """Record ``last_used_at`` for many keys in one transaction; returns rows changed.

        Called in batches off the request path; a time never moves backwards.
        """
        items = list(used.items() if isinstance(used, Mapping) else used)
        if not items:
            return 0
        with self._tx() as conn:
            cur = conn.executemany(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ? "
                "AND (last_used_at IS NULL OR last_used_at < ?)",
                [(at, key_id, at) for key_id, at in items],
            )
            return int(cur.rowcount)

    # -- audit log ------------------------------------------------------------------------

    def append_audit(
        self,
        action: str,
        *,
        actor: str,
        agent: str | None = None,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> AuditEntry:
        """Append one audit entry; detail fields whose names look secret are dropped."""
        at = time.time() if now is None else now
        clean = _clean_details(details)
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO audit_log (at, actor, action, agent, target, details_json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (at, actor, action, agent, target, json.dumps(clean, sort_keys=True)),
            )
            entry_id = int(cur.lastrowid or 0)
        return AuditEntry(entry_id, at, actor, action, agent, target, clean)

    def list_audit(self, *, agent: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries (of one agent), oldest first."""
        query = "SELECT id, at, actor, action, agent, target, details_json FROM audit_log"
        args: tuple[Any, ...] = ()
        if agent is not None:
            query += " WHERE agent = ?"
            args = (agent,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(query, (*args, int(limit))).fetchall()
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in reversed(rows)
        ]
