"""CPU per request that telemetry adds to the serving process, in process (no wrk, no core).

    uv run python benchmarks/telemetry_cost.py [--requests 2000] [--trials 3]

Each case serves a benchmark agent in a fresh child process through the real application
(``agentdock.testing.async_client``: ASGI in process, 32 requests in flight), and counts the
child's CPU time (every thread: the application, the telemetry drains, the span builder and
export threads) over the requests and the shutdown flush that sends their last spans. The
client's own CPU is in every case alike, so the figure reported is what each case adds to
``off``; the endpoints are HTTP servers of this parent process, so their CPU is not
counted. Cases: the echo graph with no telemetry backend (``off``), with Prometheus,
OpenTelemetry and LangFuse on (``on``) and with a tenth of the runs traced (``on, 10%``),
and the agent whose model answers after 20 ms with 50 streamed tokens, off and on. Best of
the trials. On a machine whose cores are shared this is steadier than req/s under wrk
(benchmarks/http_features.py), which measures the same cases served.

The last columns count the Python calls per request on the serving thread (cProfile, over
a wave of requests before the measured ones): a figure the machine's load does not move,
for the work done on the event loop (the application, the model's callbacks, emitting the
run's events); the builder and export threads are not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"
sys.path.insert(0, str(ROOT / "benchmarks"))

#: Requests whose Python calls are counted (under cProfile, before the measured ones).
CALLS_COUNTED = 96

CASES = {
    "echo off": ("echo-plain", {}),
    "echo on, 10%": (
        "echo-observed",
        {
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "LANGFUSE_SAMPLE_RATE": "0.1",
        },
    ),
    "echo on": ("echo-observed", {}),
    "model off": ("model-plain", {}),
    "model on": ("model-observed", {}),
}


def _child(directory: str, requests: int) -> None:
    from agentdock.testing import async_client

    async def main() -> tuple[float, float]:
        client = async_client(SERVERS / directory / "Dockfile.yaml", insecure_no_auth=True)
        async with client:

            async def one() -> None:
                response = await client.post("/invoke", json={"text": "hi"})
                assert response.status_code == 200, response.text

            async def wave(count: int) -> None:
                for start in range(0, count, 32):
                    await asyncio.gather(*(one() for _ in range(min(32, count - start))))

            await wave(200)  # warm-up
            # Python calls on the serving thread per request: a count, which the machine's
            # load does not move (the telemetry drains' threads are not in it).
            profile = cProfile.Profile()
            profile.enable()
            await wave(CALLS_COUNTED)
            profile.disable()
            await asyncio.sleep(1.0)  # their telemetry drained before the CPU is counted
            started = time.process_time()
            await wave(requests)
        cpu = (time.process_time() - started) / requests * 1e6  # the flush included
        calls: int = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        return cpu, calls / CALLS_COUNTED

    cost, calls = asyncio.run(main())
    print(f"{cost:.1f} {calls:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.requests)
        return
    from http_features import _receiver

    otlp, otlp_url = _receiver()
    langfuse, langfuse_url = _receiver()
    best: dict[str, float] = {}
    counted: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        base_env = {
            **os.environ,
            "AGENTDOCK_HOME": scratch,
            "AGENTDOCK_LOG_FORMAT": "off",
            "BENCH_OTLP": otlp_url,
            "BENCH_LANGFUSE": langfuse_url,
            "LANGFUSE_PUBLIC": "pk-lf-bench",
            "LANGFUSE_SECRET": "sk-lf-bench",
        }
        for _ in range(args.trials):
            for case, (directory, env) in CASES.items():
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        directory,
                        "--requests",
                        str(args.requests),
                    ],
                    cwd=SERVERS / directory,
                    env={**base_env, **env},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                cost, calls = map(float, out.stdout.strip().splitlines()[-1].split())
                best[case] = min(best.get(case, cost), cost)
                counted[case] = calls
    otlp.shutdown()
    langfuse.shutdown()
    print(
        f"{'case':<14} {'CPU µs/request':>15} {'added to off':>13} "
        f"{'calls/request':>14} {'added to off':>13}"
    )
    for case, cost in best.items():
        off = case.split()[0] + " off"
        print(
            f"{case:<14} {cost:>15.1f} {cost - best[off]:>13.1f} "
            f"{counted[case]:>14.0f} {counted[case] - counted[off]:>+13.0f}"
        )
    print("goal: all three backends add <= 40 µs a run (in-process client CPU included alike)")


if __name__ == "__main__":
    main()
