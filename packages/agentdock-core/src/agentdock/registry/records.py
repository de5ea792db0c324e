"""Typed rows the registry store returns (plain frozen dataclasses, no ORM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIVE",
    "DEPLOYMENT_STATES",
    "ApiKeyRecord",
    "ArtifactRecord",
    "AuditEntry",
    "DeploymentRecord",
    "VersionRecord",
]

#: A deployment is ``pending`` while its runtime starts and passes the health gate, then
#: ``active`` (at most one per agent and instance), later ``superseded`` by a newer one or
#: ``stopped``; one that never passed its gate, or was interrupted, ends ``failed``.
ACTIVE = "active"
DEPLOYMENT_STATES = ("pending", ACTIVE, "superseded", "stopped", "failed")


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One API key row. ``hashed_key`` is a digest, never the key; ``repr`` omits it."""

    key_id: str
    agent: str
    role: str
    hashed_key: str = field(repr=False)
    hash_algorithm: str
    created_at: float
    created_by: str | None = None
    expires_at: float | None = None
    revoked_at: float | None = None
    rotated_at: float | None = None
    grace_until: float | None = None
    replaced_by: str | None = None
    last_used_at: float | None = None
    #: The per-tenant instance the key works on ("" for the agent's default instance).
    instance: str = ""
    #: For ``hmac-sha256`` rows, a short fingerprint of the pepper the digest was made with
    #: (:func:`agentdock.auth.pepper_id`; never the pepper), so that a process with another
    #: pepper, or none, can say why such keys fail instead of calling them unknown.
    pepper_id: str | None = None

    def state(self, now: float) -> str:
        """``active``, ``revoked``, ``expired``, ``rotating`` (in its grace period) or
        ``rotated`` (past it)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        if self.rotated_at is not None:
            if self.grace_until is not None and now < self.grace_until:
                return "rotating"
            return "rotated"
        return "active"

    def public(self, now: float) -> dict[str, Any]:
        """The row as a JSON-ready mapping without the digest (for ``key list --json``)."""
        return {
            "key_id": self.key_id,
            "agent": self.agent,
            "role": self.role,
            "state": self.state(now),
            "hash_algorithm": self.hash_algorithm,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "rotated_at": self.rotated_at,
            "grace_until": self.grace_until,
            "replaced_by": self.replaced_by,
            "last_used_at": self.last_used_at,
            "instance": self.instance or None,
            "pepper_id": self.pepper_id,
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-log line: who did what to which agent and object, and when."""

    id: int
    at: float
    actor: str
    action: str
    agent: str | None
    target: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One immutable agent version: the Dockfile snapshot (placeholders kept) and its hash."""

    id: int
    agent: str
    version: str
    content_hash: str
    snapshot: str = field(repr=False)
    created_at: float
    created_by: str | None

    def public(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "version": self.version,
            "content_hash": self.content_hash,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """What a builder made of one version (a bundle path, an image tag)."""

    id: int
    version_id: int
    builder: str
    ref: str
    digest: str
    details: dict[str, Any]
    created_at: float

    def public(self) -> dict[str, Any]:
        return {
            "builder": self.builder,
            "ref": self.ref,
            "digest": self.digest,
            "details": self.details,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """One start of one version on one target (rollback is a new deployment, never an edit).

    ``instance`` is ``""`` for an agent's default instance. ``handle`` is what the target
    returned at start (pid, container id, port), never a secret.
    """

    id: int
    agent: str
    version: str
    version_id: int
    artifact_id: int | None
    target: str
    instance: str
    status: str
    endpoint: str | None
    handle: dict[str, Any]
    reason: str
    detail: str | None
    started_at: float
    stopped_at: float | None
    deployed_by: str | None
    settings: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "deployment_id": self.id,
            "agent": self.agent,
            "version": self.version,
            "target": self.target,
            "instance": self.instance or None,
            "status": self.status,
            "endpoint": self.endpoint,
            "reason": self.reason,
            "detail": self.detail,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "deployed_by": self.deployed_by,
            "settings": self.settings,
        }
