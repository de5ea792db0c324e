"""Rate limits shared through a real redis-server: several runtimes, one budget.

The ``redis_url`` fixture (``tests/redisserver.py``) starts ``redis-server`` on a free port
with persistence off; without the binary the tests skip, unless
``AGENTDOCK_REQUIRE_SERVERS=1`` (CI) turns the skip into a failure. The outage tests start a
server of their own and kill it mid-run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agentdock.spec.models import DockSpec11
from agentdock_runtime.access import compile_access
from agentdock_runtime.errors import RateLimited, ServiceUnavailable
from agentdock_runtime.ratelimit import RedisLimiter, parse_rate

pytest_plugins = ("redisserver",)


def make_spec(limit: str) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "echo_agent", "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"text": {"type": "string"}}},
                "output": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            "auth": {
                "mode": "api_key",
                "api_keys": {"enabled": True},
                "rate_limits": {"developer": limit},
            },
            "expose": {"rest": True, "streaming": "sse", "port": 8080},
        }
    )


async def _burst(access: Any, identity: dict[str, str], n: int) -> tuple[int, list[float]]:
    async def one() -> float | None:
        try:
            await access.check(identity, "invoke")
        except RateLimited as exc:
            return exc.retry_after
        return None

    results = await asyncio.gather(*(one() for _ in range(n)))
    waits = [r for r in results if r is not None]
    return n - len(waits), waits


def test_two_runtimes_share_one_budget(redis_url: str) -> None:
    spec = make_spec("20/h")
    identity = {"sub": "shared-caller", "role": "developer"}

    async def main() -> None:
        first = compile_access(spec, redis_url=redis_url)
        second = compile_access(spec, redis_url=redis_url)
        assert isinstance(first.limiter, RedisLimiter)
        assert isinstance(second.limiter, RedisLimiter)
        assert first.limiter._client is not second.limiter._client  # separate connections
        (a, waits_a), (b, waits_b) = await asyncio.gather(
            _burst(first, identity, 30), _burst(second, identity, 30)
        )
        fell_back = [x for x in (first.limiter, second.limiter) if x.fallbacks]
        if not fell_back:
            assert a + b == 20
        else:
            # A reply slower than the client's timeout (a loaded machine) is an outage to
            # that runtime: it limits alone from the spend it last heard, so the caller gets
            # at most the budget once more from it (the documented bound).
            assert a + b <= 20 * (1 + len(fell_back))
        assert all(w > 0 for w in waits_a + waits_b)
        # Another subject still has its whole budget.
        other, _ = await _burst(first, {"sub": "someone-else", "role": "developer"}, 25)
        assert other == 20
        await first.close()
        await second.close()

    asyncio.run(main())


def test_retry_after_comes_from_redis_gcra(redis_url: str) -> None:
    limiter_rate = parse_rate("2/m")

    async def main() -> None:
        limiter = RedisLimiter(redis_url, prefix="agentdock:test-retry:")
        assert (await limiter.hit("k", limiter_rate)).allowed
        assert (await limiter.hit("k", limiter_rate)).allowed
        refused = await limiter.hit("k", limiter_rate)
        assert not refused.allowed
        assert 29.0 < refused.retry_after <= 30.0
        await limiter.close()

    asyncio.run(main())


_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from agentdock_runtime.errors import RateLimited
    from agentdock_runtime.ratelimit import RedisLimiter, parse_rate
    from agentdock_runtime.access import Access

    async def main():
        limiter = RedisLimiter(sys.argv[1])
        access = Access(agent="echo_agent", roles={"developer": frozenset({"invoke"})},
                        rates={"developer": parse_rate("15/h")}, limiter=limiter)
        ok = 0
        for _ in range(20):
            try:
                await access.check({"sub": "proc-caller", "role": "developer"}, "invoke")
                ok += 1
            except RateLimited:
                pass
        await access.close()
        print(json.dumps({"allowed": ok, "fallbacks": limiter.fallbacks}))

    asyncio.run(main())
    """
)


