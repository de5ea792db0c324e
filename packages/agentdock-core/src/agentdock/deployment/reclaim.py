"""Giving disk back: ``cleanup`` removes old versions' artifacts, ``remove`` an agent's.

What an artifact is kept for, per instance of the agent:

- the version its active deployment runs (``serves``);
- the version ``rollback`` would go back to (``rollback target``), also after a ``stop``
  (``rollback target ... (stopped)``: the version before the one that served last);
- a version being deployed right now (``deploying``);
- with ``cleanup``, the newest ``keep`` versions (``within --keep``).

A stopped instance holds only its rollback target: after ``agentdock stop``, ``cleanup
--keep 0`` removes every other artifact (all of them when only one version ever served),
and ``remove`` (``agentdock rm``) removes them all; the next ``deploy`` builds again.
Registry rows are never deleted: versions, deployments, keys and the audit log stay, and a
removed artifact shows as removed in ``agentdock versions``.

Builders remove what they made (a bundle directory, an image) and may say how many bytes
the file system got back; the totals add what they reported.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from contextlib import ExitStack
from typing import Any

from agentdock.deployment.artifacts import Artifact, Progress, no_progress
from agentdock.deployment.errors import InvalidDeployInput
from agentdock.deployment.inputs import check_instance
from agentdock.deployment.operations import stop_active
from agentdock.deployment.release import STOP_TIMEOUT, deploy_lock
from agentdock.deployment.rollbacks import _previous_version
from agentdock.deployment.workspace import Workspace, actor, did_you_mean
from agentdock.registry import ArtifactRecord, DeploymentRecord
from agentdock.storecontract import Store

__all__ = ["Confirm", "cleanup", "remove"]


def _where(instance: str) -> str:
    return f"instance {instance}" if instance else "the default instance"


def _holds(ws: Workspace, agent: str, skip: Collection[str] = ()) -> dict[int, str]:
    """Version id → why its artifacts stay, for every instance but those in ``skip``."""
    holds: dict[int, str] = {}
    by_instance: dict[str, list[DeploymentRecord]] = {}
    for record in ws.store.list_deployments(agent):
        by_instance.setdefault(record.instance, []).append(record)
    for instance, history in by_instance.items():
        if instance in skip:
            continue
        where = _where(instance)
        for record in history:
            if record.status == "pending":
                holds.setdefault(record.version_id, f"being deployed on {where}")
        active = next((r for r in reversed(history) if r.status == "active"), None)
        if active is not None:
            holds[active.version_id] = f"serves {where}"
        # What ``rollback`` would start: also after a ``stop``, when nothing serves.
        previous = _previous_version(history, active)
        if previous is not None:
            record = next(r for r in reversed(history) if r.version == previous)
            stopped = "" if active is not None else " (stopped)"
            holds.setdefault(record.version_id, f"rollback target of {where}{stopped}")
    return holds


def _public(agent: str, art: ArtifactRecord, versions: dict[int, str]) -> dict[str, Any]:
    return {"agent": agent, "version": versions.get(art.version_id), **art.public()}


def _sweep(
    ws: Workspace,
    agent: str,
    holds: dict[int, str],
    progress: Progress,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Remove every live artifact of ``agent`` whose version ``holds`` does not name."""
    versions = {v.id: v.version for v in ws.store.list_versions(agent)}
    artifacts = ws.store.list_artifacts(agent)
    # Two versions of the same content (``--version`` given twice) share one artifact.
    held: dict[tuple[str, str], str | None] = {}
    for art in artifacts:
        if art.version_id in holds:
            held.setdefault((art.builder, art.ref), versions.get(art.version_id))
    removed: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for art in artifacts:
        row = _public(agent, art, versions)
        reason = holds.get(art.version_id)
        if reason is None and (art.builder, art.ref) in held:
            reason = f"the same artifact as {held[(art.builder, art.ref)]}, which is kept"
        if reason is not None:
            progress("keep", f"keeping {art.builder} artifact of {row['version']}: {reason}")
            kept.append({**row, "reason": reason})
            continue
        progress("remove", f"removing {art.builder} artifact {art.ref} ({row['version']})")
        freed = ws.builder(art.builder).remove(Artifact.from_json(art.public()))
        ws.store.mark_artifact_removed(art.id)
        removed.append({**row, "freed_bytes": freed if isinstance(freed, int) else None})
    return removed, kept


def _freed(removed: Iterable[dict[str, Any]]) -> int:
    return sum(r["freed_bytes"] or 0 for r in removed)


