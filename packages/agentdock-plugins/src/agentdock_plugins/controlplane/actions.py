"""What a principal may do to the platform, shared by the JSON API and the dashboard.

Each function checks what it needs beyond the route's role guard (the agent exists, the
path lies under the projects, the key's role is defined), writes the audit row with the
principal, then acts or queues the work as an operation. Errors are
:class:`~agentdock.httperrors.RuntimeHTTPError` values in the runtime's envelope.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agentdock.deployment import build, deploy, rollback, stop
from agentdock.httperrors import RuntimeHTTPError
from agentdock.registry import SQLStore

from agentdock_plugins.controlplane.agents import dockfile_under, is_agent_name
from agentdock_plugins.controlplane.operations import Busy, Operation
from agentdock_plugins.controlplane.principals import (
    PLATFORM,
    ROLES,
    Principal,
    create_platform_key,
    describe,
)
from agentdock_plugins.controlplane.state import ControlPlane

__all__ = [
    "audit",
    "make_key",
    "require_agent",
    "revoke",
    "revoke_many",
    "rotate_key",
    "start_build",
    "start_deploy",
    "start_rollback",
    "start_stop",
]


def audit(
    store: SQLStore,
    who: Principal,
    action: str,
    agent: str | None = None,
    target: str | None = None,
    **details: Any,
) -> None:
    store.append_audit(
        action, actor=who.name, agent=agent, target=target, details={"role": who.role, **details}
    )


def require_agent(plane: ControlPlane, agent: str) -> None:
    if agent == PLATFORM or agent not in plane.store.list_agents():
        raise RuntimeHTTPError(404, "NotFound", f"no agent named {agent!r}", path="agent")


def _start(plane: ControlPlane, kind: str, agent: str, who: Principal, work: Any) -> Operation:
    try:
        return plane.operations.start(kind, agent, who.name, work)
    except Busy as exc:
        raise RuntimeHTTPError(
            409,
            "DeployInProgress",
            f"{exc.running.kind} {exc.running.id} of {agent} is still running",
            path="agent",
        ) from None


def _dockfile(plane: ControlPlane, dockfile: str) -> tuple[Path, str, str, str | None]:
    """The Dockfile a path on the server names (under the project directory), its agent's
    name, the path as shown in the audit log (relative to the projects), and the target
    the Dockfile declares (``deploy.target``; None if it names none)."""
    path = dockfile_under(plane.projects, dockfile)
    if path is None:
        raise RuntimeHTTPError(
            400, "InvalidPath", "the Dockfile must lie under the project directory", "dockfile"
        )
    if path.is_dir():
        path = path / "Dockfile.yaml"
    if not path.is_file():
        raise RuntimeHTTPError(404, "NotFound", "no such Dockfile", path="dockfile")
    agent, declared = _read_head(path)
    return path, agent, str(path.relative_to(plane.projects.resolve())), declared


def _target(plane: ControlPlane, requested: str | None, declared: str | None) -> str | None:
    """The target a deploy or build asks the service for: the request's, else none when
    the Dockfile declares one (the service reads it there), else the control plane's."""
    return requested or (None if declared else plane.target)


def start_deploy(plane: ControlPlane, who: Principal, dockfile: str) -> Operation:
    """Check the path and the Dockfile's agent name, audit, then deploy in the background."""
    path, agent, shown, declared = _dockfile(plane, dockfile)
    target = _target(plane, None, declared)
    audit(plane.store, who, "controlplane.deploy", agent, shown)

    def work(progress: Any) -> tuple[dict[str, Any], str | None]:
        done = deploy(
            path,
            target=target,
            build_options=plane.build_options,
            progress=progress,
            store=plane.store,
            plugins=plane.plugins,
        )
        return done.to_json(), done.api_key

    return _start(plane, "deploy", agent, who, work)


def start_build(
    plane: ControlPlane, who: Principal, dockfile: str, target: str | None
) -> Operation:
    """Check, audit, then build and record the version in the background (nothing starts);
    one operation per agent at a time, as for deploys."""
    path, agent, shown, declared = _dockfile(plane, dockfile)
    chosen = _target(plane, target, declared)
    audit(plane.store, who, "controlplane.build", agent, shown, build_target=target)

    def work(progress: Any) -> tuple[dict[str, Any], str | None]:
        done = build(
            path,
            target=chosen,
            build_options=plane.build_options,
            progress=progress,
            store=plane.store,
            plugins=plane.plugins,
        )
        return done.to_json(), None

    return _start(plane, "build", agent, who, work)


def _read_head(path: Any) -> tuple[str, str | None]:
    """The agent name a Dockfile declares and its ``deploy.target`` (None when absent or
    not a string: the deploy's validation reports that), read with the loader (its limits
    apply)."""
    from agentdock.spec.loader import load_document

    document = load_document(path, environ={}, allow_unresolved=True)
    data = document.data if isinstance(document.data, dict) else {}
    agent = data.get("agent")
    name = agent.get("name") if isinstance(agent, dict) else None
    if not isinstance(name, str) or not is_agent_name(name):
        raise RuntimeHTTPError(400, "InvalidDockfile", "the Dockfile names no valid agent")
    deploy_cfg = data.get("deploy")
    declared = deploy_cfg.get("target") if isinstance(deploy_cfg, dict) else None
    return name, declared if isinstance(declared, str) and declared else None


def start_rollback(
    plane: ControlPlane, who: Principal, agent: str, version: str | None
) -> Operation:
    require_agent(plane, agent)
    audit(plane.store, who, "controlplane.rollback", agent, version)

    def work(progress: Any) -> tuple[dict[str, Any], str | None]:
        done = rollback(agent, version, progress=progress, store=plane.store, plugins=plane.plugins)
        return done.to_json(), None

    return _start(plane, "rollback", agent, who, work)


