"""The registry in PostgreSQL: :class:`~agentdock.registry.SQLStore` over a psycopg pool.

Every query comes from :class:`~agentdock.registry.SQLStore`; this module only supplies
connections, the ``?`` → ``%s`` parameter rewrite and the migrations. Write transactions
take one transaction-scoped advisory lock, so they run one at a time as SQLite's
``BEGIN IMMEDIATE`` makes them: the store's read-then-write operations (activate a
deployment, take a deploy lock, record a version) then behave the same on both backends
instead of failing on a unique index when two processes race. Registry writes are few and
short (deploys, key changes, batched ``last_used_at``), so serialising them costs nothing
that matters. The partial unique index ``deployments_one_active`` still backs the rule.

A key revocation or rotation sends ``NOTIFY`` in its transaction, and
:meth:`PostgresStore.listen_key_changes` hears it in every runtime reading the database
(see :mod:`agentdock.registry.keychanges`).

Errors name the database by :func:`~agentdock.registry.redact_url`: the URL's password
never reaches a message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import psycopg
from agentdock.registry import KEY_CHANNEL, RegistryError, SQLStore, redact_url
from agentdock.registry.sqlbase import Connection, Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from agentdock_plugins.postgres.listen import KeyChangeListener
from agentdock_plugins.postgres.migrations import MIGRATIONS

__all__ = ["CONNECT_TIMEOUT_S", "POOL_MAX", "POOL_MIN", "PostgresStore"]

POOL_MIN = 1
POOL_MAX = 4
CONNECT_TIMEOUT_S = 5
#: Advisory lock keys (any 64-bit numbers no other code of the database uses).
_WRITE_LOCK = 0x61_67_64_6B_77_72_69_74  # "agdkwrit"
_MIGRATE_LOCK = 0x61_67_64_6B_6D_69_67_72  # "agdkmigr"


@lru_cache(maxsize=256)
def to_pyformat(sql: str) -> str:
    """``sql`` with ``?`` parameters as ``%s`` and literal ``%`` doubled.

    Characters inside single-quoted literals, double-quoted identifiers and comments are
    left alone, so a ``?`` there is never taken for a parameter.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:  # '' or "" escapes
                end = sql.find(ch, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _Conn:
    """A psycopg connection as :class:`~agentdock.registry.sql.Connection` (``?`` style)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = None, /) -> Cursor:
        # psycopg's read-only ``rowcount`` is all SQLStore reads of the protocol's attribute.
        if params is None:  # no placeholders are parsed: send as written
            return cast(Cursor, self._conn.execute(sql))
        return cast(Cursor, self._conn.execute(to_pyformat(sql), params))


def _libpq_url(url: str) -> str:
    """``url`` with a ``postgresql+driver://`` scheme reduced to what libpq reads."""
    return re.sub(r"^(postgres(?:ql)?)\+[A-Za-z0-9_.-]*://", r"\1://", url)


def _redact(url: str) -> str:
    """:func:`redact_url`, also for a URL too malformed to parse (a bad port, a bad host)."""
    try:
        return redact_url(url)
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _scrub(message: str, url: str) -> str:
    """``message`` with the URL's password blotted out, should a driver ever echo it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        match = re.search(r"://[^:/@]*:([^@]*)@", url)
        password = match.group(1) if match else None
    if password:
        for form in {password, unquote(password)}:
            message = message.replace(form, "***")
    return " ".join(message.split())


class PostgresStore(SQLStore):
    """Registry store on PostgreSQL (satisfies :class:`agentdock.protocols.Store`).

    Connects at construction (a clear :class:`RegistryError` when the server cannot be
    reached or refuses the credentials) and keeps a small pool (``POOL_MIN``..``POOL_MAX``
    connections) for the runtime's reader and batch-writer threads and the CLI.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = POOL_MIN,
        max_size: int = POOL_MAX,
        connect_timeout: int = CONNECT_TIMEOUT_S,
    ) -> None:
        self.url = _redact(url)
        self._conninfo = _libpq_url(url)
        kwargs: dict[str, Any] = {"autocommit": True}
        try:  # one direct connection first: it fails fast and says why
            if "connect_timeout" not in conninfo_to_dict(self._conninfo):
                kwargs["connect_timeout"] = connect_timeout
            psycopg.connect(self._conninfo, **kwargs).close()
        except psycopg.Error as exc:
            raise RegistryError(
                f"cannot connect to the registry database {self.url}: {_scrub(str(exc), url)}"
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self._conninfo,
            kwargs=kwargs,
            min_size=min_size,
            max_size=max_size,
            open=False,
            check=ConnectionPool.check_connection,
            timeout=max(connect_timeout * 2, 10),
            name="agentdock-registry",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout * 2)
        except PoolTimeout:
            self._pool.close()
            raise RegistryError(
                f"cannot open a connection pool to the registry database {self.url}"
            ) from None

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # The base class is a lost or refused connection; subclasses (a cancelled
            # query, a serialisation failure) are the caller's to see as they are.
            if type(exc) not in (psycopg.OperationalError, PoolTimeout):
                raise
            raise RegistryError(
                f"the registry database {self.url} is unreachable: "
                f"{_scrub(str(exc), self._conninfo)}"
            ) from None

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            yield _Conn(conn)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._connection() as conn:
            yield _Conn(conn)

    def _key_changed(self, conn: Connection, message: str) -> None:
        # Delivered at commit, to every session listening on the channel.
        conn.execute("SELECT pg_notify(?, ?)", (KEY_CHANNEL, message))

    def listen_key_changes(self, on_change: Callable[[str | None], None]) -> Callable[[], None]:
        """Call ``on_change(payload)`` for every key change committed by any process, and
        ``on_change(None)`` whenever listening (re)starts; returns the function that stops."""
        return KeyChangeListener(self._conninfo, on_change).stop

    def _is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.IntegrityError) or super()._is_integrity_error(exc)

    def migrate(self) -> None:
        """Apply every migration not yet recorded in ``schema_migrations``, in one transaction.

        An advisory lock held for that transaction makes a second process that migrates
        at the same time wait, then find the work done.
        """
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for number, script in MIGRATIONS:
                    if number in done:
                        continue
                    conn.execute(script)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                        (number, time.time()),
                    )
        except psycopg.Error as exc:
            raise RegistryError(
                f"cannot migrate the registry database {self.url}: "
                f"{_scrub(str(exc), self._conninfo)}"
            ) from None

    def schema_version(self) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)
