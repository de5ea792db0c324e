"""A thread's LangGraph state as the Platform API answers it (``ThreadState``).

RemoteGraph rebuilds a ``StateSnapshot`` from this shape, so every key it reads is here:
``values``, ``next``, ``checkpoint {thread_id, checkpoint_ns, checkpoint_id,
checkpoint_map}``, ``metadata``, ``created_at``, ``parent_checkpoint``, ``tasks [{id, name,
error, interrupts, state, checkpoint}]`` and ``interrupts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.types import StateSnapshot

__all__ = ["checkpoint_of", "interrupt_of", "snapshot_body"]


def checkpoint_of(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map}`` of a checkpoint's
    config, or ``None``."""
    if not config:
        return None
    conf = config.get("configurable") or {}
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map") or {},
    }


def interrupt_of(interrupt: Any) -> dict[str, Any]:
    """An ``Interrupt`` (or one already made plain) as ``{value, id}``."""
    if isinstance(interrupt, Mapping):
        return {"value": interrupt.get("value"), "id": interrupt.get("id")}
    return {"value": getattr(interrupt, "value", None), "id": getattr(interrupt, "id", None)}


def snapshot_body(snapshot: Any) -> dict[str, Any]:
    """A ``StateSnapshot`` as the Platform's ``ThreadState``."""
    tasks = []
    interrupts = []
    for task in snapshot.tasks:
        task_interrupts = [interrupt_of(i) for i in task.interrupts]
        interrupts += task_interrupts
        state = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                # The error's type, not its message: a message may carry what the caller
                # must not see (the log has the rest).
                "error": type(task.error).__name__ if task.error is not None else None,
                "interrupts": task_interrupts,
                "checkpoint": checkpoint_of(state) if isinstance(state, Mapping) else None,
                "state": snapshot_body(state) if isinstance(state, StateSnapshot) else None,
                "result": task.result,
            }
        )
    metadata = dict(snapshot.metadata or {})
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "checkpoint": checkpoint_of(snapshot.config),
        "metadata": metadata,
        "created_at": snapshot.created_at,
        "parent_checkpoint": checkpoint_of(snapshot.parent_config),
        "tasks": tasks,
        "interrupts": interrupts,
    }
