"""Cost of authenticating one request, per mode, median of many calls; and how long a
revocation made by another connection takes to reach a runtime.

    uv run python benchmarks/auth_overhead.py [--calls 20000] [--trials 7]
        [--revocations 20] [--redis-url redis://...] [--database-url postgresql://...]

Measured in one process, all in the same run (figures move between machines; compare the
ratios):
- jwt HS256 (first use)          JwtProvider.authenticate: signature and claim checks
- jwt HS256 (seen before)        the same token again: the verified-token cache, exp check
- api_key (cached, key view)     ApiKeyProvider.authenticate with the row in the memory cache:
                                 one SHA-256, one hmac.compare_digest and the generation
                                 check, no I/O; the verifier's thread checks the key view's
                                 stat signature every 0.2 s meanwhile, as in a runtime
- api_key (uncached, key view)   the same with the cache off: a stat of the view file and a
                                 dict lookup in a worker thread (what a runtime does now)
- api_key (uncached, registry)   the same reading the SQLite registry instead (what runtimes
                                 did before key views; the baseline)
- access.check (memory limiter)  role/permission check plus one GCRA step
- key view change check          one change check of the background thread: a stat (off the
                                 request path; five a second)
- data_version read              the registry's change check that it replaced

Each figure is the median over the trials of the mean µs per call within a trial.

Revocation latency: a key is revoked through another store connection (as ``agentdock key
revoke`` does) while a verifier that trusts cached rows for an hour serves it; the time until
the verifier refuses it, median and maximum over ``--revocations`` keys, for the key view
(the file the revocation rewrites, watched with stat), SQLite's data_version (the mechanism
it replaced) and, when their URLs are given, Redis pub/sub (a runtime that cannot see the
SQLite file move) and a Postgres registry (LISTEN/NOTIFY).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agentdock.auth import mint_token
from agentdock.registry import SQLStore, open_store
from agentdock.registry.keyview import VIEW_FILE, view_dir
from agentdock_plugins.auth.apikey import ApiKeyProvider, ApiKeyVerifier
from agentdock_plugins.auth.jwt import JwtProvider
from agentdock_plugins.auth.keyfile import KeyViewStore
from agentdock_runtime.access import compile_access
from agentdock_runtime.errors import KeyRevoked

ROOT = Path(__file__).resolve().parents[1]
# The auth tests' spec and key helpers (tests/auth_support.py).
sys.path.insert(0, str(ROOT / "tests"))
from auth_support import AGENT, add_key, auth_spec  # noqa: E402

SECRET = "benchmark-secret-0123456789abcdef-0123456789"


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


class _NoDataVersion:
    """A store whose file's data_version this process cannot see (a runtime on another
    host): only Redis can tell it of a change."""

    def __init__(self, store: SQLStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "data_version":
            raise AttributeError(name)
        return getattr(self._store, name)


def _revocation_ms(
    served: Any, writer: SQLStore, count: int, **options: Any
) -> tuple[float, float]:
    """(median, max) ms from a revocation's commit to the verifier's first refusal."""
    verifier = ApiKeyVerifier(served, AGENT, cache_ttl=3600, touch_interval=3600, **options)
    keys = [add_key(writer) for _ in range(count)]
    for key in keys:
        verifier.check(key.key, key.key_id, verifier.lookup_blocking(key.key_id))
    time.sleep(1.0)  # the thread and its listeners are up
    seen = []
    phase = random.Random(0)
    for key in keys:
        time.sleep(phase.uniform(0, 0.25))  # any moment of the poll period
        start = time.perf_counter()
        writer.revoke_api_key(agent=AGENT, key_id=key.key_id)
        while True:
            try:
                verifier.check(key.key, key.key_id, verifier.lookup_blocking(key.key_id))
            except KeyRevoked:
                break
            if time.perf_counter() - start > 30:
                raise SystemExit("a revocation was not seen within 30 s")
            time.sleep(0.0005)
        seen.append((time.perf_counter() - start) * 1000)
    verifier.close()
    return statistics.median(seen), max(seen)


def revocation_rows(
    count: int, redis_url: str | None, database_url: str | None
) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.db"
        with open_store(path) as writer, open_store(path) as served:
            view = KeyViewStore(view_dir(Path(tmp), AGENT) / VIEW_FILE, AGENT)
            rows.append(("key view (stat)", *_revocation_ms(view, writer, count)))
            rows.append(("SQLite data_version (before)", *_revocation_ms(served, writer, count)))
            if redis_url:
                os.environ["AGENTDOCK_REDIS_URL"] = redis_url  # the writer publishes
                try:
                    rows.append(
                        (
                            "Redis pub/sub",
                            *_revocation_ms(
                                _NoDataVersion(served), writer, count, redis_url=redis_url
                            ),
                        )
                    )
                finally:
                    del os.environ["AGENTDOCK_REDIS_URL"]
    if database_url:
        with open_store(url=database_url) as writer, open_store(url=database_url) as served:
            rows.append(("Postgres LISTEN/NOTIFY", *_revocation_ms(served, writer, count)))
    return rows


async def main(calls: int, trials: int) -> None:
    os.environ.pop("AGENTDOCK_KEY_PEPPER", None)
    rows: list[tuple[str, float]] = []

    jwt_provider = JwtProvider(auth_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}}))
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
        generated = add_key(store)
        headers = {"x-api-key": generated.key}
        view = KeyViewStore(view_dir(Path(tmp), AGENT) / VIEW_FILE, AGENT)
        cached = ApiKeyProvider(ApiKeyVerifier(view, AGENT, touch_interval=3600))
        rows.append(
            (
                "api_key (cached, key view)",
                await _async_us(lambda: cached.authenticate(headers), calls, trials),
            )
        )
        slow = max(calls // 10, 100)
        for name, source in (("key view", view), ("registry", store)):
            uncached = ApiKeyProvider(
                ApiKeyVerifier(source, AGENT, cache_ttl=0, touch_interval=3600)
            )
            rows.append(
                (
                    f"api_key (uncached, {name})",
                    await _async_us(lambda u=uncached: u.authenticate(headers), slow, trials),
                )
            )
            uncached.close()
        cached.close()
        rows.append(("key view change check", _sync_us(view.data_version, calls, trials)))
        rows.append(("data_version read", _sync_us(store.data_version, calls, trials)))
        store.close()

    access = compile_access(
        auth_spec(
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
    parser.add_argument("--revocations", type=int, default=20, help="0: skip the latency")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.trials))
    if args.revocations:
        print()
        print(f"{'revocation reaches a runtime':32} {'median ms':>10} {'max ms':>8}")
        for name, median, worst in revocation_rows(
            args.revocations, args.redis_url, args.database_url
        ):
            print(f"{name:32} {median:10.1f} {worst:8.1f}")
