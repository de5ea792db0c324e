"""The agent's LangGraph store: the one its graph's nodes get as ``store`` and the
Platform API's ``/store/items`` routes read and write, so both see the same items.

The Dockfile's ``arguments.store`` chooses it; absent, it follows ``checkpointer``:

``memory`` (for ``checkpointer: memory``, ``none`` and ``redis``)
    LangGraph's ``InMemoryStore``: items live in the process, not across restarts. (A
    Redis store needs RediSearch; name ``store: postgres`` or ``sqlite`` to keep items.)
``sqlite`` (for ``checkpointer: sqlite``)
    LangGraph's ``SqliteStore`` in the checkpointer's file (``store_path``, default
    ``checkpoint_path``): items are kept across restarts and versions.
``postgres`` (for ``checkpointer: postgres``)
    LangGraph's ``PostgresStore`` on ``AGENTDOCK_CHECKPOINT_URL``, over a pool: shared by
    every replica.

Each store is opened and set up at start-up. A graph compiled with its own store keeps
it, and the API serves that one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore, Op, Result
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

from agentdock_plugins.langgraph.checkpoint import checkpoint_path, shared_url

__all__ = ["STORES", "SqliteItemStore", "make_store"]

#: The values ``arguments.store`` accepts.
STORES = ("memory", "sqlite", "postgres")
#: The store each checkpointer brings when ``arguments.store`` is absent.
_FOLLOWS = {"memory": "memory", "none": "memory", "redis": "memory", "sqlite": "sqlite"}


class SqliteItemStore(SqliteStore):
    """``SqliteStore`` whose async calls run the sync ones in a worker thread (one
    connection, under the store's lock), so the API serves it without blocking the loop."""

    @classmethod
    def open(cls, path: Path) -> SqliteItemStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        store = cls(connection)
        store.setup()
        return store

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    def close(self) -> None:
        self.conn.close()


def make_store(arguments: Mapping[str, Any], project_dir: Path) -> BaseStore:
    """The store ``arguments`` ask for (see the module's docstring)."""
    checkpointer = str(arguments.get("checkpointer", "memory")).lower()
    kind = str(arguments.get("store") or _FOLLOWS.get(checkpointer, "postgres")).lower()
    if kind not in STORES:
        raise ValueError(f"arguments.store is {kind!r}; expected one of {', '.join(STORES)}")
    if kind == "memory":
        return InMemoryStore()
    if kind == "sqlite":
        named = arguments.get("store_path")
        path = Path(str(named)) if named else checkpoint_path(arguments, project_dir)
        return SqliteItemStore.open(path if path.is_absolute() else project_dir / path)
    from agentdock_plugins.langgraph import sharedcheckpoint

    return sharedcheckpoint.open_postgres_store(shared_url("postgres"))
