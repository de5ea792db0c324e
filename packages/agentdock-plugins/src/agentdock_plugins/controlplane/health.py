"""The health watcher: publishes ``health_event`` and ``metric_event`` as agents change.

Every ``interval`` seconds it reads each agent's live status in a worker thread (the target
may probe a process or an address) and compares the summary (active, degraded, down,
version) with the last one seen; a change, and each agent's first reading, is published.
The same reading carries each agent's figures over the home table's window (requests, p95,
rate, error rate, cost, from the local telemetry store); when they differ from the last
ones published, a ``metric_event`` says so. Unchanged figures publish nothing, so an idle
fleet does not push deploy events out of the bounded event log. Each reading also ends the
operations another control plane left running when it stopped (``recover_operations``).
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


#: The figures of a row that a ``metric_event`` carries.
FIGURES = ("requests", "p95_ms", "rate_per_min", "error_rate", "cost_usd")


def _changes(
    plane: ControlPlane, seen: dict[str, tuple[Any, ...]], figures: dict[str, tuple[Any, ...]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows whose state changed, and those whose figures changed."""
    rows = agent_rows(plane)
    changed, measured = [], []
    for row in rows:
        summary = (row["state"], row["version"], row["health"])
        if seen.get(row["agent"]) != summary:
            seen[row["agent"]] = summary
            changed.append(row)
        numbers = tuple(row[name] for name in FIGURES)
        if row["telemetry"] == "read" and figures.get(row["agent"]) != numbers:
            figures[row["agent"]] = numbers
            measured.append(row)
    return changed, measured


async def watch_health(plane: ControlPlane, interval: float) -> None:
    """Run until cancelled; a failed reading is logged (type only) and tried again."""
    seen: dict[str, tuple[Any, ...]] = {}
    figures: dict[str, tuple[Any, ...]] = {}
    while True:
        try:
            changed, measured = await anyio.to_thread.run_sync(
                lambda: _changes(plane, seen, figures)
            )
            if plane.operations.rows is not None:
                await anyio.to_thread.run_sync(plane.recover_operations)
            if plane.key_use:
                await anyio.to_thread.run_sync(plane.flush_key_use)
            for row in changed:
                plane.events.publish(
                    "health_event",
                    agent=row["agent"],
                    state=row["state"],
                    health=row["health"],
                    version=row["version"],
                )
            for row in measured:
                plane.events.publish(
                    "metric_event",
                    agent=row["agent"],
                    window_s=plane.figures_window_s,
                    **{name: row[name] for name in FIGURES},
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
