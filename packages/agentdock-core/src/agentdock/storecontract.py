"""The registry store's contract, by concern: what every store plugin must do.

A store (``agentdock_register_stores``; the built-in SQLite one and the Postgres plugin)
keeps agents, their versions and artifacts, deployments and their locks, API keys and the
audit log. Each concern is a small Protocol, so that a caller that needs only one (the key
verifier, the deploy lock) can say so in its types; :class:`Store` is all of them, the
whole contract. :class:`agentdock.registry.SQLStore` implements it over any DB-API
connection; a store plugin may subclass it or write its own.

Record types are in :mod:`agentdock.registry.records`; the methods raise
:class:`agentdock.registry.RegistryError` (and its ``ImmutableVersion`` and ``LockHeld``)
for what the caller did wrong, never a driver's exception with a connection string in it.
This module imports nothing at run time, so ``validate`` pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from typing import Self

    from agentdock.registry.auditchain import ChainReport
    from agentdock.registry.records import (
        ApiKeyRecord,
        ArtifactRecord,
        AuditEntry,
        DeploymentRecord,
        VersionRecord,
    )

__all__ = [
    "ApiKeyStore",
    "ArtifactStore",
    "AuditStore",
    "DeploymentStore",
    "LockStore",
    "Store",
    "VersionStore",
]


@runtime_checkable
class VersionStore(Protocol):
    """Agents and their immutable versions (the Dockfile snapshot and content hash)."""

    def list_agents(self) -> list[str]:
        """Every agent name the registry knows, sorted."""
        ...

    def get_version(self, agent: str, version: str) -> VersionRecord | None:
        """One version of ``agent`` by its name, or None."""
        ...

    def get_version_by_id(self, version_id: int) -> VersionRecord | None:
        """One version by its row id, or None."""
        ...

    def find_version_by_hash(self, agent: str, content_hash: str) -> VersionRecord | None:
        """The newest version of ``agent`` recorded with this content, or None."""
        ...

    def list_versions(self, agent: str) -> list[VersionRecord]:
        """Every version of ``agent``, oldest first."""
        ...

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
        """Record an immutable version; ``(record, created)``. The same name with other
        content raises ``ImmutableVersion``."""
        ...


@runtime_checkable
class ArtifactStore(Protocol):
    """What each builder made of a version (an image, a bundle directory)."""

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
        ...

    def get_artifact(self, version_id: int, builder: str) -> ArtifactRecord | None:
        """The live (not removed) artifact of a version for one builder, or None."""
        ...

    def list_artifacts(self, agent: str) -> list[ArtifactRecord]:
        """Live artifacts of every version of ``agent``, oldest first."""
        ...

    def mark_artifact_removed(self, artifact_id: int, now: float | None = None) -> None:
        """Mark an artifact deleted (``agentdock cleanup``, ``agentdock rm``)."""
        ...


@runtime_checkable
class DeploymentStore(Protocol):
    """Deployments of an agent and its named instances, and which one is active."""

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
        """A new ``pending`` deployment (its runtime is about to start)."""
        ...

    def set_deployment_handle(
        self, deployment_id: int, handle: Mapping[str, Any], endpoint: str | None
    ) -> None:
        """Record where a started runtime runs (before its health gate)."""
        ...

    def activate_deployment(
        self, deployment_id: int, *, actor: str = "cli", now: float | None = None
    ) -> DeploymentRecord | None:
        """Make a pending deployment the active one of its agent and instance, in one
        transaction; the previously active one becomes ``superseded``. Returns that one."""
        ...

    def finish_deployment(
        self,
        deployment_id: int,
        status: str,
        *,
        detail: str | None = None,
        now: float | None = None,
    ) -> None:
        """End a deployment: ``failed``, ``stopped`` or ``superseded``."""
        ...

    def get_deployment(self, deployment_id: int) -> DeploymentRecord | None:
        """One deployment by its row id, or None."""
        ...

    def active_deployment(self, agent: str, instance: str = "") -> DeploymentRecord | None:
        """The active deployment of an agent and instance, or None."""
        ...

    def list_instances(self, agent: str) -> list[str]:
        """Named instances of ``agent`` ever deployed (``""``, the default one, excluded)."""
        ...

    def list_deployments(
        self,
        agent: str,
        *,
        instance: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> list[DeploymentRecord]:
        """Deployments of ``agent`` (one instance, some states), oldest first."""
        ...


@runtime_checkable
class LockStore(Protocol):
    """The deploy lock: one deploy, rollback or removal of an agent and instance at once."""

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
        """Take the lock or raise ``LockHeld``; ``is_stale(pid, host)`` lets a lock whose
        holder died be taken over."""
        ...

    def release_lock(self, agent: str, instance: str, *, pid: int, host: str) -> None:
        """Release the lock this process holds (another holder's is left alone)."""
        ...


@runtime_checkable
class ApiKeyStore(Protocol):
    """API key rows: hashes only, never a key; ``key_id`` is the key's public part."""

    def create_api_key(
        self,
        *,
        agent: str,
        role: str,
        key_id: str,
        hashed_key: str,
        hash_algorithm: str,
        expires_at: float | None = None,
        created_by: str | None = None,
        instance: str = "",
        pepper_id: str | None = None,
        now: float | None = None,
    ) -> ApiKeyRecord:
        """Insert a key row (the agent row is created on first use)."""
        ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The row of one key id, or None."""
        ...

    def get_api_keys(self, key_ids: Iterable[str]) -> dict[str, ApiKeyRecord]:
        """The rows of many key ids at once, by id (ids without a row are left out)."""
        ...

    def list_api_keys(self, agent: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one agent), oldest first."""
        ...

    def rotate_api_key(
        self,
        *,
        agent: str,
        key_id: str,
        new_key_id: str,
        new_hashed_key: str,
        hash_algorithm: str,
        grace_seconds: float,
        created_by: str | None = None,
        now: float | None = None,
    ) -> tuple[ApiKeyRecord, ApiKeyRecord] | None:
        """Replace a live key by a new one with the same role and expiry, in one
        transaction; ``(old, new)``, or None when the agent has no such live key."""
        ...

    def revoke_api_key(
        self, *, agent: str, key_id: str, now: float | None = None
    ) -> ApiKeyRecord | None:
        """Mark a key revoked (effective immediately); None when the agent has no such key."""
        ...

    def touch_api_keys(self, used: Mapping[str, float] | Iterable[tuple[str, float]]) -> int:
        """Record ``last_used_at`` for many keys in one transaction; returns rows changed."""
        ...


@runtime_checkable
class AuditStore(Protocol):
    """The append-only audit log and its hash chain."""

    def append_audit(
        self,
        action: str,
        *,
        actor: str,
        agent: str | None = None,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> AuditEntry:
        """Append one audit entry; detail fields whose names look secret are dropped."""
        ...

    def audit_key(self, *, create: bool = False) -> bytes | None:
        """The audit chain key, or None when there is none (``create``: make one)."""
        ...

    def seal_audit(self) -> bool:
        """Seal the rows written before the chain existed; whether a chain exists after."""
        ...

    def verify_audit(self, key: bytes) -> ChainReport:
        """Walk the whole chain and report where it breaks, if it does."""
        ...

    def list_audit(self, *, agent: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries (of one agent), oldest first."""
        ...


@runtime_checkable
class Store(
    VersionStore,
    ArtifactStore,
    DeploymentStore,
    LockStore,
    ApiKeyStore,
    AuditStore,
    Protocol,
):
    """Persists agents, versions, artifacts, deployments, locks, keys and the audit log.

    Factory: ``factory(url) -> Store``, registered with ``agentdock_register_stores``
    under the URL scheme it serves (``postgres``); the SQLite store is built in. It is a
    context manager that closes itself.
    """

    def migrate(self) -> None:
        """Bring the schema up to date (idempotent; safe from several processes)."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
