"""Long operations (deploy, rollback, stop): started at once, run in a worker thread.

The API answers with an operation id before any work is done; progress is published to the
event log as ``build_event`` (each step the builder and target report) and ``deploy_status``
(queued, running, succeeded, failed). One operation per agent at a time: a second deploy of
an agent whose deploy is still running is refused (409) here, before the registry's deploy
lock would refuse it from another process. A key a deploy creates is never published: it is
handed once to whoever started the operation (:meth:`Operations.take_secret`).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agentdock_plugins.controlplane.events import EventLog

__all__ = ["Busy", "Operation", "Operations"]

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
    """The operations of this control plane process, newest kept up to ``keep``."""

    def __init__(self, events: EventLog, *, workers: int = 4, keep: int = 500) -> None:
        self._events = events
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="controlplane-op")
        self._lock = threading.Lock()
        self._ops: dict[str, Operation] = {}
        self._keep = keep
        self._counter = itertools.count(1)

    def get(self, op_id: str) -> Operation | None:
        with self._lock:
            return self._ops.get(op_id)

    def recent(self, limit: int = 50) -> list[Operation]:
        with self._lock:
            ops = list(self._ops.values())
        return ops[-limit:][::-1]

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
        self._pool.shutdown(wait=False, cancel_futures=True)


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
