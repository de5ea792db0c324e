"""Rate limits per role with GCRA, in memory or shared through Redis.

GCRA (the generic cell rate algorithm) keeps one number per caller, the theoretical arrival
time (TAT) of its next request. With a limit of ``n`` per ``period`` each request advances
the TAT by ``period / n``; a request is refused while the TAT would run more than one
``period`` ahead of now. That allows a burst of ``n`` and then a steady ``n`` per period,
with no window edge where ``2n`` requests slip through (as a counter reset every minute
allows), and tells a refused caller exactly how long to wait (``Retry-After``).

The in-memory limiter serves one process; :class:`~agentdock_runtime.sharedlimit.SharedLimiter`
keeps the same numbers in a file mapped by every worker process of one host.
:class:`RedisLimiter` runs the algorithm in one Lua script, atomically, on Redis' own clock,
so every runtime process that points at the same Redis shares one budget per caller.

Each Redis answer also tells how far ahead the caller's TAT now runs; the limiter copies it
into its local limiter. If Redis cannot be reached, the local limiter takes over from that
copy (the last spend this runtime heard of), or, with ``on_outage="closed"``, limited
callers are refused until Redis answers again (a 503, never a 429 they did not earn). When
Redis answers again, a TAT the runtime pushed further alone meanwhile is carried back into
Redis (so is one Redis lost, restarted empty). ``backend`` and ``fallbacks`` say which way
limits are kept now and how many outages there were; the Prometheus sink exports them.
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
    "ALLOWED",
    "OUTAGE_MODES",
    "Decision",
    "Limiter",
    "LocalLimiter",
    "MemoryLimiter",
    "Rate",
    "RateLimitSyntaxError",
    "RedisLimiter",
    "gcra_wait",
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
    """Whether one request may go; ``retry_after`` seconds until one would when refused.

    ``unavailable``: refused because the limiter could not decide (Redis unreachable and
    limits set to fail closed), not because the caller spent its budget.
    """

    allowed: bool
    retry_after: float = 0.0
    unavailable: bool = False


#: The decision of every admitted request (frozen: one instance serves them all).
ALLOWED = Decision(True)


def gcra_wait(tat: float, now: float, rate: Rate, cost: int = 1) -> float:
    """Seconds a request at ``now`` would wait, for a caller whose TAT is ``tat`` (at least
    ``now``): how far the TAT would run past one period ahead. More than :data:`SLACK_S`
    refuses the request; else the caller's TAT becomes ``tat + rate.interval``. A request
    that counts as ``cost`` requests (a batch's runs, charged together) advances it by
    ``cost`` intervals, all or none.

    Float sums of ``interval`` round, and a wait of a few ulps would refuse the last request
    of a burst (or, at a burst of 1, a caller's very first): waits under SLACK_S count as none.
    """
    return (tat - now) - (rate.period - rate.interval * cost)


class Limiter(Protocol):
    """What :class:`~agentdock_runtime.access.Access` asks per request.

    ``backend`` is where limits are kept now: ``redis``, ``local`` (this process, or the
    workers of one host together) or ``closed`` (Redis failing, limited callers refused);
    ``fallbacks`` counts the times Redis failed and limits left it. ``cost``: the request
    counts as that many (a batch charged for its runs at once): allowed whole or refused
    whole, a refusal spending nothing.
    """

    backend: str
    fallbacks: int

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision: ...

    async def close(self) -> None: ...


class LocalLimiter(Limiter, Protocol):
    """A limiter of this host that answers without I/O: what Redis falls back to."""

    def hit_now(self, key: str, rate: Rate, cost: int = 1) -> Decision: ...

    def ahead(self, key: str) -> float:
        """Seconds the caller's TAT runs ahead of now (0 or less: its whole budget)."""
        ...

    def observe(self, key: str, ahead: float) -> None:
        """Move the caller's TAT to ``ahead`` seconds from now, unless it is further."""
        ...


class MemoryLimiter:
    """GCRA with one float per caller, for one process (the default)."""

    backend = "local"
    fallbacks = 0

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys

    def hit_now(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        now = self._clock()
        tat = self._tat.get(key, now)
        if tat < now:
            tat = now
        step = rate.interval * cost
        new_tat = tat + step
        # :func:`gcra_wait`, inlined: a call would cost this method a tenth of its time.
        wait = (tat - now) - (rate.period - step)
        if wait > SLACK_S:
            return Decision(False, wait)
        if len(self._tat) >= self._max_keys and key not in self._tat:
            self._prune(now)
        self._tat[key] = new_tat
        return ALLOWED

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        return self.hit_now(key, rate, cost)

    def ahead(self, key: str) -> float:
        tat = self._tat.get(key)
        return 0.0 if tat is None else tat - self._clock()

    def observe(self, key: str, ahead: float) -> None:
        now = self._clock()
        tat = now + ahead
        if tat <= self._tat.get(key, now):
            return
        if len(self._tat) >= self._max_keys and key not in self._tat:
            self._prune(now)
        self._tat[key] = tat

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
#: ARGV[1] interval ms; ARGV[2] period ms; ARGV[3] ms the caller's TAT runs ahead by this
#: runtime's own count (more than a period: another clock's, none). That count is taken
#: when Redis holds no TAT for the caller (it restarted empty) or one more than half an
#: interval behind it (the runtime admitted callers alone while Redis was unreachable);
#: closer, it is only the network's delay. ARGV[4]: ms the request advances the TAT by,
#: its cost in intervals (a batch charged at once; one interval when absent).
#: Returns {1, "0", "<ms the TAT now runs ahead>"} when allowed, {0, "<ms to wait>", "<ms
#: ahead>"} when refused.
GCRA_LUA = """
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ahead = tonumber(ARGV[3])
local step = tonumber(ARGV[4]) or interval
if ahead > period + interval then ahead = 0 end
local known = now + ahead
local tat = tonumber(redis.call('GET', KEYS[1]))
local carried = tat == nil or known - tat > interval / 2
if carried then tat = known end
if tat < now then tat = now end
local new_tat = tat + step
local allow_at = new_tat - period
if allow_at - now > 0.001 then
  if carried and tat > now then
    redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 1000)
  end
  return {0, tostring(allow_at - now), tostring(tat - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, '0', tostring(new_tat - now)}
"""


#: Seconds between attempts to reach a Redis that failed (limits are local meanwhile).
REDIS_RETRY_SEC = 5.0

#: What a :class:`RedisLimiter` does while Redis is unreachable: limit locally from the last
#: spend it heard of, or refuse limited callers.
OUTAGE_MODES = ("local", "closed")


class RedisLimiter:
    """GCRA in Redis (``redis.asyncio``), shared by every process using the same server.

    :param local: the limiter of this host that mirrors Redis' answers and takes over while
        Redis is unreachable (default: a :class:`MemoryLimiter` of this process).
    :param on_outage: ``local`` (default) or ``closed``: see the module docstring.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "agentdock:rl:",
        client: Any | None = None,
        local: LocalLimiter | None = None,
        on_outage: str = "local",
    ):
        import redis.asyncio as redis

        if on_outage not in OUTAGE_MODES:
            raise ValueError(
                f"invalid rate-limit outage mode {on_outage!r}: expected local or closed"
            )
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
        self._local: LocalLimiter = local if local is not None else MemoryLimiter()
        self._closed = on_outage == "closed"
        self.backend = "redis"
        self.fallbacks = 0
        self._failing = False
        #: While Redis is failing, it is tried again only after this (monotonic) time.
        self._retry_at = 0.0

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> Decision:
        if self._failing and time.monotonic() < self._retry_at:
            return self._without_redis(key, rate, cost)
        local = self._local
        interval = rate.interval * 1000.0
        try:
            allowed, wait, ahead = await self._script(
                keys=[self.prefix + key],
                args=[interval, rate.period * 1000.0, local.ahead(key) * 1000.0, interval * cost],
            )
        except Exception as exc:  # Redis down: keep limiting from what was heard last
            if not self._failing:
                self._failing = True
                self.fallbacks += 1
                self.backend = "closed" if self._closed else "local"
                log.warning(
                    "Redis failed (%s); until it answers again, %s",
                    type(exc).__name__,
                    "callers of rate-limited roles are refused (503)"
                    if self._closed
                    else "this runtime keeps rate limits alone, from the spend it last heard of",
                )
            self._retry_at = time.monotonic() + REDIS_RETRY_SEC
            return self._without_redis(key, rate, cost)
        if self._failing:
            log.warning("rate limits are shared through Redis again")
            self._failing = False
            self.backend = "redis"
        local.observe(key, float(ahead) / 1000.0)
        if int(allowed) == 1:
            return ALLOWED
        return Decision(False, max(0.0, float(wait) / 1000.0))

    def _without_redis(self, key: str, rate: Rate, cost: int) -> Decision:
        if self._closed:
            return Decision(False, REDIS_RETRY_SEC, unavailable=True)
        return self._local.hit_now(key, rate, cost)

    async def close(self) -> None:
        await self._client.aclose()
        await self._local.close()


def retry_seconds(decision: Decision) -> int:
    """``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(decision.retry_after))
