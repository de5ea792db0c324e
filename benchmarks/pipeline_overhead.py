"""In-process cost of the runtime pipeline around the echo graph, against the bare graph.

    uv run python benchmarks/pipeline_overhead.py [--calls 4000] [--concurrency 32] [--cpu 0]

One process (pinned to one core with --cpu), the echo graph of examples/echo, N calls with
C in flight at a time:
- graph.ainvoke                      what a hand-written async server would await
- asyncio.to_thread(graph.invoke)    the synchronous path in a worker thread
- pipeline.invoke (auth off)         AgentDock: msgspec decode + input validation, the
                                     adapter's chosen execution path, output validation,
                                     telemetry event queued
Prints calls/s and the ratios against both baselines, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from throwaway_home import throwaway_home

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "examples" / "echo"


async def _rate(call: Callable[[], Awaitable[Any]], calls: int, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await call()

    for _ in range(50):  # warm-up
        await call()
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - start)


async def main_async(calls: int, concurrency: int) -> None:
    import agentdock
    from agentdock.plugins import get_plugin_manager
    from agentdock_runtime import compile_pipeline

    sys.path.insert(0, str(ECHO))
    from echo.graph import build_graph

    spec = agentdock.load(ECHO / "Dockfile.yaml")
    graph = build_graph()
    pipeline = compile_pipeline(
        spec, entry=build_graph, plugins=get_plugin_manager(), insecure_no_auth=True
    )
    body = b'{"text": "hi"}'
    assert (await pipeline.invoke(body)).output == {"text": "HI"}

    results = {
        "graph.ainvoke": await _rate(lambda: graph.ainvoke({"text": "hi"}), calls, concurrency),
        "to_thread(graph.invoke)": await _rate(
            lambda: asyncio.to_thread(graph.invoke, {"text": "hi"}), calls, concurrency
        ),
        "pipeline.invoke": await _rate(lambda: pipeline.invoke(body), calls, concurrency),
    }
    await pipeline.aclose()
    print(f"{'case':<26} {'calls/s':>10} {'us/call':>9}")
    for name, rate in results.items():
        print(f"{name:<26} {rate:>10.0f} {1e6 / rate:>9.0f}")
    agentdock_rate = results["pipeline.invoke"]
    print()
    baseline = results["graph.ainvoke"]
    print(f"pipeline.invoke / graph.ainvoke:           {agentdock_rate / baseline:.2f}x")
    print(
        "pipeline.invoke / to_thread(graph.invoke): "
        f"{agentdock_rate / results['to_thread(graph.invoke)']:.2f}x"
    )
    stats = pipeline.telemetry_stats
    print(f"telemetry: queued {stats.queued}, dropped {stats.dropped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with throwaway_home():
        asyncio.run(main_async(args.calls, args.concurrency))


if __name__ == "__main__":
    main()
