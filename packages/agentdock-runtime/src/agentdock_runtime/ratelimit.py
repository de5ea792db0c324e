"""Rate limits per role with GCRA, in memory or shared through Redis.

GCRA (the generic cell rate algorithm) keeps one number per caller, the theoretical arrival
time (TAT) of its next request. With a limit of ``n`` per ``period`` each request advances
the TAT by ``period / n``; a request is refused while the TAT would run more than one
``period`` ahead of now. That allows a burst of ``n`` and then a steady ``n`` per period,
with no window edge where ``2n`` requests slip through (as a counter reset every minute
allows), and tells a refused caller exactly how long to wait (``Retry-After``).

The in-memory limiter serves one process. :class:`RedisLimiter` runs the same algorithm in
one Lua script, atomically, on Redis' own clock, so every runtime process that points at the
same Redis shares one budget per caller. If Redis cannot be reached the limiter falls back
to the in-memory one (and logs it), so an outage of Redis never takes the agent down.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Decision",
    "Limiter",
    "MemoryLimiter",
    "Rate",
    "RateLimitSyntaxError",
    "RedisLimiter",
    "parse_rate",
    "retry_seconds",
]

log = logging.getLogger("agentdock.ratelimit")

_RATE = re.compile(r"^\s*([1-9][0-9]*)\s*/\s*(s|m|h|d)\s*$")
_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class RateLimitSyntaxError(ValueError):
    """A rate that is not ``<count>/<s|m|h|d>``."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``period`` seconds (the burst is ``count`` too)."""

    count: int
    period: float
    text: str

    @property
    def interval(self) -> float:
        """Seconds each request adds to the caller's theoretical arrival time."""
        return self.period / self.count


def parse_rate(text: str) -> Rate:
    """``"100/m"`` → ``Rate(100, 60.0)``; raises :class:`RateLimitSyntaxError`."""
    match = _RATE.match(text)
    if match is None:
        raise RateLimitSyntaxError(
            f"invalid rate limit {text!r}: expected <count>/<s|m|h|d>, e.g. 100/m"
        )
    count, unit = int(match.group(1)), match.group(2)
    return Rate(count, _PERIODS[unit], f"{count}/{unit}")


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one request may go; ``retry_after`` seconds until one would when refused."""

    allowed: bool
    retry_after: float = 0.0


class Limiter(Protocol):
    async def hit(self, key: str, rate: Rate) -> Decision: ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """GCRA with one float per caller, for one process (the default)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys

    def hit_now(self, key: str, rate: Rate) -> Decision:
        now = self._clock()
        tat = self._tat.get(key, now)
        if tat < now:
            tat = now
        new_tat = tat + rate.interval
        # How far the TAT would run past one period ahead. Float sums of ``interval`` round,
        # and a wait of a few ulps would refuse the last request of a burst (or, at a burst
        # of 1, a caller's very first): waits under SLACK_S count as none.
        wait = (tat - now) - (rate.period - rate.interval)
        if wait > SLACK_S:
            return Decision(False, wait)
        if len(self._tat) >= self._max_keys and key not in self._tat:
            self._prune(now)
        self._tat[key] = new_tat
        return Decision(True)

    async def hit(self, key: str, rate: Rate) -> Decision:
        return self.hit_now(key, rate)

    def _prune(self, now: float) -> None:
        # Callers whose TAT is in the past have their whole budget back: forget them.
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        if len(self._tat) >= self._max_keys:
            self._tat.clear()

    async def close(self) -> None:
        return None


#: Waits shorter than this (one microsecond) are float rounding, not a limit.
SLACK_S = 1e-6

#: GCRA on Redis' clock (its ``0.001`` ms is :data:`SLACK_S`). KEYS[1] caller;
#: ARGV[1] interval ms; ARGV[2] period ms.
#: Returns {1, "0"} when allowed, {0, "<ms to wait>"} when refused.
GCRA_LUA = """
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at - now > 0.001 then
  return {0, tostring(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, '0'}
"""


#: Seconds between attempts to reach a Redis that failed (limits are per process meanwhile).
REDIS_RETRY_SEC = 5.0


class RedisLimiter:
    """GCRA in Redis (``redis.asyncio``), shared by every process using the same server."""

    def __init__(self, url: str, *, prefix: str = "agentdock:rl:", client: Any | None = None):
        import redis.asyncio as redis

        self.url = url
        self.prefix = prefix
        # Short timeouts: a Redis that hangs or drops packets costs a request a quarter of a
        # second at most, never the operating system's connect timeout.
        self._client = (
            client
            if client is not None
            else redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        )
        self._script = self._client.register_script(GCRA_LUA)
        self._fallback = MemoryLimiter()
        self._failing = False
        #: While Redis is failing, it is tried again only after this (monotonic) time.
        self._retry_at = 0.0

    async def hit(self, key: str, rate: Rate) -> Decision:
        if self._failing and time.monotonic() < self._retry_at:
            return self._fallback.hit_now(key, rate)
        try:
            allowed, wait = await self._script(
                keys=[self.prefix + key], args=[rate.interval * 1000.0, rate.period * 1000.0]
            )
        except Exception as exc:  # Redis down: keep limiting, per process
            if not self._failing:
                log.warning(
                    "rate limits fall back to memory: Redis failed (%s)", type(exc).__name__
                )
                self._failing = True
            self._retry_at = time.monotonic() + REDIS_RETRY_SEC
            return self._fallback.hit_now(key, rate)
        if self._failing:
            log.warning("rate limits are shared through Redis again")
            self._failing = False
        if int(allowed) == 1:
            return Decision(True)
        return Decision(False, max(0.0, float(wait) / 1000.0))

    async def close(self) -> None:
        await self._client.aclose()


def retry_seconds(decision: Decision) -> int:
    """``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(decision.retry_after))
