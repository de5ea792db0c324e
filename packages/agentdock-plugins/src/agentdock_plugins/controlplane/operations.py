"""Long operations (build, deploy, rollback, stop): started at once, run in a worker thread.

The API answers with an operation id before any work is done; progress is published to the
event log as ``build_event`` (each step the builder and target report) and ``deploy_status``
(queued, running, succeeded, failed). One operation per agent at a time: a second deploy of
an agent whose deploy is still running is refused (409) here, before the registry's deploy
lock would refuse it from another process. A key a deploy creates is never published: it is
handed once to whoever started the operation (:meth:`Operations.take_secret`).

With a registry (``rows``), every operation is also written there when it is queued, at
each step and when it ends (never its secret), so its outcome outlives this process: a
control plane started later lists it, and ends ``failed`` the ones a stopped control plane
left running (:func:`recover_abandoned`), cleaning up the registry as the next deploy of
the agent would.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agentdock.registry.operationrows import OperationRow, OperationRows

from agentdock_plugins.controlplane.events import EventLog

__all__ = ["Busy", "Operation", "Operations", "recover_abandoned"]

#: Seconds between two beats of this process's running operations in the registry.
BEAT_S = 10.0

#: What an operation's work returns: its public result, and a secret to hand over once.
Outcome = tuple[dict[str, Any], str | None]
Work = Callable[[Callable[..., None]], Outcome]


class Busy(Exception):
    """Another operation on the same agent is still running."""

    def __init__(self, running: Operation) -> None:
        super().__init__(f"operation {running.id} ({running.kind}) on {running.agent} is running")
        self.running = running


@dataclass
class Operation:
    id: str
    kind: str
    agent: str
    started_by: str
    status: str = "queued"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    secret: str | None = field(default=None, repr=False)

    def row(self, worker: str) -> OperationRow:
        return OperationRow(
            id=self.id,
            kind=self.kind,
            agent=self.agent,
            started_by=self.started_by,
            status=self.status,
            started_at=self.started_at,
            finished_at=self.finished_at,
            steps=list(self.steps),
            result=self.result,
            error=self.error,
            worker=worker,
        )

    @classmethod
    def of_row(cls, row: OperationRow) -> Operation:
        return cls(
            row.id,
            row.kind,
            row.agent,
            row.started_by,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            steps=row.steps,
            result=row.result,
            error=row.error,
        )

    def public(self) -> dict[str, Any]:
        return {
            "operation_id": self.id,
            "kind": self.kind,
            "agent": self.agent,
            "started_by": self.started_by,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "steps": list(self.steps),
            "result": self.result,
            "error": self.error,
            "secret_waiting": self.secret is not None,
        }


class Operations:
    """The operations of this control plane process, newest kept up to ``keep``; with
    ``rows``, written to the registry too, and earlier processes' read from there."""

    def __init__(
        self,
        events: EventLog,
        *,
        workers: int = 4,
        keep: int = 500,
        rows: OperationRows | None = None,
    ) -> None:
        self._events = events
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="controlplane-op")
        self._lock = threading.Lock()
        self._ops: dict[str, Operation] = {}
        self._keep = keep
        self._counter = itertools.count(1)
        self.rows = rows
        #: This process, as the registry's rows name it.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._stopped = threading.Event()
        if rows is not None:
            threading.Thread(target=self._beat, name="controlplane-op-beat", daemon=True).start()

    def get(self, op_id: str) -> Operation | None:
        with self._lock:
            op = self._ops.get(op_id)
        if op is None and self.rows is not None:
            row = self.rows.get(op_id)
            op = Operation.of_row(row) if row is not None else None
        return op

    def recent(self, limit: int = 50) -> list[Operation]:
        with self._lock:
            mine = dict(self._ops)
        if self.rows is None:
            return list(mine.values())[-limit:][::-1]
        return [mine.get(r.id) or Operation.of_row(r) for r in self.rows.recent(limit)]

    def _save(self, op: Operation) -> None:
        if self.rows is not None:
            # The registry being down must not fail the operation: its events still go out.
            with contextlib.suppress(Exception):
                self.rows.save(op.row(self.worker))

    def _beat(self) -> None:
        assert self.rows is not None
        while not self._stopped.wait(BEAT_S):
            with contextlib.suppress(Exception):
                self.rows.beat(self.worker)

    def start(self, kind: str, agent: str, started_by: str, work: Work) -> Operation:
        """Queue ``work`` (called with a progress callback) for ``agent``; returns at once.

        :raises Busy: an operation on ``agent`` is queued or running.
        """
        with self._lock:
            for op in self._ops.values():
                if op.agent == agent and op.status in ("queued", "running"):
                    raise Busy(op)
            op_id = f"op-{next(self._counter)}-{secrets.token_hex(4)}"
            op = Operation(op_id, kind, agent, started_by)
            self._ops[op_id] = op
            while len(self._ops) > self._keep:
                oldest = next(iter(self._ops))
                if self._ops[oldest].status in ("queued", "running"):
                    break
                del self._ops[oldest]
        self._status(op)
        self._pool.submit(self._run, op, work)
        return op

    def take_secret(self, op_id: str, principal: str) -> str | None:
        """The secret an operation made (a new agent key), once, to whoever started it."""
        with self._lock:
            op = self._ops.get(op_id)
            if op is None or op.started_by != principal or op.secret is None:
                return None
            secret, op.secret = op.secret, None
            return secret

    def _status(self, op: Operation) -> None:
        self._save(op)
        self._events.publish(
            "deploy_status",
            operation_id=op.id,
            operation=op.kind,
            agent=op.agent,
            status=op.status,
            error=op.error,
            result=op.result,
        )

    def _run(self, op: Operation, work: Work) -> None:
        def progress(step: str, message: str, **fields: Any) -> None:
            entry = {"step": step, "message": message, "at": time.time()}
            op.steps.append(entry)
            self._save(op)
            self._events.publish(
                "build_event", operation_id=op.id, agent=op.agent, step=step, message=message
            )

        op.status = "running"
        self._status(op)
        try:
            result, secret = work(progress)
        except Exception as exc:  # every failure ends the operation, none kills the worker
            op.error = _error_of(exc)
            op.status = "failed"
        else:
            op.result, op.secret = result, secret
            op.status = "succeeded"
        op.finished_at = time.time()
        self._status(op)

    def shutdown(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


def recover_abandoned(
    rows: OperationRows, events: EventLog, store: Any, plugins: Any, stale_after: float
) -> list[Operation]:
    """End ``failed`` the operations a stopped control plane left queued or running (their
    process stopped beating ``stale_after`` seconds ago), say so in ``deploy_status``
    events, and for a deploy or rollback clean up the registry as the agent's next deploy
    would (a ``pending`` deployment is stopped and marked failed) when its deploy lock is
    free. Returns the operations ended."""
    from agentdock.deployment.artifacts import no_progress
    from agentdock.deployment.errors import DeployError
    from agentdock.deployment.release import deploy_lock, recover_interrupted
    from agentdock.deployment.workspace import Workspace

    ended = [Operation.of_row(row) for row in rows.end_abandoned(stale_after, _gone)]
    for op in ended:
        events.publish(
            "deploy_status",
            operation_id=op.id,
            operation=op.kind,
            agent=op.agent,
            status=op.status,
            error=op.error,
            result=None,
        )
    agents = sorted({op.agent for op in ended if op.kind in ("deploy", "rollback")})
    if agents:
        with Workspace.open(store, plugins) as ws:
            for agent in agents:
                # DeployInProgress: another process deploys it now and will clean up itself.
                with contextlib.suppress(DeployError), deploy_lock(ws, agent, ""):
                    recover_interrupted(ws, agent, "", no_progress)
    return ended


def _error_of(exc: Exception) -> dict[str, Any]:
    """A failed operation's error: a DeployError's own JSON (code, cause, hint), else the
    exception's type and first line."""
    to_json = getattr(exc, "to_json", None)
    if callable(to_json):
        data = to_json()
        if isinstance(data, dict):
            return data
    first = str(exc).splitlines()[0] if str(exc) else ""
    return {"error": type(exc).__name__, "detail": first[:300]}


def _gone(worker: str) -> bool:
    """A worker (``host:pid:token``) of this host whose process no longer runs."""
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
