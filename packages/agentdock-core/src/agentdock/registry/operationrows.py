"""The control plane's operations as registry rows, so that an outcome outlives its process.

An operation (a build, deploy, rollback or stop started through the control plane) is
written when it is queued, at each step and when it ends. Its row names the process that
runs it (``worker``) and when that process last showed life (``beat_at``, refreshed at each
step and by :meth:`OperationRows.beat` while it lasts). A row still ``queued`` or
``running`` whose process stopped beating for :data:`STALE_AFTER` seconds belongs to a
control plane that stopped; :meth:`OperationRows.end_abandoned` ends it ``failed``, and
the control plane that finds it cleans up the registry as the next deploy would.

Bounds: the newest :data:`KEPT` operations are kept; each keeps its latest
:data:`STEPS_KEPT` steps. All calls block: callers on an event loop run them in a worker
thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentdock.registry.sql import SQLStore

__all__ = ["ACTIVE", "KEPT", "STALE_AFTER", "STEPS_KEPT", "OperationRow", "OperationRows"]

#: An operation in one of these is not over.
ACTIVE = ("queued", "running")
#: Seconds without a beat after which an active operation's process is taken for dead.
STALE_AFTER = 30.0
#: Operations kept (the newest).
KEPT = 1000
#: Steps kept per operation (the latest).
STEPS_KEPT = 500

_SELECT = (
    "SELECT id, kind, agent, started_by, status, started_at, finished_at, steps_json, "
    "result_json, error_json, worker, beat_at FROM controlplane_operations"
)


@dataclass(slots=True)
class OperationRow:
    id: str
    kind: str
    agent: str
    started_by: str
    status: str
    started_at: float
    finished_at: float | None
    steps: list[dict[str, Any]]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    worker: str


def _row(row: Any) -> OperationRow:
    return OperationRow(
        id=row[0],
        kind=row[1],
        agent=row[2],
        started_by=row[3],
        status=row[4],
        started_at=float(row[5]),
        finished_at=float(row[6]) if row[6] is not None else None,
        steps=json.loads(row[7]),
        result=json.loads(row[8]) if row[8] is not None else None,
        error=json.loads(row[9]) if row[9] is not None else None,
        worker=row[10],
    )


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


class OperationRows:
    """The control plane's operations in ``store`` (every call one short transaction)."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store

    def save(self, op: OperationRow) -> None:
        """Insert or update an operation (its process beats); a new (queued) one prunes the
        oldest beyond :data:`KEPT`."""
        now = time.time()
        with self.store._tx() as conn:
            conn.execute(
                "INSERT INTO controlplane_operations (id, kind, agent, started_by, status, "
                "started_at, finished_at, steps_json, result_json, error_json, worker, beat_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, finished_at = excluded.finished_at, "
                "steps_json = excluded.steps_json, result_json = excluded.result_json, "
                "error_json = excluded.error_json, beat_at = excluded.beat_at",
                (
                    op.id,
                    op.kind,
                    op.agent,
                    op.started_by,
                    op.status,
                    op.started_at,
                    op.finished_at,
                    json.dumps(op.steps[-STEPS_KEPT:], default=str),
                    _dump(op.result),
                    _dump(op.error),
                    op.worker,
                    now,
                ),
            )
            if op.status == "queued":
                conn.execute(
                    "DELETE FROM controlplane_operations WHERE id NOT IN (SELECT id FROM "
                    "controlplane_operations ORDER BY started_at DESC LIMIT ?)",
                    (KEPT,),
                )

    def get(self, op_id: str) -> OperationRow | None:
        with self.store._read() as conn:
            row = conn.execute(f"{_SELECT} WHERE id = ?", (op_id,)).fetchone()
        return _row(row) if row is not None else None

    def recent(self, limit: int) -> list[OperationRow]:
        """The newest ``limit`` operations, newest first."""
        with self.store._read() as conn:
            rows = conn.execute(f"{_SELECT} ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
        return [_row(r) for r in rows]

    def beat(self, worker: str) -> None:
        """``worker`` is alive: refresh the beat of its active operations."""
        with self.store._tx() as conn:
            conn.execute(
                "UPDATE controlplane_operations SET beat_at = ? WHERE worker = ? "
                "AND status IN (?, ?)",
                (time.time(), worker, *ACTIVE),
            )

    def end_abandoned(
        self, stale_after: float = STALE_AFTER, is_dead: Callable[[str], bool] | None = None
    ) -> list[OperationRow]:
        """End ``failed`` every active operation whose process stopped beating, or whose
        ``worker`` ``is_dead`` says is gone (a process of this host that no longer runs), and
        return them (as they are now)."""
        now = time.time()
        error = {
            "error": "ControlPlaneStopped",
            "detail": "the control plane running this operation stopped before it ended",
        }
        with self.store._tx() as conn:
            found = conn.execute(f"{_SELECT} WHERE status IN (?, ?)", ACTIVE).fetchall()
            rows = [
                r
                for r in found
                if float(r[11]) < now - stale_after or (is_dead is not None and is_dead(r[10]))
            ]
            for row in rows:
                conn.execute(
                    "UPDATE controlplane_operations SET status = 'failed', finished_at = ?, "
                    "error_json = ? WHERE id = ? AND status IN (?, ?)",
                    (now, json.dumps(error), row[0], *ACTIVE),
                )
        ended = [_row(r) for r in rows]
        for op in ended:
            op.status, op.finished_at, op.error = "failed", now, error
        return ended
