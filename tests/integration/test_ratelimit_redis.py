"""Rate limits shared through a real redis-server: several runtimes, one budget.

The ``redis_url`` fixture (``tests/redisserver.py``) starts ``redis-server`` on a free port
with persistence off; without the binary the tests skip, unless
``AGENTDOCK_REQUIRE_SERVERS=1`` (CI) turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from agentdock.spec.models import DockSpec11
from agentdock_runtime.access import compile_access
from agentdock_runtime.errors import RateLimited
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
        assert first.limiter._client is not second.limiter._client  # separate connections
        (a, waits_a), (b, waits_b) = await asyncio.gather(
            _burst(first, identity, 30), _burst(second, identity, 30)
        )
        assert a + b == 20
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
        access = Access(agent="echo_agent", roles={"developer": frozenset({"invoke"})},
                        rates={"developer": parse_rate("15/h")},
                        limiter=RedisLimiter(sys.argv[1]))
        ok = 0
        for _ in range(20):
            try:
                await access.check({"sub": "proc-caller", "role": "developer"}, "invoke")
                ok += 1
            except RateLimited:
                pass
        await access.close()
        print(json.dumps({"allowed": ok}))

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
    allowed = [json.loads(out)["allowed"] for out in outputs]
    assert sum(allowed) == 15
