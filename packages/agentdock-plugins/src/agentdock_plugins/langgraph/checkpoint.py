"""Checkpointers for stateful LangGraph runs (a request with a thread id).

The Dockfile's ``arguments`` choose one:

``checkpointer: memory`` (the default)
    Conversations live in the process: they continue across requests, not restarts.
``checkpointer: sqlite``
    Conversations live in a SQLite file, ``checkpoint_path`` (default
    ``$AGENTDOCK_STATE_DIR/checkpoints.db`` when a deploy target set that directory, one per
    agent and instance, else ``.agentdock/checkpoints.db``; relative paths are relative to
    the Dockfile's directory): they continue across requests, restarts and versions.
``checkpointer: postgres`` / ``checkpointer: redis``
    Conversations live on a server named by ``AGENTDOCK_CHECKPOINT_URL`` (never in the
    Dockfile): shared by every replica of the agent, kept across restarts and versions
    (see :mod:`agentdock_plugins.langgraph.sharedcheckpoint`).
``checkpointer: none``
    The agent is stateless; a request with a thread id is refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentdock_runtime import StateStoreUnavailable
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = [
    "CHECKPOINTERS",
    "DEFAULT_CHECKPOINT_PATH",
    "SqliteCheckpointer",
    "ThreadedAsync",
    "item_store_unavailable",
    "make_checkpointer",
    "state_store_unavailable",
]

#: The values ``arguments.checkpointer`` accepts.
CHECKPOINTERS = ("memory", "sqlite", "postgres", "redis", "none")
DEFAULT_CHECKPOINT_PATH = ".agentdock/checkpoints.db"
#: Set by deploy targets: where one agent instance keeps its state across versions.
STATE_DIR_ENV = "AGENTDOCK_STATE_DIR"

log = logging.getLogger("agentdock.checkpoint")


def state_store_unavailable(server: str, exc: BaseException) -> StateStoreUnavailable:
    """The run's error once the checkpointer's ``server`` (Redis, Postgres) cannot be
    reached: a 503 that says the state store is down (not the agent's failure); the log
    names the error's type only (its text may name the server and its user)."""
    log.error("the %s checkpointer cannot be reached (%s)", server, type(exc).__name__)
    return StateStoreUnavailable(
        f"the conversation state store (the checkpointer's {server}) is unavailable; try again"
    )


def item_store_unavailable(server: str, exc: BaseException) -> StateStoreUnavailable:
    """A store call's error once the store's ``server`` (Postgres) cannot be reached: the
    same 503 as the checkpointer's (a state store is down, not the agent, nor the
    request), so ``/store/…`` and a run whose node reads the store say so; the log names
    the error's type only."""
    log.error("the %s store cannot be reached (%s)", server, type(exc).__name__)
    return StateStoreUnavailable(
        f"the store (LangGraph's store, on {server}) is unavailable; try again"
    )


class ThreadedAsync(BaseCheckpointSaver[Any]):
    """The async half of a synchronous saver: each call runs the sync one in a worker thread.

    The savers below hold one thread-safe connection (or pool), so the same saver serves
    graphs run with ``invoke`` in worker threads and with ``ainvoke`` on any event loop,
    without blocking the loop and without an event-loop-bound async connection.
    """

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            found: Iterator[CheckpointTuple] = self.list(
                config, filter=filter, before=before, limit=limit
            )
            return list(found)

        for item in await asyncio.to_thread(collect):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        return await asyncio.to_thread(
            lambda: self.get_delta_channel_history(config=config, channels=channels)
        )


class SqliteCheckpointer(ThreadedAsync, SqliteSaver):
    """:class:`SqliteSaver` that also serves async runs (one connection under its lock)."""

    @classmethod
    def open(cls, path: Path) -> SqliteCheckpointer:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(path), check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        saver = cls(connection)
        saver.setup()
        return saver

    def close(self) -> None:
        self.conn.close()


def make_checkpointer(
    arguments: Mapping[str, Any], project_dir: Path
) -> BaseCheckpointSaver[Any] | None:
    """The checkpointer ``arguments`` ask for; ``None`` for ``checkpointer: none``."""
    kind = str(arguments.get("checkpointer", "memory")).lower()
    if kind not in CHECKPOINTERS:
        raise ValueError(
            f"arguments.checkpointer is {kind!r}; expected one of {', '.join(CHECKPOINTERS)}"
        )
    if kind == "none":
        return None
    if kind == "memory":
        return InMemorySaver()
    if kind in ("postgres", "redis"):
        return _open_shared(kind)
    return SqliteCheckpointer.open(checkpoint_path(arguments, project_dir))


def checkpoint_path(arguments: Mapping[str, Any], project_dir: Path) -> Path:
    """The SQLite file of ``checkpointer: sqlite`` (absolute; see the module's docstring)."""
    state_dir = os.environ.get(STATE_DIR_ENV)
    default = Path(state_dir) / "checkpoints.db" if state_dir else Path(DEFAULT_CHECKPOINT_PATH)
    path = Path(str(arguments.get("checkpoint_path") or default))
    return path if path.is_absolute() else project_dir / path


def shared_url(kind: str) -> str:
    """The URL of ``kind``'s server (``AGENTDOCK_CHECKPOINT_URL``; never the Dockfile)."""
    from agentdock_plugins.langgraph import sharedcheckpoint

    url = os.environ.get(sharedcheckpoint.CHECKPOINT_URL_ENV, "").strip()
    if not url:
        raise ValueError(
            f"arguments.checkpointer is {kind}: set {sharedcheckpoint.CHECKPOINT_URL_ENV} "
            f"to the {kind} server's URL (it is never read from the Dockfile)"
        )
    return url


def _open_shared(kind: str) -> BaseCheckpointSaver[Any]:
    from agentdock_plugins.langgraph import sharedcheckpoint

    url = shared_url(kind)
    if kind == "postgres":
        return sharedcheckpoint.open_postgres(url)
    return sharedcheckpoint.open_redis(url)
