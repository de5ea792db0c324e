"""Deployments of an agent and its instances, which one is active, and the deploy lock."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from agentdock.registry.records import (
    ACTIVE,
    DeploymentRecord,
)
from agentdock.registry.sqlaudit import AuditQueries
from agentdock.registry.sqlbase import LockHeld, RegistryError, _deployment, _now

__all__ = ["DeploymentQueries"]

_DEPLOYMENT_SELECT = (
    "SELECT d.id, a.name, v.version, d.agent_version_id, d.artifact_id, d.target, d.instance, "
    "d.status, d.endpoint_url, d.handle_json, d.reason, d.detail, d.started_at, d.stopped_at, "
    "d.deployed_by, d.settings_json FROM deployments d "
    "JOIN agent_versions v ON v.id = d.agent_version_id "
    "JOIN agents a ON a.id = v.agent_id"
)


class DeploymentQueries(AuditQueries):
    """Deployments and deploy locks (activating one is audited)."""

    def create_deployment(
        self,
        *,
        version_id: int,
        artifact_id: int | None,
        target: str,
        instance: str = "",
        reason: str = "deploy",
        deployed_by: str | None = None,
        settings: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> DeploymentRecord:
        """A new ``pending`` deployment (its runtime is about to start).

        ``settings`` records how it was started (env file paths, the requested port), never
        a value from the environment.
        """
        at = _now(now)
        payload = json.dumps(dict(settings or {}), sort_keys=True)
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO deployments (agent_version_id, agent_id, artifact_id, status, "
                "target, instance, reason, deployed_by, started_at, settings_json) "
                "SELECT ?, agent_id, ?, 'pending', ?, ?, ?, ?, ?, ? FROM agent_versions "
                "WHERE id = ? RETURNING id",
                (
                    version_id,
                    artifact_id,
                    target,
                    instance,
                    reason,
                    deployed_by,
                    at,
                    payload,
                    version_id,
                ),
            ).fetchone()
            if row is None:
                raise RegistryError(f"no version with id {version_id}")
        found = self.get_deployment(int(row[0]))
        assert found is not None
        return found

    def set_deployment_handle(
        self, deployment_id: int, handle: Mapping[str, Any], endpoint: str | None
    ) -> None:
        """Record where a started runtime runs (before its health gate)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE deployments SET handle_json = ?, endpoint_url = ? WHERE id = ?",
                (json.dumps(dict(handle), sort_keys=True), endpoint, deployment_id),
            )

    def activate_deployment(
        self, deployment_id: int, *, actor: str = "cli", now: float | None = None
    ) -> DeploymentRecord | None:
        """Make a pending deployment the active one of its agent and instance, in one
        transaction; the previously active one becomes ``superseded``. Returns that one."""
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT agent_id, instance, status FROM deployments WHERE id = ?",
                (deployment_id,),
            ).fetchone()
            if row is None or row[2] != "pending":
                raise RegistryError(f"deployment {deployment_id} is not pending")
            agent_id, instance, _ = row
            old = conn.execute(
                "SELECT id FROM deployments WHERE agent_id = ? AND instance = ? AND status = ?",
                (agent_id, instance, ACTIVE),
            ).fetchone()
            if old is not None:
                conn.execute(
                    "UPDATE deployments SET status = 'superseded', stopped_at = ? WHERE id = ?",
                    (at, old[0]),
                )
            conn.execute("UPDATE deployments SET status = ? WHERE id = ?", (ACTIVE, deployment_id))
            current = conn.execute(
                f"{_DEPLOYMENT_SELECT} WHERE d.id = ?", (deployment_id,)
            ).fetchone()
            record = _deployment(current)
            self._insert_audit(
                conn,
                at,
                actor,
                f"{record.reason}.activate",
                record.agent,
                record.version,
                {
                    "deployment_id": deployment_id,
                    "target": record.target,
                    "instance": record.instance or None,
                    "previous_deployment_id": old[0] if old else None,
                },
            )
        return self.get_deployment(int(old[0])) if old is not None else None

    def finish_deployment(
        self,
        deployment_id: int,
        status: str,
        *,
        detail: str | None = None,
        now: float | None = None,
    ) -> None:
        """End a deployment: ``failed``, ``stopped`` or ``superseded``."""
        if status not in {"failed", "stopped", "superseded"}:
            raise ValueError(f"not an end state: {status!r}")
        with self._tx() as conn:
            conn.execute(
                "UPDATE deployments SET status = ?, detail = COALESCE(?, detail), "
                "stopped_at = COALESCE(stopped_at, ?) WHERE id = ?",
                (status, detail, _now(now), deployment_id),
            )

    def get_deployment(self, deployment_id: int) -> DeploymentRecord | None:
        with self._read() as conn:
            row = conn.execute(f"{_DEPLOYMENT_SELECT} WHERE d.id = ?", (deployment_id,)).fetchone()
        return _deployment(row) if row is not None else None

    def active_deployment(self, agent: str, instance: str = "") -> DeploymentRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"{_DEPLOYMENT_SELECT} WHERE a.name = ? AND d.instance = ? AND d.status = ?",
                (agent, instance, ACTIVE),
            ).fetchone()
        return _deployment(row) if row is not None else None

    def list_instances(self, agent: str) -> list[str]:
        """Named instances of ``agent`` ever deployed (``""``, the default one, excluded)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT d.instance FROM deployments d JOIN agents a ON a.id = d.agent_id "
                "WHERE a.name = ? AND d.instance <> '' ORDER BY d.instance",
                (agent,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def list_deployments(
        self,
        agent: str,
        *,
        instance: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> list[DeploymentRecord]:
        """Deployments of ``agent`` (one instance, some states), oldest first."""
        query = f"{_DEPLOYMENT_SELECT} WHERE a.name = ?"
        args: list[Any] = [agent]
        if instance is not None:
            query += " AND d.instance = ?"
            args.append(instance)
        wanted = list(statuses or ())
        if wanted:
            query += f" AND d.status IN ({', '.join('?' for _ in wanted)})"
            args.extend(wanted)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY d.id", tuple(args)).fetchall()
        return [_deployment(r) for r in rows]

    # -- deploy locks ---------------------------------------------------------------------

    def acquire_lock(
        self,
        agent: str,
        instance: str,
        *,
        holder: str,
        pid: int,
        host: str,
        is_stale: Any = None,
        now: float | None = None,
    ) -> None:
        """Take the deploy lock of an agent and instance or raise :class:`LockHeld`.

        ``is_stale(pid, host, acquired_at) -> bool`` may declare the current holder dead
        (its process is gone), in which case the lock is taken over.
        """
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT holder, pid, host, acquired_at FROM deploy_locks "
                "WHERE agent = ? AND instance = ?",
                (agent, instance),
            ).fetchone()
            if row is not None:
                if is_stale is None or not is_stale(row[1], row[2], row[3]):
                    raise LockHeld(row[0], row[1], row[2], row[3])
                conn.execute(
                    "DELETE FROM deploy_locks WHERE agent = ? AND instance = ?", (agent, instance)
                )
            conn.execute(
                "INSERT INTO deploy_locks (agent, instance, holder, pid, host, acquired_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (agent, instance, holder, pid, host, at),
            )

    def release_lock(self, agent: str, instance: str, *, pid: int, host: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM deploy_locks WHERE agent = ? AND instance = ? AND pid = ? "
                "AND host = ?",
                (agent, instance, pid, host),
            )