def test_burst_from_two_processes(redis_url: str, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), redis_url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    results = [json.loads(out) for out in outputs]
    allowed = sum(r["allowed"] for r in results)
    fell_back = sum(1 for r in results if r["fallbacks"])
    if not fell_back:
        assert allowed == 15
    else:  # a reply past the client's timeout (a loaded machine): the documented bound
        assert allowed <= 15 * (1 + fell_back)


def test_instances_sharing_a_redis_have_budgets_of_their_own(redis_url: str) -> None:
    import redis

    spec = make_spec("20/h")
    identity = {"sub": "tenant-caller", "role": "developer"}

    async def main() -> list[int]:
        allowed = []
        for instance in ("acme", "globex", ""):
            access = compile_access(spec, redis_url=redis_url, instance=instance)
            allowed.append((await _burst(access, identity, 25))[0])
            await access.close()
        return allowed

    assert asyncio.run(main()) == [20, 20, 20]
    keys = sorted(k.decode() for k in redis.from_url(redis_url).keys("agentdock:rl:*tenant*"))
    assert keys == [
        "agentdock:rl:echo_agent::developer:tenant-caller",
        "agentdock:rl:echo_agent:acme:developer:tenant-caller",
        "agentdock:rl:echo_agent:globex:developer:tenant-caller",
    ]


def patient(spec: Any, url: str, on_outage: str = "local") -> Any:
    """``compile_access``'s Access, its Redis client waiting seconds (not a quarter of one)
    for an answer: on a loaded machine a slow answer must not pass for the outage a test
    makes by killing the server (refused at once) or cutting the client off."""
    import redis.asyncio

    access = compile_access(spec, redis_url="")
    client = redis.asyncio.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    access.limiter = RedisLimiter(url, client=client, on_outage=on_outage)
    return access


async def _allowed(access: Any, identity: dict[str, str], n: int) -> int:
    """How many of ``n`` requests, one after the other, ``access`` lets through."""
    ok = 0
    for _ in range(n):
        try:
            await access.check(identity, "invoke")
            ok += 1
        except RateLimited:
            pass
    return ok


def test_a_redis_outage_limits_from_the_last_spend_each_runtime_heard(
    redis_servers: Callable[..., Any],
) -> None:
    """Budget 20: runtime A spends 10, B 5 (hearing 15 spent), A 1 more (hearing 16). Redis
    dies: A admits the 4 it knows are left, B the 5 it knows of; 25 in all, the documented
    bound (the budget, plus what each runtime that lost Redis last saw left of it)."""
    spec = make_spec("20/h")
    identity = {"sub": "outage-caller", "role": "developer"}

    async def main(server: Any) -> None:
        a, b = patient(spec, server.url), patient(spec, server.url)
        assert await _allowed(a, identity, 10) == 10
        assert await _allowed(b, identity, 5) == 5
        assert await _allowed(a, identity, 1) == 1
        assert (a.limiter.backend, a.limiter.fallbacks) == ("redis", 0)
        server.kill()
        assert await _allowed(a, identity, 10) == 4
        assert await _allowed(b, identity, 10) == 5
        for access in (a, b):
            assert (access.limiter.backend, access.limiter.fallbacks) == ("local", 1)
        # Another caller, never seen by A, has A's whole budget.
        assert await _allowed(a, {"sub": "new", "role": "developer"}, 25) == 20
        await a.close()
        await b.close()

    asyncio.run(main(redis_servers()))


