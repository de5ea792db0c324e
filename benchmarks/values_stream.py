"""What asking LangGraph for the ``values`` stream alone saves, against ``invoke``/``ainvoke``.

    uv run python benchmarks/values_stream.py [--calls 300] [--rounds 30]

The LangGraph adapter runs a graph outside the Platform API by folding ``invoke``'s answer
from the ``values`` stream (``_invoke_values``/``_ainvoke_values``); LangGraph's own
``invoke``/``ainvoke`` stream ``updates`` as well, only to collect the run's interrupts.
This runs the echo graphs of benchmarks/servers/ (one node, synchronous and async) both ways
with the run's callback handlers in the config, as the adapter calls them, one call at a
time in this thread: first the Python calls a run makes (``sys.setprofile``, every thread:
exact, whatever the load), then the thread's CPU time per call (``time.thread_time``) over
``--rounds`` rounds of ``--calls`` calls, the two alternating (the order flipped every
other round) so that a busy spell of the machine hits both alike: median per variant, the
median of the paired differences and in how many rounds the values stream was cheaper.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SERVERS = Path(__file__).resolve().parent / "servers"
PAYLOAD = {"text": "hi"}
#: What the adapter gives a synchronous run (``SYNC_MAX_CONCURRENCY`` on this machine).
SYNC_CONFIG: dict[str, Any] = {}


def _config() -> dict[str, Any]:
    from agentdock.run import RunContext
    from agentdock_plugins.langchain_callbacks import RunTracker

    return {"callbacks": RunTracker(RunContext(run_id="r")).handlers, **SYNC_CONFIG}


def _count(run: Callable[[], Any], calls: int = 200) -> float:
    seen = [0]

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            seen[0] += 1

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        for _ in range(calls):
            run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return seen[0] / calls


def _report(kind: str, calls: tuple[float, float], before: list[float], after: list[float]) -> None:
    cuts = [b - a for b, a in zip(before, after, strict=True)]
    cut = statistics.median(cuts)
    print(
        f"{kind}: {calls[0]:.0f} calls a run through invoke, {calls[1]:.0f} through the values "
        f"stream ({calls[1] - calls[0]:+.0f})\n"
        f"  CPU µs a call, median of {len(before)} rounds: invoke {statistics.median(before):.0f}"
        f", values stream {statistics.median(after):.0f}; paired cut {cut:+.0f} µs "
        f"({cut / statistics.median(before):+.1%}), cheaper in "
        f"{sum(c > 0 for c in cuts)}/{len(cuts)} rounds"
    )


def _alternate(
    variants: tuple[Callable[[], float], Callable[[], float]], rounds: int
) -> tuple[list[float], list[float]]:
    first: list[float] = []
    second: list[float] = []
    for index in range(rounds):
        order = ((variants[0], first), (variants[1], second))
        for measure, out in order if index % 2 == 0 else order[::-1]:
            out.append(measure())
    return first, second


async def _async_graph(calls: int, rounds: int) -> None:
    from agentdock_plugins.langgraph.adapter import _ainvoke_values
    from echo_graphs import build_async_graph

    graph = build_async_graph()

    async def before() -> Any:
        return await graph.ainvoke(dict(PAYLOAD), _config())

    async def after() -> Any:
        return await _ainvoke_values(graph, dict(PAYLOAD), _config())

    assert await before() == await after()

    async def counted(run: Callable[[], Awaitable[Any]]) -> float:
        for _ in range(50):
            await run()
        seen = [0]

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event in ("call", "c_call"):
                seen[0] += 1

        sys.setprofile(profile)
        try:
            for _ in range(200):
                await run()
        finally:
            sys.setprofile(None)
        return seen[0] / 200

    counts = (await counted(before), await counted(after))

    async def timed(run: Callable[[], Awaitable[Any]]) -> float:
        started = time.thread_time()
        for _ in range(calls):
            await run()
        return (time.thread_time() - started) / calls * 1e6

    first: list[float] = []
    second: list[float] = []
    for index in range(rounds):
        order = ((before, first), (after, second))
        for run, out in order if index % 2 == 0 else order[::-1]:
            out.append(await timed(run))
    _report("async graph (ainvoke)", counts, first, second)


async def _sync_graph(calls: int, rounds: int) -> None:
    # Called on the loop (the run tracker wants one), as the worker threads' runs are not.
    from agentdock_plugins.langgraph.adapter import SYNC_MAX_CONCURRENCY, _invoke_values
    from echo_graphs import build_graph

    SYNC_CONFIG["max_concurrency"] = SYNC_MAX_CONCURRENCY
    graph = build_graph()

    def before() -> Any:
        return graph.invoke(dict(PAYLOAD), _config())

    def after() -> Any:
        return _invoke_values(graph, dict(PAYLOAD), _config())

    assert before() == after()
    for _ in range(50):
        before()
        after()
    counts = (_count(before), _count(after))

    def timed(run: Callable[[], Any]) -> Callable[[], float]:
        def measure() -> float:
            started = time.thread_time()
            for _ in range(calls):
                run()
            return (time.thread_time() - started) / calls * 1e6

        return measure

    first, second = _alternate((timed(before), timed(after)), rounds)
    _report("sync graph (invoke)", counts, first, second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    sys.path.insert(0, str(SERVERS))
    asyncio.run(_async_graph(args.calls, args.rounds))
    asyncio.run(_sync_graph(args.calls, args.rounds))


if __name__ == "__main__":
    main()
