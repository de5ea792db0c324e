"""Looking at and managing what is deployed: status, instances, versions, logs, stop.

Each reads the registry of the AgentDock home found from the working directory and never
creates one: with no registry, or no such agent in it, they raise :class:`NotFound`
naming the registry they read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from agentdock.deployment.errors import DeployError, InvalidDeployInput
from agentdock.deployment.release import STOP_TIMEOUT, deploy_lock
from agentdock.deployment.workspace import Workspace, actor
from agentdock.registry import DeploymentRecord
from agentdock.storecontract import Store

__all__ = ["instances", "logs", "status", "stop", "stop_active", "versions"]


def _current(ws: Workspace, agent: str, instance: str) -> DeploymentRecord:
    """The active deployment, else the newest one (stopped, failed ...)."""
    ws.require_agent(agent)
    active = ws.store.active_deployment(agent, instance)
    if active is not None:
        return active
    history = ws.store.list_deployments(agent, instance=instance)
    if not history:
        label = agent + (f" instance {instance}" if instance else "")
        raise ws.not_found(
            f"{label} has never been deployed", hint="agentdock deploy Dockfile.yaml"
        )
    return history[-1]


def status(
    agent: str, *, instance: str | None = None, store: Store | None = None, plugins: Any = None
) -> dict[str, Any]:
    """Version, target, endpoint, health, uptime and restarts of an agent, read live.

    ``endpoint`` is the agent's address; a target that keeps one address for every
    version (``local``) also says where this deployment's own runtime answers
    (``runtime_endpoint``: what the health gate and ``/health`` checks reach)."""
    with Workspace.open(store, plugins, agent=agent) as ws:
        record = _current(ws, agent, instance or "")
        live: dict[str, Any] = {"state": record.status, "healthy": None, "restarts": 0}
        if record.status == "active" and record.handle:
            try:
                live.update(ws.target(record.target).status(record.handle))
            except DeployError as exc:
                live.update({"state": "unknown", "detail": exc.cause})
        started = live.get("started_at")
        out = record.public()
        out.update(
            {
                "health": live.get("state"),
                "healthy": live.get("healthy"),
                "restarts": live.get("restarts", 0),
                "uptime_s": round(time.time() - started, 1) if started else None,
            }
        )
        if live.get("runtime_endpoint"):  # this runtime's own address (local), not the agent's
            out["runtime_endpoint"] = live["runtime_endpoint"]
        if live.get("isolation"):  # whether the local sandbox holds (Landlock), and why not
            out["isolation"] = live["isolation"]
            out["isolation_detail"] = live.get("isolation_detail")
        if live.get("standby"):  # a superseded version kept for a rollback (local): its pids
            out["standby"] = live["standby"]
        return out


def instances(
    agent: str, *, store: Store | None = None, plugins: Any = None
) -> list[dict[str, Any]]:
    """The named (per-tenant) instances of an agent, each with its live status."""
    with Workspace.open(store, plugins, agent=agent) as ws:
        ws.require_agent(agent)
        names = ws.store.list_instances(agent)
    return [status(agent, instance=name, store=store, plugins=plugins) for name in names]


def versions(
    agent: str, *, store: Store | None = None, plugins: Any = None
) -> list[dict[str, Any]]:
    """Every version of an agent, oldest first, with its artifacts and whether it is active."""
    with Workspace.open(store, plugins, agent=agent) as ws:
        ws.require_agent(agent)
        active = {d.version_id for d in ws.store.list_deployments(agent, statuses=["active"])}
        artifacts: dict[int, list[dict[str, Any]]] = {}
        for art in ws.store.list_artifacts(agent):
            artifacts.setdefault(art.version_id, []).append(art.public())
        rows = []
        for record in ws.store.list_versions(agent):
            row = record.public()
            row["active"] = record.id in active
            row["artifacts"] = artifacts.get(record.id, [])
            rows.append(row)
        return rows


def logs(
    agent: str,
    *,
    instance: str | None = None,
    tail: int | None = None,
    follow: bool = False,
    store: Store | None = None,
    plugins: Any = None,
) -> Iterator[str]:
    """The runtime's log lines (of the active deployment, else the newest)."""
    if tail is not None and tail < 0:
        raise InvalidDeployInput("--tail must be 0 or more", path="--tail")
    with Workspace.open(store, plugins, agent=agent) as ws:
        record = _current(ws, agent, instance or "")
        target = ws.target(record.target)
    if not record.handle:
        return iter(())
    return iter(target.logs(record.handle, tail, follow))


def stop(
    agent: str,
    *,
    instance: str | None = None,
    timeout: float = STOP_TIMEOUT,
    store: Store | None = None,
    plugins: Any = None,
) -> dict[str, Any]:
    """Stop the active deployment cleanly (drain, then exit) and record it stopped.

    As ``docker stop`` of a stopped container, an agent the registry knows that runs
    nothing is no failure: the answer is its latest deployment (none: ``version`` None) with
    ``already_stopped`` true; a stop that stopped something says ``already_stopped`` false.

    :raises NotFound: the registry does not know ``agent``.
    """
    instance_name = instance or ""
    with Workspace.open(store, plugins, agent=agent) as ws:
        ws.require_agent(agent)
        with deploy_lock(ws, agent, instance_name):
            stopped = stop_active(ws, agent, instance_name, timeout)
            if stopped is not None:
                return {**stopped, "already_stopped": False}
            latest = ws.store.list_deployments(agent, instance=instance_name)[-1:]
            if latest:
                return {**latest[0].public(), "already_stopped": True}
            return {
                "agent": agent,
                "instance": instance_name or None,
                "version": None,
                "status": None,
                "already_stopped": True,
            }


def stop_active(
    ws: Workspace, agent: str, instance: str, timeout: float = STOP_TIMEOUT
) -> dict[str, Any] | None:
    """Under the caller's deploy lock: stop the active deployment of one instance and record
    it (``deploy.stop`` in the audit log); None when nothing is active."""
    active = ws.store.active_deployment(agent, instance)
    if active is None:
        return None
    if active.handle:
        ws.target(active.target).stop(active.handle, timeout)
    ws.store.finish_deployment(active.id, "stopped", detail=f"stopped by {actor()}")
    ws.store.append_audit(
        "deploy.stop",
        actor=actor(),
        agent=agent,
        target=active.version,
        details={"deployment_id": active.id, "instance": instance or None},
    )
    stopped = ws.store.get_deployment(active.id)
    assert stopped is not None
    return stopped.public()
