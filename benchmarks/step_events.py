"""What a traced run's step timings cost the thread that runs the graph (the echo graph).

    uv run python benchmarks/step_events.py [--rounds 9] [--calls 20000]

In one process, alternating round by round, thread CPU (``time.thread_time``) per run, best
and median of ``--rounds``:

- the recorder's chain events of one run of the echo graph (the graph's start, its node's
  start, the node's end, the graph's end), dispatched through LangChain's ``handle_event`` as
  its callback manager does, with the run's handlers made as the adapter makes them: no step
  events wanted (telemetry off) against every kind (``node_event``, ``tool_event``,
  ``model_event``: telemetry on); the run tracker's construction included;
- ``graph.invoke`` of the echo graph (benchmarks/servers/echo_graphs.py) with those handlers
  in its config, steps off against on (``--calls`` / 10 runs a round).

The difference of each pair is what timing the steps costs that thread; the node event is
handed to a no-op ``emit`` (the runtime's envelope is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))

STEPS = frozenset({"node_event", "tool_event", "model_event"})
_META = {
    "langgraph_step": 1,
    "langgraph_node": "upper",
    "langgraph_triggers": ("branch:to:upper",),
    "langgraph_path": ("__pregel_pull", "upper"),
    "langgraph_checkpoint_ns": "upper:0",
}


def _handlers(steps: frozenset[str]) -> list[Any]:
    from agentdock.run import RunContext
    from agentdock_plugins.langchain_callbacks import RunTracker

    context = RunContext(run_id="r", emit=lambda kind, data: None, steps=steps)
    return RunTracker(context).handlers


def _chain_events(steps: frozenset[str]) -> Callable[[], None]:
    from langchain_core.callbacks.manager import handle_event

    def run() -> None:
        graph, node = uuid.uuid4(), uuid.uuid4()
        handlers = _handlers(steps)
        for args, kwargs in (
            ((None, {}), {"run_id": graph, "metadata": {}, "name": "LangGraph"}),
            ((None, {}), {"run_id": node, "parent_run_id": graph, "metadata": _META}),
        ):
            kwargs.setdefault("name", "upper")
            handle_event(handlers, "on_chain_start", "ignore_chain", *args, tags=[], **kwargs)
        handle_event(handlers, "on_chain_end", "ignore_chain", {}, run_id=node, tags=[])
        handle_event(handlers, "on_chain_end", "ignore_chain", {}, run_id=graph, tags=[])

    return run


def _graph_runs(steps: frozenset[str]) -> Callable[[], None]:
    from echo_graphs import build_graph

    graph = build_graph()
    payload = {"text": "hi"}

    def run() -> None:
        graph.invoke(payload, {"callbacks": _handlers(steps)})

    return run


def _table(title: str, variants: dict[str, Callable[[], None]], calls: int, rounds: int) -> None:
    spent: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        for _ in range(max(100, calls // 20)):
            run()
    for _ in range(rounds):
        for name, run in variants.items():
            started = time.thread_time_ns()
            for _ in range(calls):
                run()
            spent[name].append((time.thread_time_ns() - started) / calls / 1000)
    print(f"\n{title}: thread CPU µs per run, best / median of {rounds} × {calls:,}")
    for name, values in spent.items():
        values.sort()
        print(f"  {name:<24} {values[0]:8.2f} / {values[len(values) // 2]:8.2f}")


async def _main(args: argparse.Namespace) -> None:
    # The tracker is made in the event loop's thread, as the adapter makes it.
    _table(
        "chain events of one echo run",
        {"steps off": _chain_events(frozenset()), "steps on": _chain_events(STEPS)},
        args.calls,
        args.rounds,
    )
    _table(
        "graph.invoke, echo graph",
        {"steps off": _graph_runs(frozenset()), "steps on": _graph_runs(STEPS)},
        max(1, args.calls // 10),
        args.rounds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20000)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
