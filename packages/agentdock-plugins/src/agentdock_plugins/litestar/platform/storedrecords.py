"""Threads and runs of the Platform API in the registry store, shared by every replica.

The rows are :mod:`agentdock.registry.platformrows`' (SQLite embedded, Postgres when the
runtime is given a database URL); each call runs in a worker thread, so the event loop
never waits on the store. Which records a server keeps is :func:`records_from_env`'s
choice: ``AGENTDOCK_PLATFORM_RECORDS`` is ``registry`` or ``memory``; unset, the registry
when the runtime has a database URL (its replicas share one), else the process.

A cancel asked on one replica reaches the process running the run through its row
(``cancel_requested``), read on that process's next beat (every ``runs.BEAT_SEC``), rather
than through Postgres' LISTEN/NOTIFY: the same rows serve SQLite, where there is no
NOTIFY, the beat is written anyway (it is how a crashed process's runs are found), and
the delay it adds to a cancel is at most a beat.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from agentdock.registry import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV, open_store
from agentdock.registry.platformrows import PlatformRows, ThreadRow

from agentdock_plugins.litestar.platform.records import (
    MemoryRecords,
    Records,
    RunRecord,
    ThreadRecord,
    now_iso,
)

__all__ = ["RECORDS_ENV", "StoredRecords", "records_from_env"]

#: ``registry`` or ``memory``: where the Platform API keeps threads and runs.
RECORDS_ENV = "AGENTDOCK_PLATFORM_RECORDS"
#: Threads ``/threads/search`` reads at most from the store.
MAX_THREADS_LISTED = 10_000


class StoredRecords:
    """:class:`~agentdock_plugins.litestar.platform.records.Records` in the registry."""

    shared = True

    def __init__(self, rows: PlatformRows) -> None:
        self.rows = rows

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        row = await asyncio.to_thread(self.rows.get_thread, thread_id)
        return _thread(row) if row is not None else None

    async def put_thread(self, record: ThreadRecord) -> None:
        record.updated_at = now_iso()
        row = ThreadRow(
            record.thread_id,
            record.owner,
            record.status,
            record.metadata,
            record.created_at,
            record.updated_at,
        )
        await asyncio.to_thread(self.rows.put_thread, row)

    async def delete_thread(self, thread_id: str) -> bool:
        return await asyncio.to_thread(self.rows.delete_thread, thread_id)

    async def threads(self, owner: str | None) -> list[ThreadRecord]:
        rows = await asyncio.to_thread(self.rows.threads, owner, MAX_THREADS_LISTED)
        return [_thread(r) for r in rows]

    async def get_run(self, thread_id: str, run_id: str) -> RunRecord | None:
        row = await asyncio.to_thread(self.rows.get_run, run_id)
        if row is None or row.thread_id != thread_id:
            return None
        return _run(row.record, row.status)

    async def put_run(self, record: RunRecord) -> None:
        record.updated_at = now_iso()
        await asyncio.to_thread(
            self.rows.put_run,
            record.run_id,
            record.thread_id,
            record.status,
            record.fields(),
            _WORKER,
        )

    async def runs(self, thread_id: str) -> list[RunRecord]:
        rows = await asyncio.to_thread(self.rows.runs, thread_id)
        return [_run(r.record, r.status) for r in rows]

    async def finish_run(self, record: RunRecord, result: dict[str, Any]) -> None:
        record.updated_at = now_iso()
        await asyncio.to_thread(
            self.rows.finish_run, record.run_id, record.status, record.fields(), result
        )

    async def outcome(self, run_id: str) -> tuple[str, dict[str, Any] | None] | None:
        row = await asyncio.to_thread(self.rows.get_run, run_id)
        return (row.status, row.result) if row is not None else None

    async def beat(self, run_id: str, frames: list[tuple[int, str]]) -> bool:
        return await asyncio.to_thread(self.rows.beat, run_id, frames)

    async def request_cancel(self, run_id: str) -> None:
        await asyncio.to_thread(self.rows.request_cancel, run_id)

    async def frames_after(self, run_id: str, after: int) -> list[tuple[int, str]]:
        return await asyncio.to_thread(self.rows.frames_after, run_id, after)


#: This process, as a run's row names it.
_WORKER = f"{os.uname().nodename}:{os.getpid()}"


def _thread(row: ThreadRow) -> ThreadRecord:
    return ThreadRecord(
        row.thread_id,
        row.owner,
        metadata=row.metadata,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _run(fields: Mapping[str, Any], status: str) -> RunRecord:
    record = RunRecord(**fields)
    record.status = status
    return record


def records_from_env(agent: str, environ: Mapping[str, str] | None = None) -> Records:
    """The records a server keeps (see the module docstring), the store opened once.

    :raises ValueError: ``AGENTDOCK_PLATFORM_RECORDS`` is neither ``registry`` nor ``memory``.
    """
    env = os.environ if environ is None else environ
    url = env.get(RUNTIME_DATABASE_URL_ENV) or env.get(DATABASE_URL_ENV) or None
    choice = (env.get(RECORDS_ENV) or ("registry" if url else "memory")).strip().lower()
    if choice == "memory":
        return MemoryRecords()
    if choice != "registry":
        raise ValueError(f"{RECORDS_ENV} is {choice!r}; expected registry or memory")
    # A runtime's database role may not change the schema: the deploy migrated it.
    store = open_store(url=url, migrate=False) if url else open_store()
    return StoredRecords(PlatformRows(store, agent))
