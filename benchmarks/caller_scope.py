"""What naming the caller costs a run: the LangGraph adapter telling the graph who calls
(``configurable.langgraph_auth_user_id``, for the store) and the pipeline keying a thread
by the caller (``expose.threads: per_caller``), against a whole adapter run.

    uv run python benchmarks/caller_scope.py [--calls 2000] [--trials 5]

One process, CPU time (``time.process_time``), all in the same run; each figure is the
best of the trials, in µs per call:
- adapter.invoke (anonymous)      the echo graph through LangGraphAdapter, no subject
- adapter.invoke (a subject)      the same run for a caller with a subject: the graph is
                                  told who calls (``configurable``, which LangChain also
                                  copies into each nested call's metadata)
- adapter._prepare, no subject / a subject   the part that changed, alone
- caller_thread                   the pipeline's key of a caller's thread
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _best(fn: Callable[[], None], calls: int, trials: int) -> float:
    best = float("inf")
    for _ in range(trials):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()

    from agentdock.run import RunContext
    from agentdock_plugins.langgraph.adapter import LangGraphAdapter
    from agentdock_runtime.threads import caller_thread

    sys.path.insert(0, str(ROOT / "examples" / "echo"))
    graph = importlib.import_module("echo.graph").build_graph()
    adapter = LangGraphAdapter(graph, SimpleNamespace(model=None, arguments={}))  # type: ignore[arg-type]
    anonymous = RunContext("r", subject=None)
    named = RunContext("r", subject="key:0123456789ab")
    tracker: Any = SimpleNamespace(handlers=[])  # what _prepare reads of it
    loop = asyncio.new_event_loop()

    def run(context: RunContext) -> Callable[[], None]:
        return lambda: loop.run_until_complete(adapter.invoke({"text": "hi"}, context))

    runs = max(args.calls // 10, 50)
    # The runs alternate within each trial, so the machine's drift hits them alike.
    cases = {
        "adapter.invoke (anonymous)": run(anonymous),
        "adapter.invoke (a subject)": run(named),
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.trials):
        for name, fn in cases.items():
            best[name] = min(best[name], _best(fn, runs, 1))
    rows: list[tuple[str, float]] = [
        *best.items(),
        (
            "adapter._prepare, no subject",
            _best(lambda: adapter._prepare(anonymous, tracker), args.calls * 10, args.trials),
        ),
        (
            "adapter._prepare, a subject",
            _best(lambda: adapter._prepare(named, tracker), args.calls * 10, args.trials),
        ),
        (
            "caller_thread",
            _best(lambda: caller_thread("key:0123456789ab", "t-1"), args.calls * 10, args.trials),
        ),
    ]
    base = rows[0][1]
    for name, value in rows:
        print(f"{name:32s} {value:9.2f} µs   {value / base:6.3f}× adapter.invoke (anonymous)")
    adapter.close()
    loop.close()


if __name__ == "__main__":
    main()
