"""Reading the registry for the API and the dashboard: agents with their live status.

Each call reads the registry and asks the target how the runtime does, which may touch the
network or the process table: callers run these in a worker thread, never on the loop.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentdock.deployment import DeployError, status
from agentdock.httperrors import RuntimeHTTPError
from agentdock.registry import VersionRecord

from agentdock_plugins.controlplane.principals import PLATFORM
from agentdock_plugins.controlplane.state import ControlPlane

__all__ = [
    "AGENT_NAME",
    "agent_rows",
    "agent_status",
    "dockfile_under",
    "is_agent_name",
    "is_key_id",
    "read_agent_rows",
    "running_version",
]

#: An agent name as the Dockfile schema allows it (``agent.name``).
AGENT_NAME = r"^[a-z][a-z0-9_-]{2,63}$"
_AGENT = re.compile(AGENT_NAME)
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")


def is_agent_name(name: str) -> bool:
    return _AGENT.match(name) is not None


def is_key_id(text: str) -> bool:
    """The public id part of a key (12 lower-case hex characters)."""
    return _KEY_ID.match(text) is not None


def agent_status(plane: ControlPlane, agent: str) -> dict[str, Any]:
    """``agentdock status`` of one agent, or its error as data (``health`` ``unknown``)."""
    try:
        return status(agent, store=plane.store, plugins=plane.plugins)
    except DeployError as exc:
        return {"agent": agent, "health": "unknown", "status": "unknown", "error": exc.to_json()}


def running_version(plane: ControlPlane, agent: str) -> VersionRecord:
    """The version the agent's active deployment runs, else its newest (404 for none)."""
    active = plane.store.active_deployment(agent, "")
    record = plane.store.get_version_by_id(active.version_id) if active is not None else None
    if record is None:
        recorded = plane.store.list_versions(agent)
        if not recorded:
            raise RuntimeHTTPError(404, "NotFound", f"{agent} has no recorded version", "agent")
        record = recorded[-1]
    return record


def _summary(state: dict[str, Any]) -> str:
    """active (running and healthy), degraded (running, not healthy), down (otherwise)."""
    if state.get("status") == "active" and state.get("health") not in ("stopped", "exited"):
        return "active" if state.get("healthy") else "degraded"
    return "down"


def agent_rows(plane: ControlPlane) -> list[dict[str, Any]]:
    """:func:`read_agent_rows`, read at most once per ``plane.table_ttl_s`` and shared by
    every caller meanwhile (:class:`~.shared.Shared`); the rows are not to be changed."""
    return plane.table.get(lambda: read_agent_rows(plane))


def read_agent_rows(plane: ControlPlane) -> list[dict[str, Any]]:
    """Every agent of the registry with its version, state and uptime, and its figures
    over the last ``plane.figures_window_s`` from the local telemetry store (read at most
    every ``plane.figures_ttl_s``: :class:`~.metrics.FleetFigures`) (requests,
    p95 latency, requests a minute, error rate, cost; None where nothing was recorded)."""
    figures, telemetry = plane.fleet.get()
    rows = []
    for name in plane.store.list_agents():
        if name == PLATFORM or not is_agent_name(name):
            continue
        state = agent_status(plane, name)
        rows.append(
            {
                "agent": name,
                "state": _summary(state),
                "status": state.get("status"),
                "health": state.get("health"),
                "version": state.get("version"),
                "target": state.get("target"),
                "endpoint": state.get("endpoint"),
                "uptime_s": state.get("uptime_s"),
                "restarts": state.get("restarts", 0),
                "started_at": state.get("started_at"),
                "deployed_by": state.get("deployed_by"),
                **_row_figures(figures.get(name)),
                "telemetry": telemetry,
            }
        )
    return rows


def _row_figures(found: dict[str, Any] | None) -> dict[str, Any]:
    if found is None:
        return {
            "requests": 0,
            "p95_ms": None,
            "rate_per_min": None,
            "error_rate": None,
            "cost_usd": None,
        }
    return {
        "requests": found["requests"],
        "p95_ms": found["latency_ms"]["p95"],
        "rate_per_min": found["rate_per_min"],
        "error_rate": found["error_rate"],
        "cost_usd": found["cost_usd"],
    }


def dockfile_under(root: Path, given: str) -> Path | None:
    """``given`` (absolute, or relative to ``root``) resolved, if it lies under ``root``
    (symbolic links followed); None for anything outside, however it is spelt."""
    if not given or "\x00" in given or len(given) > 4096:
        return None
    base = root.resolve()
    candidate = Path(given)
    resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if resolved != base and base not in resolved.parents:
        return None
    return resolved
