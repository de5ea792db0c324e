"""Roles and permissions: the PRD 5.3.4 defaults and the Dockfile's own roles.

A role maps to a set of permission names; every endpoint names the one it needs. When a
Dockfile declares no ``auth.roles``, the default roles below apply. ``admin`` holds every
reserved permission ("full control").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DEFAULT_ROLES",
    "DEPLOY",
    "INVOKE",
    "KEY_MANAGE",
    "READ_DOCS",
    "READ_LOGS",
    "RESERVED_PERMISSIONS",
    "ROLLBACK",
    "VIEW_METRICS",
    "roles_from_spec",
]

DEPLOY = "deploy"
ROLLBACK = "rollback"
INVOKE = "invoke"
VIEW_METRICS = "view_metrics"
KEY_MANAGE = "key_manage"
READ_LOGS = "read_logs"
READ_DOCS = "read_docs"

#: Every permission the runtime and the CLI check.
RESERVED_PERMISSIONS: frozenset[str] = frozenset(
    {DEPLOY, ROLLBACK, INVOKE, VIEW_METRICS, KEY_MANAGE, READ_LOGS, READ_DOCS}
)

#: Roles that exist when a Dockfile declares none (PRD 5.3.4).
DEFAULT_ROLES: Mapping[str, frozenset[str]] = {
    "admin": frozenset(RESERVED_PERMISSIONS),
    "developer": frozenset({INVOKE, VIEW_METRICS, READ_LOGS}),
    "viewer": frozenset({VIEW_METRICS, READ_DOCS}),
}


def roles_from_spec(auth: Any) -> dict[str, frozenset[str]]:
    """Role name → permissions from a spec's ``auth`` block (defaults when it declares none).

    ``auth`` is the pydantic ``AuthCfg`` (or anything with a ``roles`` list of objects or
    mappings with ``name`` and ``permissions``).
    """
    roles: Iterable[Any] = getattr(auth, "roles", None) or []
    out: dict[str, frozenset[str]] = {}
    for role in roles:
        if isinstance(role, Mapping):
            name, permissions = role["name"], role["permissions"]
        else:
            name, permissions = role.name, role.permissions
        out[str(name)] = frozenset(str(p) for p in permissions)
    return out if out else dict(DEFAULT_ROLES)
