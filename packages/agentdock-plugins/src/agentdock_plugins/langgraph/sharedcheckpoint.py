"""Checkpointers on a server, shared by every replica of an agent and kept across restarts.

``checkpointer: postgres`` is LangGraph's ``PostgresSaver`` over a connection pool, from the
optional extra ``postgres-checkpoint`` of agentdock-plugins, imported only when chosen.
``checkpointer: redis`` is
:class:`~agentdock_plugins.langgraph.redischeckpoint.RedisCheckpointSaver`, which uses plain
Redis commands (Redis 6 or later, no modules; that module says why it is not LangGraph's
``RedisSaver``).

The URL comes from :data:`CHECKPOINT_URL_ENV`, never from the Dockfile, so it can carry a
password from a secret. Each saver is opened and set up (Postgres: its tables made; Redis: one
``PING``) at start-up, so a server that is down or unfit stops the runtime with one line naming the
server, its password replaced by ``***``, and the cause, not at the first request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from agentdock.registry.sqlite import redact_url
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.store.base import BaseStore

from agentdock_plugins.langgraph.checkpoint import (
    ThreadedAsync,
    item_store_unavailable,
    state_store_unavailable,
)

__all__ = [
    "CHECKPOINT_URL_ENV",
    "CheckpointerUnavailable",
    "open_postgres",
    "open_postgres_store",
    "open_redis",
]

T = TypeVar("T")
#: Where ``checkpointer: postgres`` and ``checkpointer: redis`` find their server.
CHECKPOINT_URL_ENV = "AGENTDOCK_CHECKPOINT_URL"
#: Connections a Postgres checkpointer holds at most (runs in worker threads share them).
POOL_SIZE = 10
#: Seconds to wait for the server at start-up.
CONNECT_TIMEOUT = 10


class CheckpointerUnavailable(RuntimeError):
    """The checkpointer's server cannot be used (down, refused, or missing a feature)."""


def _cause(exc: BaseException, url: str) -> str:
    """One line of ``exc``'s text, the URL's password never in it."""
    text = (str(exc).strip().splitlines() or [""])[0]
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _password(url: str) -> str | None:
    from urllib.parse import unquote, urlsplit

    try:
        found = urlsplit(url).password
    except ValueError:
        return None
    return unquote(found) if found else None


def _unavailable(kind: str, url: str, exc: BaseException) -> CheckpointerUnavailable:
    return CheckpointerUnavailable(
        f"checkpointer {kind}: cannot use {redact_url(url)} ({_cause(exc, url)})"
    )


def _missing_extra(kind: str, exc: ImportError) -> CheckpointerUnavailable:
    return CheckpointerUnavailable(
        f"checkpointer {kind} needs the {kind}-checkpoint extra: "
        f"pip install 'agentdock-plugins[{kind}-checkpoint]' ({exc.name} is not installed)"
    )


def open_postgres(url: str) -> BaseCheckpointSaver[Any]:
    """A set-up ``PostgresSaver`` on a pool of connections to ``url``."""
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:
        raise _missing_extra("postgres", exc) from None
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout

    #: The server gone (a dropped connection, no connection within the pool's timeout).
    unreachable = (psycopg.OperationalError, PoolTimeout)

    class PostgresCheckpointer(ThreadedAsync, PostgresSaver):
        """``PostgresSaver`` whose async calls run in worker threads, over a pool; a server
        that cannot be reached while it serves is the run's 503 ``StateStoreUnavailable``,
        as with Redis, its error's text (which names the server and its user) left out."""

        def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
            try:
                return super().get_tuple(config)
            except unreachable as exc:
                raise state_store_unavailable("Postgres", exc) from None

        def list(
            self,
            config: RunnableConfig | None,
            *,
            filter: dict[str, Any] | None = None,
            before: RunnableConfig | None = None,
            limit: int | None = None,
        ) -> Iterator[CheckpointTuple]:
            try:
                yield from super().list(config, filter=filter, before=before, limit=limit)
            except unreachable as exc:
                raise state_store_unavailable("Postgres", exc) from None

        def put(
            self,
            config: RunnableConfig,
            checkpoint: Checkpoint,
            metadata: CheckpointMetadata,
            new_versions: ChannelVersions,
        ) -> RunnableConfig:
            try:
                return super().put(config, checkpoint, metadata, new_versions)
            except unreachable as exc:
                raise state_store_unavailable("Postgres", exc) from None

        def put_writes(
            self,
            config: RunnableConfig,
            writes: Sequence[tuple[str, Any]],
            task_id: str,
            task_path: str = "",
        ) -> None:
            try:
                super().put_writes(config, writes, task_id, task_path)
            except unreachable as exc:
                raise state_store_unavailable("Postgres", exc) from None

        def delete_thread(self, thread_id: str) -> None:
            try:
                super().delete_thread(thread_id)
            except unreachable as exc:
                raise state_store_unavailable("Postgres", exc) from None

        def close(self) -> None:
            if isinstance(self.conn, ConnectionPool):
                self.conn.close()

    return _set_up_on_pool(url, PostgresCheckpointer)


def open_postgres_store(url: str) -> BaseStore:
    """A set-up ``PostgresStore`` (LangGraph's store: its tables made) on a pool of
    connections to ``url``; its async calls run the sync ones in worker threads. A server
    that cannot be reached while it serves is a 503 ``StateStoreUnavailable``, as for the
    checkpointer, and the pool reconnects once it is back."""
    try:
        from langgraph.store.postgres import PostgresStore
    except ImportError as exc:
        raise _missing_extra("postgres", exc) from None
    import psycopg
    from langgraph.store.base import Op, Result
    from psycopg_pool import ConnectionPool, PoolTimeout

    unreachable = (psycopg.OperationalError, PoolTimeout)

    class PostgresItemStore(PostgresStore):
        def batch(self, ops: Iterable[Op]) -> list[Result]:
            # Every call of the store comes here (``abatch`` runs it in a worker thread).
            try:
                return super().batch(ops)
            except unreachable as exc:
                raise item_store_unavailable("Postgres", exc) from None

        def close(self) -> None:
            if isinstance(self.conn, ConnectionPool):
                self.conn.close()

    return _set_up_on_pool(url, PostgresItemStore)


def _set_up_on_pool(url: str, kind: Callable[[Any], T]) -> T:
    """``kind(pool).setup()`` on a new pool of connections to ``url``; a server that is
    down or refuses is said at once, in its words, rather than as a pool's timeout."""
    import psycopg
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool, PoolTimeout

    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
    except psycopg.Error as exc:
        raise _unavailable("postgres", url, exc) from None
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
        # A request waits this long for a connection while the server is down, then fails.
        timeout=CONNECT_TIMEOUT,
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        made = kind(pool)
        made.setup()  # type: ignore[attr-defined]
    except (psycopg.Error, PoolTimeout) as exc:
        pool.close()
        raise _unavailable("postgres", url, exc) from None
    return made


def open_redis(url: str) -> BaseCheckpointSaver[Any]:
    """A :class:`RedisCheckpointSaver` on ``url``, the server reached once before it is used."""
    import redis

    from agentdock_plugins.langgraph.redischeckpoint import RedisCheckpointSaver

    try:
        saver = RedisCheckpointSaver(
            url,
            client_options={
                "socket_connect_timeout": CONNECT_TIMEOUT,
                "socket_timeout": CONNECT_TIMEOUT,
            },
        )
        saver.ping()
    except (redis.RedisError, ValueError) as exc:  # down, refused, or a malformed URL
        raise _unavailable("redis", url, exc) from None
    return saver