def start_stop(plane: ControlPlane, who: Principal, agent: str) -> Operation:
    require_agent(plane, agent)
    audit(plane.store, who, "controlplane.stop", agent)

    def work(progress: Any) -> tuple[dict[str, Any], str | None]:
        progress("stop", f"stopping {agent}")
        return stop(agent, store=plane.store, plugins=plane.plugins), None

    return _start(plane, "stop", agent, who, work)


def make_key(
    plane: ControlPlane,
    who: Principal,
    role: str,
    agent: str | None,
    expires_in_s: int | None = None,
) -> dict[str, Any]:
    """A new key of ``agent`` with one of its roles (developer), or a platform key
    (``agent`` None; admin); audited; the answer holds the key, shown once."""
    from agentdock.auth import generate_key
    from agentdock.deployment.roles import defined_roles

    now = time.time()
    expires = now + expires_in_s if expires_in_s else None
    if agent is None:
        if not who.can("admin"):
            raise RuntimeHTTPError(403, "Forbidden", "only an admin creates platform keys")
        if role not in ROLES:
            raise RuntimeHTTPError(
                400, "InvalidRole", f"platform roles: {', '.join(ROLES)}", "role"
            )
        generated, record = create_platform_key(
            plane.store, role, created_by=who.name, expires_at=expires
        )
        audit(plane.store, who, "controlplane.key.create", None, record.key_id, granted_role=role)
        return {"key": generated.key, **describe(record, now)}
    require_agent(plane, agent)
    found = defined_roles(plane.store, agent, plugins=plane.plugins)
    if found is None or role not in found.roles:
        known = ", ".join(sorted(found.roles)) if found else "none (never deployed)"
        raise RuntimeHTTPError(
            400, "InvalidRole", f"{agent} defines no role {role!r} ({known})", "role"
        )
    generated = generate_key()
    record = plane.store.create_api_key(
        agent=agent,
        role=role,
        key_id=generated.key_id,
        hashed_key=generated.digest,
        hash_algorithm=generated.algorithm,
        expires_at=expires,
        created_by=who.name,
        now=now,
    )
    audit(plane.store, who, "key.create", agent, record.key_id, granted_role=role)
    return {"key": generated.key, **record.public(now)}


def revoke(plane: ControlPlane, who: Principal, key_id: str, agent: str | None) -> dict[str, Any]:
    """Revoke a key of ``agent`` (developer), or a platform key (``agent`` None; admin)."""
    if agent is None and not who.can("admin"):
        raise RuntimeHTTPError(403, "Forbidden", "only an admin revokes platform keys")
    record = plane.store.revoke_api_key(agent=agent or PLATFORM, key_id=key_id)
    if record is None:
        raise RuntimeHTTPError(404, "NotFound", "no such key", path="key_id")
    action = "key.revoke" if agent else "controlplane.key.revoke"
    audit(plane.store, who, action, agent, key_id)
    return record.public(time.time()) if agent else describe(record)


def rotate_key(
    plane: ControlPlane, who: Principal, key_id: str, agent: str | None, grace_s: int
) -> dict[str, Any]:
    """Replace a live key of ``agent`` (developer), or a platform key (``agent`` None;
    admin), by a new one with the same role and expiry (the registry's rotation, in one
    transaction); the old key works ``grace_s`` more seconds (0: it stops at once). The
    answer holds the new key, shown once; the audit row names both ids."""
    from agentdock.auth import generate_key

    if agent is None and not who.can("admin"):
        raise RuntimeHTTPError(403, "Forbidden", "only an admin rotates platform keys")
    if agent is not None:
        require_agent(plane, agent)
    now = time.time()
    generated = generate_key()
    result = plane.store.rotate_api_key(
        agent=agent or PLATFORM,
        key_id=key_id,
        new_key_id=generated.key_id,
        new_hashed_key=generated.digest,
        hash_algorithm=generated.algorithm,
        grace_seconds=grace_s,
        created_by=who.name,
        now=now,
    )
    if result is None:
        raise RuntimeHTTPError(404, "NotFound", "no such live key", path="key_id")
    old, new = result
    action = "key.rotate" if agent else "controlplane.key.rotate"
    audit(
        plane.store, who, action, agent, key_id, new_key_id=new.key_id, grace_until=old.grace_until
    )
    shown = new.public(now) if agent else describe(new, now)
    previous = old.public(now) if agent else describe(old, now)
    return {"key": generated.key, **shown, "old": previous}


def revoke_many(
    plane: ControlPlane, who: Principal, key_ids: list[str], agent: str | None, every: bool
) -> dict[str, Any]:
    """Revoke several keys of ``agent`` (or platform keys, admin) at once: ``key_ids``, or
    with ``every`` all its live keys (a platform key never revokes the caller's own). Each
    is revoked and audited as one :func:`revoke`; unknown ids are listed, not an error."""
    if agent is None and not who.can("admin"):
        raise RuntimeHTTPError(403, "Forbidden", "only an admin revokes platform keys")
    if agent is not None:
        require_agent(plane, agent)
    wanted = list(dict.fromkeys(key_ids))
    if every:
        now = time.time()
        live = plane.store.list_api_keys(agent or PLATFORM)
        wanted += [
            r.key_id
            for r in live
            if r.state(now) in ("active", "rotating") and r.key_id not in wanted
        ]
    if agent is None:
        wanted = [k for k in wanted if k != who.key_id]
    revoked, missing = [], []
    for key_id in wanted:
        try:
            revoke(plane, who, key_id, agent)
        except RuntimeHTTPError as exc:
            if exc.status != 404:
                raise
            missing.append(key_id)
        else:
            revoked.append(key_id)
    return {"agent": agent, "revoked": revoked, "not_found": missing}
