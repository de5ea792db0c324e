"""The embedded registry store: one SQLite file, WAL journal, foreign keys on.

One connection per store, shared across threads behind a lock: the runtime reads keys from
a worker thread and writes ``last_used_at`` in batches from another, the CLI uses it from
the main thread. WAL lets a CLI write (``key revoke``) while a runtime reads; the busy
timeout makes a writer wait for another writer instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from agentdock.capabilities import StoreAtPath, StoreAtUrl
from agentdock.home import HOME_ENV, HomeLocation, locate_home
from agentdock.registry import keyview
from agentdock.registry.migrations import MIGRATIONS
from agentdock.registry.sql import SQLStore
from agentdock.registry.sqlbase import Connection, RegistryError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DATABASE_URL_ENV",
    "HOME_ENV",
    "RUNTIME_DATABASE_URL_ENV",
    "RegistryError",
    "RegistryNotFound",
    "SQLiteStore",
    "default_registry_path",
    "describe_store",
    "open_store",
    "redact_url",
    "secure_home",
]

DATABASE_URL_ENV = "AGENTDOCK_DATABASE_URL"
#: The database URL a runtime reads its API keys with (a role that may read only its own
#: agent's keys: ``agentdock postgres runtime-role``), before ``AGENTDOCK_DATABASE_URL``.
RUNTIME_DATABASE_URL_ENV = "AGENTDOCK_RUNTIME_DATABASE_URL"
_SCHEMES = {"postgresql": "postgres", "postgres": "postgres"}
BUSY_TIMEOUT_MS = 5000


class RegistryNotFound(RegistryError):
    """No registry file where one was looked for (a command that only reads never creates
    one). ``searched`` says where, in words; ``path`` is the file it would be."""

    def __init__(self, path: Path, searched: str) -> None:
        super().__init__(f"no registry found (looked for {searched})")
        self.path = path
        self.searched = searched


def default_registry_path(project_dir: str | os.PathLike[str] | None = None) -> Path:
    """The registry file of the AgentDock home found from ``project_dir`` (default: the
    working directory): ``$AGENTDOCK_HOME/registry.db``, else the nearest
    ``.agentdock/registry.db`` up the tree, else ``<dir>/.agentdock/registry.db``
    (see :mod:`agentdock.home`)."""
    return locate_home(project_dir).registry


def open_store(
    path: str | os.PathLike[str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    url: str | None = None,
    create: bool = True,
    migrate: bool = True,
) -> SQLStore:
    """Open and migrate the registry.

    ``url`` (default: ``$AGENTDOCK_DATABASE_URL`` when no ``path`` is given) selects a store
    plugin by its scheme (``postgresql://`` → the ``postgres`` store); otherwise the
    embedded SQLite file at ``path`` or :func:`default_registry_path`. With ``create``
    False a missing SQLite file raises :class:`RegistryNotFound` and nothing is written
    (what commands that only read use). ``migrate`` False leaves a store plugin's schema
    alone (a runtime's least-privilege database role may not change it).
    """
    if url is None and path is None:
        url = os.environ.get(DATABASE_URL_ENV) or None
    if url:
        return _plugin_store(url, migrate=migrate)
    if path is not None:
        target, searched = Path(path), str(path)
    else:
        location: HomeLocation = locate_home(project_dir)
        target, searched = location.registry, location.searched()
    if not create and not target.is_file():
        raise RegistryNotFound(target, searched)
    store = SQLiteStore(target, create=create)
    try:
        store.migrate()
    except sqlite3.Error as exc:
        store.close()
        raise RegistryError(f"cannot migrate the registry {store.path}: {exc}") from None
    return store


def secure_home(registry: Path) -> None:
    """Take group and world write away from the registry's directory and every permission
    but the owner's from its database files.

    Earlier releases made the home group-writable for containers; a group- or
    world-writable home lets whoever can write it swap a bundle's interpreter, which the
    local supervisor then runs as the operator. Best effort: a file owned by someone else
    is left as it is.
    """
    home = registry.parent
    with contextlib.suppress(OSError):
        mode = home.stat().st_mode & 0o7777
        if mode & 0o022:
            home.chmod(mode & ~0o022)
    for path in (registry, *(registry.with_name(registry.name + s) for s in ("-wal", "-shm"))):
        with contextlib.suppress(OSError):
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                path.chmod(mode & 0o600)


def describe_store(store: object) -> str:
    """Which registry a store reads, for messages: the SQLite file's path, or a store
    plugin's URL without its password."""
    if isinstance(store, StoreAtPath) and store.path is not None:
        return str(store.path)
    if isinstance(store, StoreAtUrl) and store.url:
        return redact_url(str(store.url))
    return type(store).__name__


def redact_url(url: str) -> str:
    """``url`` without its password (for errors and logs), even when it is malformed."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # a bad port or IPv6 host: drop everything between :// and @
        scheme, sep, rest = url.partition("://")
        if not sep or "@" not in rest:
            return url
        return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _plugin_store(url: str, *, migrate: bool = True) -> SQLStore:
    from agentdock.plugins import get_plugin_manager

    try:
        scheme = urlsplit(url).scheme.split("+")[0]
    except ValueError:
        raise RegistryError(f"malformed registry URL {redact_url(url)!r}") from None
    name = _SCHEMES.get(scheme, scheme)
    registration = get_plugin_manager().get("stores", name) if name else None
    if registration is None:
        raise RegistryError(
            f"no registry store plugin for {redact_url(url)!r} (scheme {scheme!r}); "
            f"known: {', '.join(sorted(get_plugin_manager().registrations('stores'))) or 'none'}"
        )
    store: SQLStore = registration.factory(url)
    if not migrate:
        return store
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


class SQLiteStore(SQLStore):
    """Registry store on :mod:`sqlite3` (satisfies :class:`agentdock.protocols.Store`)."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        """``create`` False opens an existing file only (``mode=rw``: SQLite itself refuses
        to create it, so a file removed meanwhile is not made again).

        The directory and the database files are kept private (:func:`secure_home`)."""
        self.path = Path(path)
        try:
            if create and not self.path.parent.is_dir():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path.resolve().as_uri() + ("" if create else "?mode=rw"),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
                uri=True,
            )
        except (OSError, sqlite3.Error) as exc:
            raise RegistryError(f"cannot open the registry {self.path}: {exc}") from None
        self._lock = threading.RLock()
        with self._lock:
            try:
                self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._wal()
                self._conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:  # not a database, read-only, locked, ...
                self._conn.close()
                raise RegistryError(f"cannot open the registry {self.path}: {exc}") from None
        secure_home(self.path)

    def _wal(self) -> None:
        """Switch a new file to WAL (kept in the file: later opens find it set). Switching
        needs the file to itself and SQLite does not wait for that, so two processes
        creating one registry at once retry within the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield cast(Connection, self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock:
            yield cast(Connection, self._conn)

    def _refresh_key_views(self, agent: str | None = None) -> None:
        """Rewrite the key views of ``agent`` (None: every agent) from the committed rows,
        under the views' lock (:mod:`agentdock.registry.keyview`)."""
        home = self.path.parent
        with keyview.view_lock(home):
            records = self.list_api_keys(agent)
            groups: dict[tuple[str, str], list[Any]] = {}
            for record in records:
                groups.setdefault((record.agent, record.instance), []).append(record)
            for (name, instance), rows in groups.items():
                keyview.write_view(home, name, instance, rows)

    def write_key_views(self, agent: str, instance: str = "") -> Path:
        """Write the view of one agent and instance now, even one without keys (a deploy
        does, so that its runtime finds the file); returns its path."""
        home = self.path.parent
        with keyview.view_lock(home):
            rows = [r for r in self.list_api_keys(agent) if r.instance == instance]
            return keyview.write_view(home, agent, instance, rows)

    def _audit_key_dir(self) -> Path | None:
        return self.path.parent

    def migrate(self) -> None:
        """Apply every migration not yet recorded in ``schema_migrations``. When one was
        applied, the key views are written and the audit rows sealed (what a registry of an
        earlier release lacks)."""
        applied = self._apply_migrations()
        if applied:
            self._refresh_key_views()
            self.seal_audit()

    def _apply_migrations(self) -> bool:
        applied = False
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
                    applied = True
        return applied

    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def data_version(self) -> int:
        """A number that changes whenever another connection (another process: ``agentdock
        key revoke``, a deploy) commits to the file; this connection's own commits leave it
        alone. Reading it touches only the WAL index in shared memory, no table."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def pragma(self, name: str) -> Any:
        """One PRAGMA's value (``journal_mode``, ``foreign_keys``, ``busy_timeout``)."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        with self._lock:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]
