"""What the stream's ``end`` output costs: a whole SSE run, in-process, with and without it.

    uv run python benchmarks/stream_end_output.py [--runs 2000] [--rounds 5]

The ``end`` item carries the run's output, which the LangGraph adapter reads from the
``values`` stream mode and the pipeline validates and passes through the post policies.
Both cases run the same compiled pipeline of an example (echo: one node; chat: an offline
chat model that streams tokens) through ``Pipeline.stream``; the baseline patches the
adapter's stream modes back to ``messages`` + ``updates`` (the run then reports no output).
Prints runs per second for each, the ratio, per round and the median.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "echo": (ROOT / "examples" / "echo", b'{"text": "hello there"}'),
    "chat": (ROOT / "examples" / "chat", b'{"question": "What does AgentDock do?"}'),
}


def pipeline_for(project: Path) -> Any:
    import agentdock
    import agentdock_plugins.langgraph
    import agentdock_plugins.policies
    from agentdock_runtime import compile_pipeline
    from agentdock_runtime.app import load_agent

    manager = agentdock.make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.policies]
    )
    agent = load_agent(project / "Dockfile.yaml", plugins=manager)
    return compile_pipeline(agent.spec, entry=agent.entry, plugins=manager, insecure_no_auth=True)


async def runs_per_second(pipeline: Any, body: bytes, runs: int) -> tuple[float, Any]:
    last: Any = None
    started = time.perf_counter()
    for _ in range(runs):
        async for item in pipeline.stream(body):
            last = item
    return runs / (time.perf_counter() - started), last


async def measure(args: argparse.Namespace) -> None:
    import agentdock_plugins.langgraph.adapter as adapter_module

    with_output = list(adapter_module._STREAM_MODES)
    without = [mode for mode in with_output if mode != "values"]
    for name, (project, body) in CASES.items():
        sys.path.insert(0, str(project))
        pipeline = pipeline_for(project)
        ratios = []
        for round_ in range(1, args.rounds + 1):
            figures = {}
            order = [("without output", without), ("with output", with_output)]
            # Alternate which case runs first, so drift of the machine cancels out.
            for label, modes in order if round_ % 2 else order[::-1]:
                adapter_module._STREAM_MODES[:] = modes
                await runs_per_second(pipeline, body, 50)  # warm up
                rate, last = await runs_per_second(pipeline, body, args.runs)
                assert last.event == "end", last
                assert (last.data.get("output") is not None) == (modes == with_output)
                figures[label] = rate
            ratio = figures["with output"] / figures["without output"]
            ratios.append(ratio)
            print(
                f"{name} round {round_}: without output {figures['without output']:8.0f} runs/s,"
                f" with output {figures['with output']:8.0f} runs/s, ratio {ratio:.3f}"
            )
        adapter_module._STREAM_MODES[:] = with_output
        await pipeline.aclose()
        print(f"{name}: median ratio with/without output {statistics.median(ratios):.3f}")
        sys.path.remove(str(project))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
