"""In-process cost of the LangGraph adapter around the echo graphs, against the bare graph.

    uv run python benchmarks/adapter_overhead.py [--calls 400] [--trials 15] [--cpu 0]

One process (pinned to one core with --cpu), the synchronous echo graph of examples/echo
and the async one of benchmarks/servers/echo_graphs.py, C calls in flight at a time; each
case reports its best rate over the trials, all measured in the same run:
- graph.ainvoke                   the bare graph on the loop
- adapter.invoke                  LangGraphAdapter, the run's tool gate left at allow-all
- adapter.invoke (tool check)     the same with a gate that waits for the event loop, as
                                  a pipeline with asynchronous tool policies passes
- pipeline.invoke (auth off)      the whole runtime pipeline with its default policies (the
                                  injection check, the tool gate) and no telemetry sink
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
# The pipeline's own cost: no telemetry sink (benchmarks/http_features.py measures those).
for _switch in ("AGENTDOCK_METRICS", "AGENTDOCK_LOG_FORMAT", "AGENTDOCK_LOCALSTORE"):
    os.environ.setdefault(_switch, "off")
ECHO = ROOT / "examples" / "echo"


async def _rate(
    call: Callable[[], Awaitable[Any]], calls: int, concurrency: int, trials: int
) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await call()

    for _ in range(50):  # warm-up
        await call()
    best = 0.0
    for _ in range(trials):
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(calls)))
        best = max(best, calls / (time.perf_counter() - start))
    return best


async def main_async(calls: int, concurrency: int, trials: int) -> None:
    import agentdock

    sys.path.insert(0, str(ECHO))
    sys.path.insert(0, str(ROOT / "benchmarks" / "servers"))
    from echo.graph import build_graph
    from echo_graphs import build_async_graph

    spec = agentdock.load(ECHO / "Dockfile.yaml")
    print(f"{'graph':<6} {'case':<28} {'calls/s':>9} {'us/call':>8} {'vs ainvoke':>10}")
    for label, build in (("sync", build_graph), ("async", build_async_graph)):
        await _measure(label, build, spec, calls, concurrency, trials)


async def _measure(
    label: str, build: Callable[[], Any], spec: Any, calls: int, concurrency: int, trials: int
) -> None:
    from agentdock.plugins import get_plugin_manager
    from agentdock.run import RunContext, ToolGate
    from agentdock_plugins.langgraph.adapter import LangGraphAdapter
    from agentdock_runtime import compile_pipeline

    loop = asyncio.get_running_loop()

    body = b'{"text": "hi"}'
    payload = {"text": "hi"}
    graph = build()
    adapter = LangGraphAdapter(build, spec)
    pipeline = compile_pipeline(
        spec, entry=build, plugins=get_plugin_manager(), insecure_no_auth=True
    )
    assert (await pipeline.invoke(body)).output == {"text": "HI"}
    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "graph.ainvoke": lambda: graph.ainvoke(dict(payload)),
        "adapter.invoke": lambda: adapter.invoke(payload, RunContext(run_id="r")),
        "adapter.invoke (tool check)": lambda: adapter.invoke(
            payload, RunContext(run_id="r", tools=ToolGate(loop, inline=False))
        ),
        "pipeline.invoke": lambda: pipeline.invoke(body),
    }
    rates = {name: await _rate(call, calls, concurrency, trials) for name, call in cases.items()}
    await pipeline.aclose()
    adapter.close()
    base = rates["graph.ainvoke"]
    for name, rate in rates.items():
        print(f"{label:<6} {name:<28} {rate:>9.0f} {1e6 / rate:>8.0f} {rate / base:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    with throwaway_home():
        asyncio.run(main_async(args.calls, args.concurrency, args.trials))


if __name__ == "__main__":
    main()
