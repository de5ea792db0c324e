"""Who may do what, how often: roles, permissions and per-role rate limits.

Compiled once from the spec's ``auth`` block (:func:`compile_access`); the runtime calls
:meth:`Access.check` after authentication with the permission the endpoint needs
(``invoke`` for /invoke, /stream and /ws/stream, ``view_metrics`` for /metrics,
``read_docs`` for /docs and /openapi.json). Roles come from ``auth.roles``, or the defaults
of PRD 5.3.4 when the Dockfile declares none. Limits from ``auth.rate_limits``
(``developer: 100/m``) apply per instance, role and subject, so one noisy caller does not
eat the budget of the others with the same role, and per-tenant instances that share a
Redis never share a budget.

Where limits are kept: in this process's memory; in a file shared by the worker processes
of one host when ``AGENTDOCK_RATELIMIT_FILE`` names one (``agentdock serve --workers`` does);
in Redis when ``AGENTDOCK_REDIS_URL`` is set, with the local limiter as the fallback.
``AGENTDOCK_RATELIMIT_ON_OUTAGE=closed`` refuses limited callers (503) while Redis is
unreachable instead of limiting locally.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentdock.auth.permissions import roles_from_spec

from agentdock_runtime.errors import Forbidden, RateLimited, ServiceUnavailable
from agentdock_runtime.ratelimit import (
    OUTAGE_MODES,
    Limiter,
    LocalLimiter,
    MemoryLimiter,
    Rate,
    RedisLimiter,
    parse_rate,
    retry_seconds,
)
from agentdock_runtime.sharedlimit import RATELIMIT_FILE_ENV, SharedLimiter

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "INSTANCE_ENV",
    "OUTAGE_ENV",
    "RATELIMIT_FILE_ENV",
    "REDIS_URL_ENV",
    "Access",
    "compile_access",
]

REDIS_URL_ENV = "AGENTDOCK_REDIS_URL"
#: The per-tenant instance a runtime serves (set by deploy targets).
INSTANCE_ENV = "AGENTDOCK_INSTANCE"
#: ``local`` (default) or ``closed``: what limits do while Redis is unreachable.
OUTAGE_ENV = "AGENTDOCK_RATELIMIT_ON_OUTAGE"


class Access:
    """Role → permissions and role → rate, checked per request without I/O (memory mode)."""

    def __init__(
        self,
        *,
        agent: str,
        roles: Mapping[str, frozenset[str]],
        rates: Mapping[str, Rate] | None = None,
        limiter: Limiter | None = None,
        instance: str = "",
    ) -> None:
        self.agent = agent
        self.instance = instance
        self.roles = dict(roles)
        self.rates = dict(rates or {})
        self.limiter: Limiter = limiter if limiter is not None else MemoryLimiter()
        # A caller's key: ``agent:instance:role:subject``. Names and roles hold no ``:``, so
        # a subject (last) cannot pass for another instance's caller.
        self._prefix = f"{agent}:{instance}:"

    def allows(self, role: str, permission: str) -> bool:
        """Whether ``role`` holds ``permission`` (no rate limit involved)."""
        return permission in self.roles.get(role, ())

    async def check(
        self, identity: Mapping[str, Any], permission: str, *, cost: int = 1, spent: int = 0
    ) -> None:
        """Raise :class:`Forbidden` or :class:`RateLimited`; return None when the call may go.

        ``cost``: the call counts as that many against the rate limit, all or none (a batch's
        runs, charged before any runs); ``spent``: what the same call was charged already
        (its admission from the headers). A call of more than the role's whole limit is
        refused outright: no wait would let it go."""
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
        key = f"{self._prefix}{role}:{subject}"
        if cost == 1 and not spent:
            decision = await self.limiter.hit(key, rate)
        else:
            if cost + spent > rate.count:
                raise RateLimited(
                    f"role {role!r} is limited to {rate.text}: a call of {cost + spent} runs "
                    f"is more than it ever allows; send at most {rate.count}",
                    retry_after=None,
                )
            decision = await self.limiter.hit(key, rate, cost)
        if not decision.allowed:
            if decision.unavailable:
                raise ServiceUnavailable(
                    f"role {role!r} is rate limited and the limits cannot be checked now "
                    "(Redis is unreachable); retry later",
                    headers={"Retry-After": str(retry_seconds(decision))},
                )
            raise RateLimited(
                f"role {role!r} is limited to {rate.text}; retry later",
                retry_after=decision.retry_after,
            )

    async def close(self) -> None:
        await self.limiter.close()


def compile_access(
    spec: DockSpec,
    *,
    redis_url: str | None = None,
    instance: str | None = None,
    shared_file: str | None = None,
    on_outage: str | None = None,
) -> Access:
    """Build the :class:`Access` of a resolved spec; each setting defaults to its variable.

    :param redis_url: share rate limits through this Redis (``AGENTDOCK_REDIS_URL``).
    :param instance: the per-tenant instance served (``AGENTDOCK_INSTANCE``; "" the default).
    :param shared_file: keep local limits in this file, shared by every process of the host
        that opens it (``AGENTDOCK_RATELIMIT_FILE``); else in this process's memory.
    :param on_outage: ``local`` or ``closed`` (``AGENTDOCK_RATELIMIT_ON_OUTAGE``, default
        ``local``): see :class:`~agentdock_runtime.ratelimit.RedisLimiter`.
    :raises ValueError: a rate limit or the outage mode is malformed.
    :raises SharedTableError: the shared file cannot be opened, or holds something else.
    """
    auth = spec.auth
    roles = roles_from_spec(auth)
    rates = {role: parse_rate(text) for role, text in (auth.rate_limits or {}).items()}
    url = redis_url if redis_url is not None else os.environ.get(REDIS_URL_ENV) or None
    if instance is None:
        instance = os.environ.get(INSTANCE_ENV, "")
    mode = on_outage if on_outage is not None else os.environ.get(OUTAGE_ENV) or "local"
    if mode not in OUTAGE_MODES:
        raise ValueError(f"{OUTAGE_ENV} is {mode!r}: expected local or closed")
    limiter: Limiter | None = None
    if rates:
        path = shared_file if shared_file is not None else os.environ.get(RATELIMIT_FILE_ENV)
        local: LocalLimiter = SharedLimiter(path) if path else MemoryLimiter()
        limiter = RedisLimiter(url, local=local, on_outage=mode) if url else local
    return Access(
        agent=spec.agent.name, roles=roles, rates=rates, limiter=limiter, instance=instance
    )
