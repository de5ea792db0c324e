"""Cost of one rate-limit decision: in memory, in the table the workers of one host share,
and through Redis.

    uv run python benchmarks/ratelimit.py [--calls 20000] [--trials 7] [--keys 1000]
        [--processes 2] [--redis-url redis://...]

Measured in one run (figures move between machines; compare the ratios):
- memory: ``MemoryLimiter.hit_now``, one process (``serve`` without ``--workers``)
- shared: ``SharedLimiter.hit_now`` over a table in ``/dev/shm``: a ``flock``, one lookup,
  one write, one unlock (``serve --workers N``)
- access.check: the same through ``Access.check`` (role, permission, key, one decision)
- shared, N processes at once: the table hammered by ``--processes`` processes together,
  the µs per decision each one sees (the lock contended)
- redis (memory / shared mirror): ``RedisLimiter.hit`` with ``--redis-url``, whose answers
  are copied into the local limiter (one round trip; the copy is the difference)

Callers cycle through ``--keys`` subjects, so the table's lookups are not all one slot.
Each figure is the median over the trials of the mean µs per call within a trial.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agentdock_runtime.access import Access
from agentdock_runtime.ratelimit import MemoryLimiter, Rate, RedisLimiter, parse_rate
from agentdock_runtime.sharedlimit import SharedLimiter

RATE = parse_rate("1000000/s")  # never refuses: every call is a whole decision and a write
ROLES = {"developer": frozenset({"invoke"})}


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


def _cycler(keys: list[str]) -> Callable[[], str]:
    position = [0]
    count = len(keys)

    def next_key() -> str:
        position[0] = (position[0] + 1) % count
        return keys[position[0]]

    return next_key


def _hits(limiter: Any, keys: list[str], rate: Rate) -> Callable[[], Any]:
    next_key = _cycler(keys)
    return lambda: limiter.hit_now(next_key(), rate)


def _redis_hits(limiter: RedisLimiter, keys: list[str]) -> Callable[[], Awaitable[Any]]:
    next_key = _cycler(keys)
    return lambda: limiter.hit(next_key(), RATE)


def _checks(limiter: Any, keys: list[str]) -> Callable[[], Awaitable[None]]:
    access = Access(agent="bench", roles=ROLES, rates={"developer": RATE}, limiter=limiter)
    identities = [{"sub": key, "role": "developer"} for key in keys]
    position = [0]

    def check() -> Awaitable[None]:
        position[0] = (position[0] + 1) % len(identities)
        return access.check(identities[position[0]], "invoke")

    return check


def _hammer(path: str, keys: list[str], calls: int, trials: int, start: Any, out: Any) -> None:
    limiter = SharedLimiter(path)
    start.wait()
    out.put(_sync_us(_hits(limiter, keys, RATE), calls, trials))


def contended_us(path: str, keys: list[str], calls: int, trials: int, processes: int) -> float:
    """The median over the processes of each one's µs per decision, all hammering at once."""
    context = multiprocessing.get_context("spawn")  # as uvicorn starts its workers
    start, out = context.Event(), context.Queue()
    workers = [
        context.Process(target=_hammer, args=(path, keys, calls, trials, start, out))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every process has opened the table
    start.set()
    figures = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    keys = [f"bench::developer:key:{n:06d}" for n in range(args.keys)]
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-", dir=shm) as tmp:
        table = str(Path(tmp) / "limits.bin")
        memory, shared = MemoryLimiter(), SharedLimiter(table)
        for name, limiter in (("memory", memory), ("shared", shared)):
            figure = _sync_us(_hits(limiter, keys, RATE), args.calls, args.trials)
            rows.append((f"{name}: hit_now", figure))

        async def checks() -> None:
            for name, limiter in (("memory", MemoryLimiter()), ("shared", shared)):
                figure = await _async_us(_checks(limiter, keys), args.calls, args.trials)
                rows.append((f"{name}: access.check", figure))
            if args.redis_url:
                for name, local in (("memory", MemoryLimiter()), ("shared", shared)):
                    limiter = RedisLimiter(args.redis_url, prefix="agentdock:bench:", local=local)
                    calls = max(200, args.calls // 20)  # a round trip each
                    figure = await _async_us(_redis_hits(limiter, keys), calls, args.trials)
                    rows.append((f"redis, {name} mirror: hit", figure))
                    await limiter._client.aclose()

        asyncio.run(checks())
        if args.processes > 1:
            contended = contended_us(
                str(Path(tmp) / "contended.bin"), keys, args.calls, args.trials, args.processes
            )
            rows.append((f"shared, {args.processes} processes at once: hit_now", contended))
        asyncio.run(shared.close())
    base = rows[0][1]
    print(f"{'decision':<44}{'µs/call':>10}{'× memory':>10}")
    for name, figure in rows:
        print(f"{name:<44}{figure:>10.2f}{figure / base:>10.2f}")
    print(f"python {sys.version.split()[0]}, {args.keys} callers, {args.trials} trials")


if __name__ == "__main__":
    main()
