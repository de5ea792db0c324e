"""Cost of authenticating one request, per mode, median of many calls.

    uv run python benchmarks/auth_overhead.py [--calls 20000] [--trials 7]

Measured in one process, all in the same run (figures move between machines; compare the
ratios):
- jwt HS256 (first use)          JwtProvider.authenticate: signature and claim checks
- jwt HS256 (seen before)        the same token again: the verified-token cache, exp check
- api_key (cached)               ApiKeyProvider.authenticate with the row in the memory cache:
                                 one SHA-256 and one hmac.compare_digest, no I/O
- api_key (uncached)             the same with the cache off: a SQLite read in a worker thread
- access.check (memory limiter)  role/permission check plus one GCRA step

Each figure is the median over the trials of the mean µs per call within a trial.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agentdock.auth import generate_key, mint_token
from agentdock.registry import open_store
from agentdock.spec.models import DockSpec11
from agentdock_plugins.auth.apikey import ApiKeyProvider, ApiKeyVerifier
from agentdock_plugins.auth.jwt import JwtProvider
from agentdock_runtime.access import compile_access

SECRET = "benchmark-secret-0123456789abcdef-0123456789"
AGENT = "echo_agent"


def _spec(auth: dict[str, Any]) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": AGENT, "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"text": {"type": "string"}}},
                "output": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            "auth": auth,
            "expose": {"rest": True, "streaming": "sse", "port": 8080},
        }
    )


def _sync_us(call: Callable[[], Any], calls: int, trials: int) -> float:
    for _ in range(min(calls, 500)):
        call()
    means = []
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        means.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(means)


async def _async_us(call: Callable[[], Awaitable[Any]], calls: int, trials: int) -> float:
    for _ in range(min(calls, 200)):
        await call()
    means = []
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        means.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(means)


async def main(calls: int, trials: int) -> None:
    os.environ.pop("AGENTDOCK_KEY_PEPPER", None)
    rows: list[tuple[str, float]] = []

    jwt_provider = JwtProvider(_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}}))
    token = mint_token(key=SECRET, agent=AGENT, role="developer", sub="bench", ttl_seconds=3600)
    bearer = {"authorization": f"Bearer {token}"}

    def fresh() -> Any:
        jwt_provider._verified.clear()
        return jwt_provider.authenticate(bearer)

    rows.append(("jwt HS256 (first use)", _sync_us(fresh, calls, trials)))
    rows.append(
        (
            "jwt HS256 (seen before)",
            _sync_us(lambda: jwt_provider.authenticate(bearer), calls, trials),
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "registry.db")
        generated = generate_key()
        store.create_api_key(
            agent=AGENT,
            role="developer",
            key_id=generated.key_id,
            hashed_key=generated.digest,
            hash_algorithm=generated.algorithm,
        )
        headers = {"x-api-key": generated.key}
        cached = ApiKeyProvider(ApiKeyVerifier(store, AGENT, touch_interval=3600))
        rows.append(
            (
                "api_key (cached)",
                await _async_us(lambda: cached.authenticate(headers), calls, trials),
            )
        )
        uncached = ApiKeyProvider(ApiKeyVerifier(store, AGENT, cache_ttl=0, touch_interval=3600))
        rows.append(
            (
                "api_key (uncached)",
                await _async_us(
                    lambda: uncached.authenticate(headers), max(calls // 10, 100), trials
                ),
            )
        )
        cached.close()
        uncached.close()
        store.close()

    access = compile_access(
        _spec(
            {
                "mode": "api_key",
                "api_keys": {"enabled": True},
                "rate_limits": {"developer": "1000000000/s"},
            }
        ),
        redis_url="",
    )
    identity = {"sub": "bench", "role": "developer"}
    rows.append(
        (
            "access.check (memory limiter)",
            await _async_us(lambda: access.check(identity, "invoke"), calls, trials),
        )
    )

    base = rows[0][1]
    print(f"{'case':32} {'µs/call':>10} {'× jwt':>8}")
    for name, us in rows:
        print(f"{name:32} {us:10.2f} {us / base:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.trials))