def test_spend_during_an_outage_is_carried_back_to_redis(
    redis_servers: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis restarted empty (no persistence) takes the spend the runtime kept meanwhile:
    the caller does not get a fresh budget from it."""
    import agentdock_runtime.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "REDIS_RETRY_SEC", 0.0)
    spec = make_spec("20/h")
    identity = {"sub": "carried-caller", "role": "developer"}

    async def main() -> None:
        server = redis_servers()
        access = patient(spec, server.url)
        assert await _allowed(access, identity, 8) == 8
        server.kill()
        assert await _allowed(access, identity, 4) == 4  # locally, from 8 spent
        assert access.limiter.backend == "local"
        again = redis_servers(port=server.port)  # empty: no persistence
        assert await _allowed(access, identity, 20) == 8
        assert access.limiter.backend == "redis"
        # Redis holds the spend now: a runtime that never saw the caller agrees.
        other = patient(spec, again.url)
        assert await _allowed(other, identity, 5) == 0
        await other.close()
        await access.close()

    asyncio.run(main())


def test_spend_while_redis_was_unreachable_is_carried_back(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runtime cut off from a Redis that kept its data (a network partition): what it
    admitted alone meanwhile reaches Redis with its next call, so the others see it too."""
    import agentdock_runtime.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "REDIS_RETRY_SEC", 0.0)
    spec = make_spec("20/h")
    identity = {"sub": "partitioned-caller", "role": "developer"}

    async def cut_off(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("partitioned")

    async def main() -> None:
        a, b = patient(spec, redis_url), patient(spec, redis_url)
        assert await _allowed(a, identity, 16) == 16
        script = a.limiter._script
        a.limiter._script = cut_off
        assert await _allowed(a, identity, 10) == 4  # alone, from the 16 it heard of
        a.limiter._script = script
        assert await _allowed(a, identity, 1) == 0  # Redis answers again, and takes the 20
        assert a.limiter.backend == "redis"
        assert await _allowed(b, identity, 5) == 0
        await a.close()
        await b.close()

    asyncio.run(main())


def test_a_redis_outage_can_fail_closed(redis_servers: Callable[..., Any]) -> None:
    spec = make_spec("20/h")
    identity = {"sub": "closed-caller", "role": "developer"}

    async def main(server: Any) -> None:
        access = patient(spec, server.url, on_outage="closed")
        assert await _allowed(access, identity, 3) == 3
        server.kill()
        with pytest.raises(ServiceUnavailable) as info:
            await access.check(identity, "invoke")
        assert info.value.status == 503
        assert "Redis" in info.value.detail
        assert int(info.value.headers["Retry-After"]) >= 1
        assert (access.limiter.backend, access.limiter.fallbacks) == ("closed", 1)
        # Roles without a limit never depend on Redis.
        await access.check({"sub": "closed-caller", "role": "admin"}, "invoke")
        await access.close()

    asyncio.run(main(redis_servers()))


def test_a_local_count_beyond_a_period_is_not_carried_into_redis(redis_url: str) -> None:
    """A TAT more than a period ahead cannot come from GCRA (a table kept across a reboot,
    another clock's): Redis keeps its own count rather than lock the caller out."""
    from agentdock_runtime.ratelimit import MemoryLimiter

    local = MemoryLimiter()
    local.observe("k", 10**7)
    rate = parse_rate("2/m")

    async def main() -> list[bool]:
        limiter = RedisLimiter(redis_url, prefix="agentdock:test-clock:", local=local)
        decisions = [(await limiter.hit("k", rate)).allowed for _ in range(3)]
        await limiter.close()
        return decisions

    assert asyncio.run(main()) == [True, True, False]


def test_a_charge_of_several_requests_in_redis_is_all_or_none(redis_url: str) -> None:
    rate = parse_rate("6/h")

    async def main() -> None:
        limiter = RedisLimiter(redis_url, prefix=f"agentdock:test-cost-{uuid.uuid4().hex}:")
        try:
            assert (await limiter.hit("k", rate)).allowed
            refused = await limiter.hit("k", rate, 6)
            assert not refused.allowed
            assert refused.retry_after == pytest.approx(600.0, abs=1.0)
            assert (await limiter.hit("k", rate, 5)).allowed  # the refusal spent nothing
            assert not (await limiter.hit("k", rate)).allowed
            assert limiter.fallbacks == 0
        finally:
            await limiter.close()

    asyncio.run(main())
