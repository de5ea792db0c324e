"""The roles a deployed agent defines, read from the registry, for checking a new API key.

A key's role must be one the runtime knows, or every request with it gets 403. The runtime
takes its roles from its spec snapshot through :func:`agentdock.auth.roles_from_spec`
(``auth.roles``, or the default roles when none are declared); so does this, from the
snapshot of the version the key's instance runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentdock.registry import VersionRecord
from agentdock.storecontract import Store

__all__ = ["DefinedRoles", "defined_roles"]


@dataclass(frozen=True, slots=True)
class DefinedRoles:
    """The roles of ``version`` (the one that serves, or was last deployed)."""

    version: str
    roles: dict[str, frozenset[str]]
    declared: bool


def _version_for(store: Store, agent: str, instance: str) -> VersionRecord | None:
    """The active deployment's version, else the newest deployed to the instance, else the
    agent's newest version."""
    record = store.active_deployment(agent, instance)
    if record is None:
        history = store.list_deployments(agent, instance=instance)
        record = history[-1] if history else None
    if record is not None:
        return store.get_version_by_id(record.version_id)
    versions = store.list_versions(agent)
    return versions[-1] if versions else None


def defined_roles(
    store: Store, agent: str, instance: str = "", *, plugins: Any = None
) -> DefinedRoles | None:
    """The roles ``agent``'s instance runs with; None when no version was ever recorded.
    ``plugins``: the plugin manager its versions were deployed with (its plugins' policies
    a ``plugins`` block names validate with it).

    :raises agentdock.deployment.InvalidDeployInput: the recorded snapshot no longer
        validates (written for another AgentDock).
    """
    from agentdock.auth import roles_from_spec
    from agentdock.deployment.inputs import spec_of_snapshot

    record = _version_for(store, agent, instance)
    if record is None:
        return None
    spec, _, _ = spec_of_snapshot(record, {}, plugins)
    return DefinedRoles(record.version, roles_from_spec(spec.auth), bool(spec.auth.roles))
