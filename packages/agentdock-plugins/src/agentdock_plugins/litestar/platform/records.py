"""Threads and runs of the LangGraph Platform API, behind a small interface.

A thread's conversation lives in the agent's LangGraph checkpointer (``arguments.
checkpointer``); what the Platform adds around it (who owns the thread, its metadata, its
status, and the runs made on it) lives here. :class:`Records` is the interface a registry
store can back so that replicas share it; :class:`MemoryRecords`, the one built today,
keeps them in the process, bounded: past ``max_threads`` the least recently updated thread
is forgotten (with its runs), and each thread keeps its latest ``max_runs`` runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
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


class Records(Protocol):
    """Where threads and runs are kept (all calls return at once: no I/O on the loop)."""

    def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    def put_thread(self, record: ThreadRecord) -> None: ...

    def delete_thread(self, thread_id: str) -> bool: ...

    def threads(self) -> list[ThreadRecord]: ...

    def get_run(self, thread_id: str, run_id: str) -> RunRecord | None: ...

    def put_run(self, record: RunRecord) -> None: ...

    def runs(self, thread_id: str) -> list[RunRecord]: ...


class MemoryRecords:
    """:class:`Records` in the process (see the module docstring for its bounds)."""

    def __init__(
        self, *, max_threads: int = DEFAULT_MAX_THREADS, max_runs: int = DEFAULT_MAX_RUNS
    ) -> None:
        if max_threads < 1 or max_runs < 1:
            raise ValueError("max_threads and max_runs must be positive")
        self.max_threads = max_threads
        self.max_runs = max_runs
        self._threads: OrderedDict[str, ThreadRecord] = OrderedDict()
        self._runs: dict[str, OrderedDict[str, RunRecord]] = {}

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        return self._threads.get(thread_id)

    def put_thread(self, record: ThreadRecord) -> None:
        record.updated_at = now_iso()
        self._threads[record.thread_id] = record
        self._threads.move_to_end(record.thread_id)
        while len(self._threads) > self.max_threads:
            gone, _ = self._threads.popitem(last=False)
            self._runs.pop(gone, None)

    def delete_thread(self, thread_id: str) -> bool:
        self._runs.pop(thread_id, None)
        return self._threads.pop(thread_id, None) is not None

    def threads(self) -> list[ThreadRecord]:
        return list(reversed(self._threads.values()))

    def get_run(self, thread_id: str, run_id: str) -> RunRecord | None:
        runs = self._runs.get(thread_id)
        return runs.get(run_id) if runs is not None else None

    def put_run(self, record: RunRecord) -> None:
        record.updated_at = now_iso()
        runs = self._runs.setdefault(record.thread_id, OrderedDict())
        runs[record.run_id] = record
        while len(runs) > self.max_runs:
            runs.popitem(last=False)

    def runs(self, thread_id: str) -> list[RunRecord]:
        runs = self._runs.get(thread_id)
        return list(reversed(runs.values())) if runs is not None else []


def matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` holds every key of ``wanted`` with the same value."""
    return not wanted or all(metadata.get(k) == v for k, v in wanted.items())
