"""Agents, their immutable versions and what builders made of them (artifacts)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agentdock.registry.records import (
    ArtifactRecord,
    VersionRecord,
)
from agentdock.registry.sqlaudit import AuditQueries
from agentdock.registry.sqlbase import ImmutableVersion, _artifact, _now, _version

__all__ = ["VersionQueries"]

_VERSION_SELECT = (
    "SELECT v.id, a.name, v.version, v.content_hash, v.dockfile_yaml, v.created_at, "
    "v.created_by FROM agent_versions v JOIN agents a ON a.id = v.agent_id"
)
_ARTIFACT_SELECT = (
    "SELECT id, agent_version_id, builder, ref, digest, details_json, created_at FROM artifacts"
)


class VersionQueries(AuditQueries):
    """Agents, versions and artifacts (recording a version is audited)."""

    def list_agents(self) -> list[str]:
        """Every agent name the registry knows, sorted."""
        with self._read() as conn:
            rows = conn.execute("SELECT name FROM agents ORDER BY name").fetchall()
        return [str(r[0]) for r in rows]

    def get_version(self, agent: str, version: str) -> VersionRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? AND v.version = ?", (agent, version)
            ).fetchone()
        return _version(row) if row is not None else None

    def get_version_by_id(self, version_id: int) -> VersionRecord | None:
        with self._read() as conn:
            row = conn.execute(f"{_VERSION_SELECT} WHERE v.id = ?", (version_id,)).fetchone()
        return _version(row) if row is not None else None

    def find_version_by_hash(self, agent: str, content_hash: str) -> VersionRecord | None:
        """The newest version of ``agent`` recorded with this content, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? AND v.content_hash = ? ORDER BY v.id DESC",
                (agent, content_hash),
            ).fetchone()
        return _version(row) if row is not None else None

    def list_versions(self, agent: str) -> list[VersionRecord]:
        """Every version of ``agent``, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? ORDER BY v.id", (agent,)
            ).fetchall()
        return [_version(r) for r in rows]

    def record_version(
        self,
        *,
        agent: str,
        version: str,
        snapshot: str,
        content_hash: str,
        created_by: str | None = None,
        now: float | None = None,
    ) -> tuple[VersionRecord, bool]:
        """Record an immutable version; ``(record, created)``.

        The same version string with the same content returns the existing row
        (``created`` False); with other content it raises :class:`ImmutableVersion`.
        """
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? AND v.version = ?", (agent, version)
            ).fetchone()
            if row is not None:
                existing = _version(row)
                if existing.content_hash != content_hash:
                    raise ImmutableVersion(existing)
                return existing, False
            agent_id = self._agent_id(conn, agent, at)
            conn.execute(
                "INSERT INTO agent_versions (agent_id, version, dockfile_yaml, content_hash, "
                "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
                (agent_id, version, snapshot, content_hash, at, created_by),
            )
            self._insert_audit(
                conn,
                at,
                created_by or "cli",
                "version.record",
                agent,
                version,
                {"content_hash": content_hash[:12]},
            )
        record = self.get_version(agent, version)
        assert record is not None
        return record, True

    # -- artifacts ------------------------------------------------------------------------

    def record_artifact(
        self,
        *,
        version_id: int,
        builder: str,
        ref: str,
        digest: str,
        details: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> ArtifactRecord:
        """Record (or refresh) what ``builder`` made of a version."""
        at = _now(now)
        payload = json.dumps(dict(details or {}), sort_keys=True)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM artifacts WHERE agent_version_id = ? AND builder = ?",
                (version_id, builder),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO artifacts (agent_version_id, builder, ref, digest, details_json, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (version_id, builder, ref, digest, payload, at),
                )
            else:
                conn.execute(
                    "UPDATE artifacts SET ref = ?, digest = ?, details_json = ?, created_at = ?, "
                    "removed_at = NULL WHERE id = ?",
                    (ref, digest, payload, at, row[0]),
                )
            conn.execute(
                "UPDATE agent_versions SET image_ref = COALESCE(image_ref, ?) WHERE id = ?",
                (ref, version_id),
            )
        found = self.get_artifact(version_id, builder)
        assert found is not None
        return found

    def get_artifact(self, version_id: int, builder: str) -> ArtifactRecord | None:
        """The live (not removed) artifact of a version for one builder, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"{_ARTIFACT_SELECT} WHERE agent_version_id = ? AND builder = ? "
                "AND removed_at IS NULL",
                (version_id, builder),
            ).fetchone()
        return _artifact(row) if row is not None else None

    def list_artifacts(self, agent: str) -> list[ArtifactRecord]:
        """Live artifacts of every version of ``agent``, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT r.id, r.agent_version_id, r.builder, r.ref, r.digest, r.details_json, "
                "r.created_at FROM artifacts r JOIN agent_versions v ON v.id = r.agent_version_id "
                "JOIN agents a ON a.id = v.agent_id WHERE a.name = ? AND r.removed_at IS NULL "
                "ORDER BY r.id",
                (agent,),
            ).fetchall()
        return [_artifact(r) for r in rows]

    def mark_artifact_removed(self, artifact_id: int, now: float | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE artifacts SET removed_at = ? WHERE id = ?", (_now(now), artifact_id)
            )
