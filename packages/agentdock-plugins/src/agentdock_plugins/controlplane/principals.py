"""Platform credentials: who may drive the control plane, and with which role.

An agent's keys open that agent's runtime; the control plane needs credentials that are
not tied to one agent. They are API keys like an agent's (``adk_<id>_<secret>``, stored as
a digest by :mod:`agentdock.auth`, revoked and listed by the same registry rows), owned by
the reserved name :data:`PLATFORM`, which no Dockfile can take (agent names start with a
letter), so a platform key never opens an agent and an agent key never opens the control
plane. Their roles are the PRD's three (5.8.5): ``viewer`` reads, ``developer`` also
deploys, rolls back, stops and manages agent keys, ``admin`` also manages platform keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from agentdock.auth import GeneratedKey, MalformedKey, generate_key, key_id_of, verify_key
from agentdock.registry import ApiKeyRecord, SQLStore

__all__ = [
    "ANONYMOUS",
    "PLATFORM",
    "ROLES",
    "Principal",
    "authenticate",
    "create_platform_key",
    "describe",
    "platform_keys",
    "principal_of",
]

#: The registry owner of platform keys (not a valid agent name, so never an agent).
PLATFORM = "_platform"
#: Platform roles, weakest first: each may do what the ones before it may.
ROLES = ("viewer", "developer", "admin")
_RANK = {name: rank for rank, name in enumerate(ROLES)}
_LIVE = frozenset({"active", "rotating"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request: ``name`` is what the audit log records (never a credential)."""

    name: str
    role: str
    key_id: str | None = None

    def can(self, role: str) -> bool:
        """Whether this principal's role is ``role`` or a stronger one."""
        return _RANK.get(self.role, -1) >= _RANK[role]


#: Everyone, when the control plane runs with ``--insecure-no-auth`` on loopback.
ANONYMOUS = Principal("anonymous (no auth)", "admin")


def create_platform_key(
    store: SQLStore, role: str, *, created_by: str, expires_at: float | None = None
) -> tuple[GeneratedKey, ApiKeyRecord]:
    """A new platform key with ``role``, stored as a digest; the key is shown once.

    :raises ValueError: ``role`` is not one of :data:`ROLES`.
    """
    if role not in _RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    generated = generate_key()
    record = store.create_api_key(
        agent=PLATFORM,
        role=role,
        key_id=generated.key_id,
        hashed_key=generated.digest,
        hash_algorithm=generated.algorithm,
        created_by=created_by,
        expires_at=expires_at,
    )
    return generated, record


def platform_keys(store: SQLStore) -> list[ApiKeyRecord]:
    """Every platform key row, oldest first."""
    return store.list_api_keys(PLATFORM)


def authenticate(store: SQLStore, presented: str, now: float | None = None) -> Principal | None:
    """The principal of a presented platform key, or None: malformed, unknown, an agent's,
    revoked, expired, or not matching its digest (all alike, so nothing is learnt)."""
    try:
        key_id = key_id_of(presented)
    except MalformedKey:
        return None
    record = store.get_api_key(key_id)
    if record is None or record.agent != PLATFORM:
        return None
    return (
        principal_of(record, now)
        if verify_key(presented, record.hashed_key, record.hash_algorithm)
        else None
    )


def principal_of(record: ApiKeyRecord, now: float | None = None) -> Principal | None:
    """The principal a live platform key row stands for (None once it is not live)."""
    at = time.time() if now is None else now
    if record.agent != PLATFORM or record.state(at) not in _LIVE or record.role not in _RANK:
        return None
    return Principal(f"key:{record.key_id}", record.role, record.key_id)


def describe(record: ApiKeyRecord, now: float | None = None) -> dict[str, Any]:
    """A platform key row for the API (no digest, no agent)."""
    out = record.public(time.time() if now is None else now)
    out.pop("agent", None)
    out.pop("instance", None)
    return out
