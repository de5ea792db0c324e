"""The health watcher: publishes a ``health_event`` when an agent's state changes.

Every ``interval`` seconds it reads each agent's live status in a worker thread (the target
may probe a process or an address) and compares the summary (active, degraded, down,
version) with the last one seen; a change, and each agent's first reading, is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import anyio

from agentdock_plugins.controlplane.agents import agent_rows
from agentdock_plugins.controlplane.state import ControlPlane

__all__ = ["start", "stop", "watch_health"]

log = logging.getLogger("agentdock.controlplane")


def _changes(plane: ControlPlane, seen: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    rows = agent_rows(plane)
    changed = []
    for row in rows:
        summary = (row["state"], row["version"], row["health"])
        if seen.get(row["agent"]) != summary:
            seen[row["agent"]] = summary
            changed.append(row)
    return changed


async def watch_health(plane: ControlPlane, interval: float) -> None:
    """Run until cancelled; a failed reading is logged (type only) and tried again."""
    seen: dict[str, tuple[Any, ...]] = {}
    while True:
        try:
            for row in await anyio.to_thread.run_sync(lambda: _changes(plane, seen)):
                plane.events.publish(
                    "health_event",
                    agent=row["agent"],
                    state=row["state"],
                    health=row["health"],
                    version=row["version"],
                )
        except Exception as exc:  # a registry or target hiccup must not end the watcher
            log.warning("health reading failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)


def start(plane: ControlPlane, interval: float) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(watch_health(plane, interval))


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
