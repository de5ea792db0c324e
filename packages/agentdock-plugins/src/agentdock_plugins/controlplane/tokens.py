"""JWTs for agents in ``jwt`` mode, issued and checked by the control plane.

The agent's settings come from the snapshot of the version it runs (``auth.jwt``: the
algorithm, issuer, audience, lifetime), its ``${VAR}`` placeholders filled from the control
plane's own environment, as a runtime started there would fill them; a token is minted by
the same code as ``agentdock token issue`` (:func:`agentdock.auth.mint_token`) and checked
by the same verifier as the runtime (:class:`agentdock_plugins.auth.jwt.JwtProvider`), so
what the control plane says verifies is what the agent accepts.

Refused: an agent not in mode ``jwt``, an asymmetric algorithm (the control plane holds no
private key), a secret the control plane's environment does not set, a role the agent does
not define. No answer, error or audit row holds the secret or a token.
"""

from __future__ import annotations

import os
import time
from typing import Any

from agentdock.httperrors import RuntimeHTTPError

from agentdock_plugins.controlplane.actions import audit, require_agent
from agentdock_plugins.controlplane.agents import running_version
from agentdock_plugins.controlplane.principals import Principal
from agentdock_plugins.controlplane.state import ControlPlane

__all__ = ["issue_token", "verify_token"]


def _jwt_spec(plane: ControlPlane, agent: str) -> Any:
    """The agent's spec with the server's environment, once it is known to be jwt mode
    with an HMAC secret that environment sets."""
    import yaml
    from agentdock.deployment import DeployError
    from agentdock.deployment.inputs import spec_of_snapshot
    from agentdock.spec.interpolate import parse_template

    record = running_version(plane, agent)
    try:
        spec, _, missing = spec_of_snapshot(record, os.environ, plane.plugins)
    except DeployError as exc:
        raise RuntimeHTTPError(409, exc.name, exc.cause) from None
    cfg = spec.auth.jwt
    if spec.auth.mode != "jwt" or cfg is None:
        raise RuntimeHTTPError(
            400, "NotJwtMode", f"{agent} uses auth.mode {spec.auth.mode!r}; tokens are for jwt"
        )
    algorithm = (getattr(cfg, "algorithms", None) or ["HS256"])[0]
    if not algorithm.startswith("HS"):
        raise RuntimeHTTPError(
            400,
            "PrivateKeyRequired",
            f"{algorithm} tokens are signed with a private key the control plane does not hold;"
            " use agentdock token issue --private-key",
        )
    raw = yaml.safe_load(record.snapshot)
    written = ((raw.get("auth") or {}).get("jwt") or {}).get("secret_key")
    segments = parse_template(written)[0] if isinstance(written, str) else ()
    needed = [part.name for part in segments if not isinstance(part, str)]
    unset = sorted(set(needed) & set(missing.names if missing else ()))
    if unset or not getattr(cfg, "secret_key", None):
        raise RuntimeHTTPError(
            409,
            "NoSigningKey",
            f"the control plane's environment does not set {', '.join(unset) or 'the secret'}"
            f" (auth.jwt.secret_key of {agent})",
        )
    return spec, algorithm


def issue_token(
    plane: ControlPlane, who: Principal, agent: str, role: str, sub: str, ttl_s: int | None
) -> dict[str, Any]:
    """A token for ``sub`` with ``role`` on ``agent``; audited without the token."""
    from agentdock.auth import TokenError, mint_token, roles_from_spec

    require_agent(plane, agent)
    spec, algorithm = _jwt_spec(plane, agent)
    cfg = spec.auth.jwt
    if role not in roles_from_spec(spec.auth):
        raise RuntimeHTTPError(400, "InvalidRole", f"{agent} defines no role {role!r}", "role")
    lifetime = ttl_s if ttl_s is not None else int(cfg.expiry_minutes) * 60
    now = time.time()
    try:
        token = mint_token(
            key=cfg.secret_key,
            agent=agent,
            role=role,
            sub=sub,
            ttl_seconds=lifetime,
            algorithm=algorithm,
            issuer=getattr(cfg, "issuer", None),
            audience=getattr(cfg, "audience", None),
            now=now,
        )
    except TokenError as exc:
        raise RuntimeHTTPError(409, "TokenError", str(exc)) from None
    expires_at = int(now) + lifetime
    audit(
        plane.store,
        who,
        "token.issue",
        agent,
        sub,
        granted_role=role,
        algorithm=algorithm,
        expires_at=expires_at,
    )
    return {"token": token, "agent": agent, "role": role, "sub": sub, "expires_at": expires_at}


def verify_token(plane: ControlPlane, agent: str, token: str) -> dict[str, Any]:
    """Whether ``agent``'s runtime would accept ``token``: ``valid`` with the identity, or
    not with the runtime's refusal (``error``, ``detail``)."""
    from agentdock_plugins.auth.jwt import JwtProvider

    require_agent(plane, agent)
    spec, _ = _jwt_spec(plane, agent)
    try:
        identity = JwtProvider(spec).verify_token(token)
    except RuntimeHTTPError as exc:
        return {"valid": False, "agent": agent, "error": exc.name, "detail": exc.detail}
    return {"valid": True, **identity}
