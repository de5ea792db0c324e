"""The ``sqlite`` store of :mod:`.store`, in a module of its own: LangGraph's
``SqliteStore`` imports ``sqlite-vec`` and with it NumPy (about 0.1 s of CPU), which a
runtime whose Dockfile keeps items in memory or in Postgres never needs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from langgraph.store.base import Op, Result
from langgraph.store.sqlite import SqliteStore

__all__ = ["SqliteItemStore"]


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