def cleanup(
    agent: str | None = None,
    *,
    keep: int = 3,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
) -> dict[str, Any]:
    """Remove old bundles and images: of one agent, or of every agent.

    Keeps the newest ``keep`` versions' artifacts and what each deployed instance needs
    (see the module docstring); a stopped instance only its rollback target.

    :returns: ``{"removed": [...], "kept": [...], "freed_bytes": N}``: each entry an
        artifact (agent, version, builder, ref); a kept one says why (``reason``), a
        removed one what the builder freed (``freed_bytes``, None when not measured).
    """
    if keep < 0:
        raise InvalidDeployInput("--keep must be 0 or more", path="--keep")
    removed: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    with Workspace.open(store, plugins, agent=agent) as ws:
        if agent is not None:
            ws.require_agent(agent)
        for name in [agent] if agent is not None else ws.store.list_agents():
            holds = _holds(ws, name)
            newest = [v.id for v in ws.store.list_versions(name)][-keep:] if keep else []
            for version_id in newest:
                holds.setdefault(version_id, f"within --keep {keep} (the newest versions)")
            gone, stay = _sweep(ws, name, holds, progress)
            if gone:
                ws.store.append_audit(
                    "artifact.cleanup",
                    actor=actor(),
                    agent=name,
                    details={"removed": len(gone), "freed_bytes": _freed(gone)},
                )
            removed += gone
            kept += stay
    return {"removed": removed, "kept": kept, "freed_bytes": _freed(removed)}


#: Asked before anything is stopped or removed, with what will be (``stop``: the active
#: deployments, ``remove``: the artifacts); False cancels.
Confirm = Callable[[dict[str, Any]], bool]


def _plan(ws: Workspace, agent: str, chosen: list[str]) -> dict[str, Any]:
    holds = _holds(ws, agent, skip=chosen)
    versions = {v.id: v.version for v in ws.store.list_versions(agent)}
    active = [ws.store.active_deployment(agent, name) for name in chosen]
    return {
        "stop": [d.public() for d in active if d is not None],
        "remove": [
            _public(agent, a, versions)
            for a in ws.store.list_artifacts(agent)
            if a.version_id not in holds
        ],
    }


def remove(
    agent: str,
    *,
    instance: str | None = None,
    timeout: float = STOP_TIMEOUT,
    confirm: Confirm | None = None,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
) -> dict[str, Any]:
    """Stop an agent (or one of its instances) where it runs and remove its artifacts.

    Without ``instance``, every instance is stopped and every artifact removed. With it,
    only that instance is stopped, and the artifacts the other instances still need stay
    (``kept``, with the reason). The registry keeps the agent's versions, deployments, keys
    and audit log; an ``agent.remove`` entry records what was done. ``confirm``, when
    given, is asked once the agent and instance are known to exist.

    :returns: ``{"agent", "instance", "registry", "stopped": [...], "removed": [...],
        "kept": [...], "freed_bytes", "cancelled"}``; ``cancelled`` is True when
        ``confirm`` said no, and then nothing was done.
    :raises NotFound: no such agent or instance (the message names the registry read).
    :raises DeployInProgress: a deploy of it holds the lock.
    """
    with Workspace.open(store, plugins, agent=agent) as ws:
        ws.require_agent(agent)
        chosen = _instances_to_remove(ws, agent, instance)
        result: dict[str, Any] = {
            "agent": agent,
            "instance": instance,
            "registry": ws.registry,
            "stopped": [],
            "removed": [],
            "kept": [],
            "freed_bytes": 0,
            "cancelled": False,
        }
        if confirm is not None and not confirm(_plan(ws, agent, chosen)):
            return {**result, "cancelled": True}
        with ExitStack() as locks:
            for name in chosen:
                locks.enter_context(deploy_lock(ws, agent, name))
            stopped = []
            for name in chosen:
                if ws.store.active_deployment(agent, name) is not None:
                    progress("stop", f"stopping {agent} on {_where(name)}")
                    record = stop_active(ws, agent, name, timeout)
                    if record is not None:
                        stopped.append(record)
            holds = _holds(ws, agent, skip=chosen)
            removed, kept = _sweep(ws, agent, holds, progress)
            freed = _freed(removed)
            ws.store.append_audit(
                "agent.remove",
                actor=actor(),
                agent=agent,
                target=instance,
                details={
                    "instance": instance,
                    "stopped": [d["deployment_id"] for d in stopped],
                    "removed": len(removed),
                    "kept": len(kept),
                    "freed_bytes": freed,
                },
            )
        return {
            **result,
            "stopped": stopped,
            "removed": removed,
            "kept": kept,
            "freed_bytes": freed,
        }


def _instances_to_remove(ws: Workspace, agent: str, instance: str | None) -> list[str]:
    """The instance asked for (refused when the agent has none of that name), else every
    instance, the default one (``""``) first."""
    named = ws.store.list_instances(agent)
    if instance is None:
        return ["", *named]
    name = check_instance(instance)
    if name not in named:
        raise ws.not_found(
            f"{agent} has no instance {instance!r}" + did_you_mean(instance, named),
            hint=f"agentdock instances {agent}",
        )
    return [name]
