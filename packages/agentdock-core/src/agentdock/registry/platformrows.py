"""The LangGraph Platform API's threads and runs as registry rows, shared by an agent's replicas.

Every replica of an agent that reads the same registry (the embedded SQLite file, or the
Postgres store) sees the same threads, runs, results and stream frames, so a run started
on one replica is read, joined and cancelled from another. The rows hold what the Platform
adds around a conversation (owner, metadata, status, a run's record and result); the
conversation itself is the checkpointer's.

A run's row also says which process runs it (``worker``) and when that process last
showed life (``beat_at``, refreshed while the run lasts): a row still ``pending`` or
``running`` whose process stopped beating for :data:`STALE_AFTER` seconds belongs to a
process that died, and is ended as ``error`` by the first reader (:meth:`PlatformRows.get_run`).
A cancel asked for on another replica sets ``cancel_requested``, which the owning process
reads on its next beat.

Bounds: each thread keeps its latest :data:`RUNS_PER_THREAD` runs; a run keeps its latest
``frames_kept`` frames; the frames of runs finished more than :data:`EVENTS_KEPT_FOR`
seconds ago are deleted (when another run finishes). All calls block: callers on an event
loop run them in a worker thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentdock.registry.sql import SQLStore

__all__ = [
    "ACTIVE_STATUSES",
    "EVENTS_KEPT_FOR",
    "RUNS_PER_THREAD",
    "STALE_AFTER",
    "PlatformRows",
    "RunRow",
    "ThreadRow",
]

#: A run in one of these is not over.
ACTIVE_STATUSES = ("pending", "running")
#: Seconds without a beat after which an active run's process is taken for dead.
STALE_AFTER = 30.0
#: Runs kept per thread (the latest).
RUNS_PER_THREAD = 100
#: Seconds a finished run's frames are kept for join_stream.
EVENTS_KEPT_FOR = 3600.0


@dataclass(slots=True)
class ThreadRow:
    thread_id: str
    owner: str | None
    status: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str


@dataclass(slots=True)
class RunRow:
    run_id: str
    thread_id: str
    status: str
    record: dict[str, Any]
    #: ``{"output": …}`` or ``{"error": {"status", "name", "detail"}}`` once it ended.
    result: dict[str, Any] | None
    worker: str
    cancel_requested: bool


_THREAD_SELECT = (
    "SELECT thread_id, owner, status, metadata_json, created_at, updated_at FROM platform_threads"
)
_RUN_SELECT = (
    "SELECT run_id, thread_id, status, record_json, result_json, worker, cancel_requested, "
    "beat_at FROM platform_runs"
)


def _thread(row: Any) -> ThreadRow:
    return ThreadRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])


class PlatformRows:
    """One agent's threads and runs in ``store`` (every call one short transaction)."""

    def __init__(self, store: SQLStore, agent: str, *, frames_kept: int = 4096) -> None:
        self.store = store
        self.agent = agent
        self.frames_kept = frames_kept

    # -- threads -----------------------------------------------------------------------------

    def get_thread(self, thread_id: str) -> ThreadRow | None:
        with self.store._read() as conn:
            row = conn.execute(
                f"{_THREAD_SELECT} WHERE agent = ? AND thread_id = ?", (self.agent, thread_id)
            ).fetchone()
        return _thread(row) if row is not None else None

    def put_thread(self, thread: ThreadRow) -> None:
        with self.store._tx() as conn:
            conn.execute(
                "INSERT INTO platform_threads (agent, thread_id, owner, status, metadata_json, "
                "created_at, updated_at, touched) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (agent, thread_id) DO UPDATE SET owner = excluded.owner, "
                "status = excluded.status, metadata_json = excluded.metadata_json, "
                "updated_at = excluded.updated_at, touched = excluded.touched",
                (
                    self.agent,
                    thread.thread_id,
                    thread.owner,
                    thread.status,
                    json.dumps(thread.metadata),
                    thread.created_at,
                    thread.updated_at,
                    time.time(),
                ),
            )

    def delete_thread(self, thread_id: str) -> bool:
        with self.store._tx() as conn:
            conn.execute(
                "DELETE FROM platform_run_events WHERE agent = ? AND run_id IN "
                "(SELECT run_id FROM platform_runs WHERE agent = ? AND thread_id = ?)",
                (self.agent, self.agent, thread_id),
            )
            conn.execute(
                "DELETE FROM platform_runs WHERE agent = ? AND thread_id = ?",
                (self.agent, thread_id),
            )
            gone = conn.execute(
                "DELETE FROM platform_threads WHERE agent = ? AND thread_id = ? "
                "RETURNING thread_id",
                (self.agent, thread_id),
            ).fetchone()
        return gone is not None

    def threads(self, owner: str | None, limit: int) -> list[ThreadRow]:
        """The owner's threads, the most recently updated first."""
        owned = "owner IS NULL" if owner is None else "owner = ?"
        params: tuple[Any, ...] = (self.agent,) if owner is None else (self.agent, owner)
        with self.store._read() as conn:
            rows = conn.execute(
                f"{_THREAD_SELECT} WHERE agent = ? AND {owned} ORDER BY touched DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_thread(r) for r in rows]

    # -- runs --------------------------------------------------------------------------------

    def put_run(
        self, run_id: str, thread_id: str, status: str, record: dict[str, Any], worker: str
    ) -> None:
        """Insert or update a run's record and status (the writing process beats)."""
        now = time.time()
        finished = None if status in ACTIVE_STATUSES else now
        with self.store._tx() as conn:
            inserted = conn.execute(
                "INSERT INTO platform_runs (agent, run_id, thread_id, status, record_json, "
                "worker, beat_at, created, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (agent, run_id) DO UPDATE SET status = excluded.status, "
                "record_json = excluded.record_json, beat_at = excluded.beat_at, "
                "finished = excluded.finished RETURNING created",
                (
                    self.agent,
                    run_id,
                    thread_id,
                    status,
                    json.dumps(record),
                    worker,
                    now,
                    now,
                    finished,
                ),
            ).fetchone()
            if inserted is not None and inserted[0] == now:
                # A new run: the thread keeps its latest RUNS_PER_THREAD.
                conn.execute(
                    "DELETE FROM platform_runs WHERE agent = ? AND thread_id = ? AND run_id "
                    "NOT IN (SELECT run_id FROM platform_runs WHERE agent = ? AND thread_id = ? "
                    "ORDER BY created DESC LIMIT ?)",
                    (self.agent, thread_id, self.agent, thread_id, RUNS_PER_THREAD),
                )

    def finish_run(
        self, run_id: str, status: str, record: dict[str, Any], result: dict[str, Any]
    ) -> None:
        """A run ended: its status, record and result; old runs' frames are pruned."""
        now = time.time()
        with self.store._tx() as conn:
            conn.execute(
                "UPDATE platform_runs SET status = ?, record_json = ?, result_json = ?, "
                "finished = ?, beat_at = ? WHERE agent = ? AND run_id = ?",
                (status, json.dumps(record), json.dumps(result), now, now, self.agent, run_id),
            )
            conn.execute(
                "DELETE FROM platform_run_events WHERE run_id IN (SELECT run_id FROM "
                "platform_runs WHERE finished < ?)",
                (now - EVENTS_KEPT_FOR,),
            )

    def get_run(self, run_id: str) -> RunRow | None:
        """The run; one whose process stopped beating is ended as ``error`` first."""
        with self.store._read() as conn:
            row = conn.execute(
                f"{_RUN_SELECT} WHERE agent = ? AND run_id = ?", (self.agent, run_id)
            ).fetchone()
        return None if row is None else self._run_of(row)

    def _run_of(self, row: Sequence[Any]) -> RunRow:
        """The run of a ``_RUN_SELECT`` row; one whose process stopped beating is ended as
        ``error`` first."""
        run = RunRow(
            row[0],
            row[1],
            row[2],
            json.loads(row[3]),
            json.loads(row[4]) if row[4] else None,
            row[5],
            bool(row[6]),
        )
        if run.status in ACTIVE_STATUSES and time.time() - float(row[7]) > STALE_AFTER:
            self._abandon(run)
        return run

    def _abandon(self, run: RunRow) -> None:
        """End a run whose process died: ``error``, saying so (only if still active)."""
        result = {
            "error": {
                "status": 500,
                "name": "RunAbandoned",
                "detail": f"the process running run {run.run_id} stopped before it ended",
            }
        }
        run.record["status"] = "error"
        now = time.time()
        with self.store._tx() as conn:
            conn.execute(
                "UPDATE platform_runs SET status = 'error', record_json = ?, result_json = ?, "
                "finished = ? WHERE agent = ? AND run_id = ? AND status IN ('pending', "
                "'running')",
                (json.dumps(run.record), json.dumps(result), now, self.agent, run.run_id),
            )
        run.status, run.result = "error", result

    def runs(self, thread_id: str) -> list[RunRow]:
        """The thread's runs, the newest first."""
        with self.store._read() as conn:
            rows = conn.execute(
                f"{_RUN_SELECT} WHERE agent = ? AND thread_id = ? ORDER BY created DESC",
                (self.agent, thread_id),
            ).fetchall()
        return [self._run_of(row) for row in rows]

    def request_cancel(self, run_id: str) -> None:
        with self.store._tx() as conn:
            conn.execute(
                "UPDATE platform_runs SET cancel_requested = 1 WHERE agent = ? AND run_id = ?",
                (self.agent, run_id),
            )

    def beat(self, run_id: str, frames: list[tuple[int, str]]) -> bool:
        """The owning process is alive: refresh ``beat_at``, add ``frames`` (``(id, SSE
        text)``), drop those past ``frames_kept``; whether a cancel was asked for."""
        with self.store._tx() as conn:
            for seq, frame in frames:
                conn.execute(
                    "INSERT INTO platform_run_events (agent, run_id, seq, frame) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (self.agent, run_id, seq, frame),
                )
            if frames:
                conn.execute(
                    "DELETE FROM platform_run_events WHERE agent = ? AND run_id = ? AND seq <= ?",
                    (self.agent, run_id, frames[-1][0] - self.frames_kept),
                )
            row = conn.execute(
                "UPDATE platform_runs SET beat_at = ? WHERE agent = ? AND run_id = ? "
                "RETURNING cancel_requested",
                (time.time(), self.agent, run_id),
            ).fetchone()
        return bool(row[0]) if row is not None else False

    def frames_after(self, run_id: str, after: int) -> list[tuple[int, str]]:
        with self.store._read() as conn:
            rows = conn.execute(
                "SELECT seq, frame FROM platform_run_events WHERE agent = ? AND run_id = ? "
                "AND seq > ? ORDER BY seq",
                (self.agent, run_id, after),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]
