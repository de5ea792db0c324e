"""What the config of a synchronous LangGraph run saves: ``max_concurrency`` given or not.

    uv run python benchmarks/sync_run_config.py [--requests 500] [--rounds 12]

The LangGraph adapter gives every synchronous run ``max_concurrency`` (the stdlib's default
thread limit, computed once), so LangGraph's per-run thread pool does not read the CPU count
from the system each run. This serves the echo agent of benchmarks/servers/echo-sync in one
process, as benchmarks/invoke_split.py builds it, and drives ``pipeline.invoke`` with 32
concurrent calls, the adapter's config as it is against the same config without the key,
alternating round by round (the order flipped every other round) so that a busy spell of the
machine hits both alike. Figures are CPU time per call (``time.process_time``: every thread),
min, first quartile and median over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from invoke_split import BODY, SERVERS, _build, _cpu_per_call
from throwaway_home import throwaway_home


async def _measure(calls: int, rounds: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(SERVERS / "echo-sync"))
    pipeline, _app = _build("sync")
    adapter = pipeline.adapter
    prepare = adapter._prepare

    def without_limit(context: Any, tracker: Any) -> tuple[Any, Any]:
        graph, config = prepare(context, tracker)
        config.pop("max_concurrency", None)
        return graph, config

    def run(limit: bool) -> Callable[[], Awaitable[Any]]:
        async def call() -> Any:
            adapter._prepare = prepare if limit else without_limit
            try:
                return await pipeline.invoke(BODY)
            finally:
                adapter._prepare = prepare

        return call

    variants = {"without max_concurrency": run(False), "as the adapter runs it": run(True)}
    figures: dict[str, list[float]] = {name: [] for name in variants}
    for call in variants.values():
        await _cpu_per_call(call, 200, 1)  # warm-up
    order = list(variants.items())
    for number in range(rounds):
        for name, call in order if number % 2 else order[::-1]:
            figures[name].append(await _cpu_per_call(call, calls, 1))
    await pipeline.aclose()
    sys.path.pop(0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="calls per round")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with throwaway_home():
        figures = asyncio.run(_measure(args.requests, args.rounds))
    print("sync echo graph, pipeline.invoke, CPU µs per call, 32 concurrent")
    for name, values in figures.items():
        values.sort()
        print(
            f"  {name:<26} min {values[0]:6.0f}  q1 {values[len(values) // 4]:6.0f}  "
            f"median {values[len(values) // 2]:6.0f}"
        )


if __name__ == "__main__":
    main()
