"""Who may do what, how often: roles, permissions and per-role rate limits.

Compiled once from the spec's ``auth`` block (:func:`compile_access`); the runtime calls
:meth:`Access.check` after authentication with the permission the endpoint needs
(``invoke`` for /invoke, /stream and /ws/stream, ``view_metrics`` for /metrics,
``read_docs`` for /docs and /openapi.json). Roles come from ``auth.roles``, or the defaults
of PRD 5.3.4 when the Dockfile declares none. Limits from ``auth.rate_limits``
(``developer: 100/m``) apply per role and subject, so one noisy caller does not eat the
budget of the others with the same role.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from agentdock.auth.permissions import roles_from_spec

from agentdock_runtime.errors import Forbidden, RateLimited
from agentdock_runtime.ratelimit import Limiter, MemoryLimiter, Rate, RedisLimiter, parse_rate

__all__ = ["REDIS_URL_ENV", "Access", "compile_access"]

REDIS_URL_ENV = "AGENTDOCK_REDIS_URL"


class Access:
    """Role → permissions and role → rate, checked per request without I/O (memory mode)."""

    def __init__(
        self,
        *,
        agent: str,
        roles: Mapping[str, frozenset[str]],
        rates: Mapping[str, Rate] | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.agent = agent
        self.roles = dict(roles)
        self.rates = dict(rates or {})
        self.limiter: Limiter = limiter if limiter is not None else MemoryLimiter()
        self._prefix = f"{agent}:"

    def allows(self, role: str, permission: str) -> bool:
        """Whether ``role`` holds ``permission`` (no rate limit involved)."""
        return permission in self.roles.get(role, ())

    async def check(self, identity: Mapping[str, Any], permission: str) -> None:
        """Raise :class:`Forbidden` or :class:`RateLimited`; return None when the call may go."""
        role = str(identity.get("role", ""))
        granted = self.roles.get(role)
        if granted is None:
            raise Forbidden(
                f"role {role!r} is not defined for this agent",
                details=[{"role": role, "permission": permission}],
            )
        if permission not in granted:
            raise Forbidden(
                f"role {role!r} lacks permission {permission!r}",
                details=[{"role": role, "permission": permission}],
            )
        rate = self.rates.get(role)
        if rate is None:
            return
        subject = str(identity.get("sub", ""))
        decision = await self.limiter.hit(f"{self._prefix}{role}:{subject}", rate)
        if not decision.allowed:
            raise RateLimited(
                f"role {role!r} is limited to {rate.text}; retry later",
                retry_after=decision.retry_after,
            )

    async def close(self) -> None:
        await self.limiter.close()


def compile_access(spec: Any, *, redis_url: str | None = None) -> Access:
    """Build the :class:`Access` of a resolved spec.

    :param redis_url: share rate limits through this Redis (default: ``AGENTDOCK_REDIS_URL``
        when set, else limits are kept in this process's memory).
    :raises ValueError: a rate limit is malformed (validation normally catches it first).
    """
    auth = spec.auth
    roles = roles_from_spec(auth)
    rates = {role: parse_rate(text) for role, text in (auth.rate_limits or {}).items()}
    url = redis_url if redis_url is not None else os.environ.get(REDIS_URL_ENV) or None
    limiter: Limiter | None = None
    if url and rates:
        limiter = RedisLimiter(url)
    return Access(agent=spec.agent.name, roles=roles, rates=rates, limiter=limiter)
