"""Typed rows the registry store returns (plain frozen dataclasses, no ORM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiKeyRecord", "AuditEntry"]


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
