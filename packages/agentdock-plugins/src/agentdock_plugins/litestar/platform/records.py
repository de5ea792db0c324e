"""Threads and runs of the LangGraph Platform API, behind a small interface.

A thread's conversation lives in the agent's LangGraph checkpointer (``arguments.
checkpointer``); what the Platform adds around it (who owns the thread, its metadata, its
status, and the runs made on it) lives here, behind :class:`Records`.
:class:`MemoryRecords` keeps them in the process, bounded: past ``max_threads`` the least
recently updated thread is forgotten (with its runs), and each thread keeps its latest
``max_runs`` runs. :class:`~agentdock_plugins.litestar.platform.storedrecords.StoredRecords`
keeps them in the registry store, where every replica of the agent reads them; it is
``shared``, so runs also leave their result, frames and signs of life there (see
:mod:`agentdock.registry.platformrows`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = [
    "DEFAULT_MAX_RUNS",
    "DEFAULT_MAX_THREADS",
    "MemoryRecords",
    "Records",
    "RunRecord",
    "ThreadRecord",
    "now_iso",
]

DEFAULT_MAX_THREADS = 10_000
DEFAULT_MAX_RUNS = 100


def now_iso() -> str:
    """The time as the Platform writes it (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat()


@dataclass(slots=True)
class ThreadRecord:
    """A thread: its id, owner (the caller's subject; never a credential) and metadata."""

    thread_id: str
    owner: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: ``idle``, ``busy``, ``interrupted`` or ``error``.
    status: str = "idle"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def public(self) -> dict[str, Any]:
        """The thread as the SDK's ``Thread`` (values are added by the caller)."""
        return {
            "thread_id": self.thread_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "metadata": self.metadata,
            "status": self.status,
            "config": {},
            "values": {},
            "interrupts": {},
        }


@dataclass(slots=True)
class RunRecord:
    """A run: its status (``pending``, ``running``, ``success``, ``error``,
    ``interrupted``) and how it was asked for."""

    run_id: str
    thread_id: str
    assistant_id: str
    owner: str | None
    multitask_strategy: str
    metadata: dict[str, Any] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def public(self) -> dict[str, Any]:
        """The run as the SDK's ``Run``."""
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "metadata": self.metadata,
            "multitask_strategy": self.multitask_strategy,
            "kwargs": self.kwargs,
        }

    def fields(self) -> dict[str, Any]:
        """Every field, as stored (the owner included)."""
        return asdict(self)


class Records(Protocol):
    """Where threads and runs are kept (awaited: a store's I/O runs off the event loop)."""

    #: Whether other processes read these records (runs then beat, keep their result and
    #: frames here, and read cancels asked elsewhere).
    shared: bool

    async def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    async def put_thread(self, record: ThreadRecord) -> None: ...

    async def delete_thread(self, thread_id: str) -> bool: ...

    async def threads(self, owner: str | None) -> list[ThreadRecord]: ...

    async def get_run(self, thread_id: str, run_id: str) -> RunRecord | None: ...

    async def put_run(self, record: RunRecord) -> None: ...

    async def runs(self, thread_id: str) -> list[RunRecord]: ...

    async def finish_run(self, record: RunRecord, result: dict[str, Any]) -> None:
        """A run ended: ``{"output": …}`` or ``{"error": {"status", "name", "detail"}}``."""

    async def outcome(self, run_id: str) -> tuple[str, dict[str, Any] | None] | None:
        """A run's status and result as another process left them (None: unknown)."""

    async def beat(self, run_id: str, frames: list[tuple[int, str]]) -> bool:
        """This process runs ``run_id``: its new frames; whether a cancel was asked for."""

    async def request_cancel(self, run_id: str) -> None: ...

    async def frames_after(self, run_id: str, after: int) -> list[tuple[int, str]]: ...


class MemoryRecords:
    """:class:`Records` in the process (see the module docstring for its bounds)."""

    shared = False

    def __init__(
        self, *, max_threads: int = DEFAULT_MAX_THREADS, max_runs: int = DEFAULT_MAX_RUNS
    ) -> None:
        if max_threads < 1 or max_runs < 1:
            raise ValueError("max_threads and max_runs must be positive")
        self.max_threads = max_threads
        self.max_runs = max_runs
        self._threads: OrderedDict[str, ThreadRecord] = OrderedDict()
        self._runs: dict[str, OrderedDict[str, RunRecord]] = {}

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        return self._threads.get(thread_id)

    async def put_thread(self, record: ThreadRecord) -> None:
        record.updated_at = now_iso()
        self._threads[record.thread_id] = record
        self._threads.move_to_end(record.thread_id)
        while len(self._threads) > self.max_threads:
            gone, _ = self._threads.popitem(last=False)
            self._runs.pop(gone, None)

    async def delete_thread(self, thread_id: str) -> bool:
        self._runs.pop(thread_id, None)
        return self._threads.pop(thread_id, None) is not None

    async def threads(self, owner: str | None) -> list[ThreadRecord]:
        return [t for t in reversed(self._threads.values()) if t.owner == owner]

    async def get_run(self, thread_id: str, run_id: str) -> RunRecord | None:
        runs = self._runs.get(thread_id)
        return runs.get(run_id) if runs is not None else None

    async def put_run(self, record: RunRecord) -> None:
        record.updated_at = now_iso()
        runs = self._runs.setdefault(record.thread_id, OrderedDict())
        runs[record.run_id] = record
        while len(runs) > self.max_runs:
            runs.popitem(last=False)

    async def runs(self, thread_id: str) -> list[RunRecord]:
        runs = self._runs.get(thread_id)
        return list(reversed(runs.values())) if runs is not None else []

    async def finish_run(self, record: RunRecord, result: dict[str, Any]) -> None:
        await self.put_run(record)

    async def outcome(self, run_id: str) -> tuple[str, dict[str, Any] | None] | None:
        return None  # every run of this process has its handle

    async def beat(self, run_id: str, frames: list[tuple[int, str]]) -> bool:
        return False

    async def request_cancel(self, run_id: str) -> None:
        return None

    async def frames_after(self, run_id: str, after: int) -> list[tuple[int, str]]:
        return []


def matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` holds every key of ``wanted`` with the same value."""
    return not wanted or all(metadata.get(k) == v for k, v in wanted.items())
