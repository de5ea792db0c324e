"""Where the CPU of one ``POST /invoke`` goes: LangGraph's run against AgentDock's own layers.

    uv run python benchmarks/invoke_split.py [--graphs sync,async] [--requests 3000]

In one process (pin it with ``--cpu N``), the echo agents of benchmarks/servers/ are built as
``agentdock serve --insecure-no-auth`` builds them (default policies and telemetry sinks, a
throw-away AGENTDOCK_HOME, the start-up heap frozen and the collector tuned), then driven
with 32 concurrent calls at each layer, from the inside out. Each figure is CPU time
(``time.process_time``: every thread of the process, the background telemetry drain
included) per call, the best of ``--rounds``:

- LangGraph alone: ``graph.invoke`` (sync graph, one thread) or ``graph.ainvoke`` (async);
- the same with the run's callback handlers in its config, as the adapter calls it for a
  run the pipeline makes (its telemetry sinks' step timings included);
- ``adapter.invoke``: plus the run tracker and, for the sync graph, the worker threads;
- ``pipeline.invoke``: plus input decoding, policies, the run's telemetry events;
- the ASGI app's ``/invoke`` (no HTTP parsing: uvicorn's share is not in here);
- the ASGI app with an adapter that answers at once: AgentDock's layers alone;
- ``pipeline.invoke`` again without its ``pre`` policies (the default prompt-injection
  check), then with them but its telemetry events not handed to the sinks: what those two
  cost when a real graph runs beside them (``--split``; more than each costs alone, in a
  tight loop, as they share the caches and the GIL with LangGraph's run), and the event
  loop thread's own CPU spent in each (``time.thread_time`` around the checks and the
  sinks' ``emit``), which moves less than those differences.

The differences between consecutive lines are the layers' costs. HTTP itself (uvicorn's
parsing and the socket) is measured by benchmarks/http_servers.py only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from throwaway_home import throwaway_home

SERVERS = Path(__file__).resolve().parent / "servers"
BODY = b'{"text": "hi"}'
CONCURRENCY = 32
_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/invoke",
    "raw_path": b"/invoke",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def _build(graph: str) -> tuple[Any, Any]:
    """The pipeline and the ASGI app of ``benchmarks/servers/echo-<graph>``, as serve makes
    them."""
    return _build_project(SERVERS / f"echo-{graph}", insecure_no_auth=True)


def _build_project(project: Path, *, insecure_no_auth: bool) -> tuple[Any, Any]:
    """The pipeline and the ASGI app of the agent in ``project``, as serve makes them."""
    from agentdock.plugins import get_plugin_manager
    from agentdock.validation import validate
    from agentdock_runtime import compile_pipeline
    from agentdock_runtime.app import get_server, load_agent
    from agentdock_runtime.heap import freeze_startup_heap

    manager = get_plugin_manager()
    spec = validate(project / "Dockfile.yaml", plugins=manager, skip_imports=True).spec
    agent = load_agent(spec, project_dir=project, plugins=manager)
    pipeline = compile_pipeline(
        spec, entry=agent.entry, plugins=manager, insecure_no_auth=insecure_no_auth
    )
    app = get_server(spec, plugins=manager).app(pipeline)
    freeze_startup_heap()  # as the server does before it serves
    return pipeline, app


def _asgi_call(app: Any) -> Callable[[], Awaitable[None]]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def call() -> None:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app({**_SCOPE, "state": {}}, receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"/invoke answered {sent[0]['status']}: {sent[1]['body']!r}")

    return call


async def _cpu_per_call(
    call: Callable[[], Awaitable[Any]], calls: int, rounds: int, concurrency: int = CONCURRENCY
) -> float:
    async def batch(count: int) -> None:
        left = iter(range(count))

        async def worker() -> None:
            for _ in left:
                await call()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await batch(200)  # warm-up
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        await batch(calls)
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def _cpu_per_sync_call(call: Callable[[], Any], calls: int, rounds: int) -> float:
    for _ in range(200):
        call()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


async def _pipeline_parts(pipeline: Any, calls: int, rounds: int) -> dict[str, float]:
    """``pipeline.invoke`` with and without its pre policies and its telemetry delivery,
    alternating round by round so that a busy spell of the machine hits each alike."""
    queues = pipeline._report.queues
    pre, put = pipeline._pre, queues.put

    def without(*, policies: bool, delivery: bool) -> Callable[[], Awaitable[Any]]:
        async def call() -> Any:
            pipeline._pre = () if not policies else pre
            queues.put = put if delivery else (lambda events: None)
            try:
                return await pipeline.invoke(BODY)
            finally:
                pipeline._pre, queues.put = pre, put

        return call

    variants = {
        "pipeline.invoke (again)": without(policies=True, delivery=True),
        "  without its pre policies": without(policies=False, delivery=True),
        "  without telemetry delivery": without(policies=True, delivery=False),
    }
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, call in variants.items():
            best[name] = min(best[name], await _cpu_per_call(call, calls, 1))
    # The same two parts timed from the inside: the event loop thread's own CPU in the pre
    # checks and in the sinks' ``emit`` (steadier than a difference of process totals; the
    # sinks' writer threads are not in it).
    spent = {"pre": 0, "emit": 0}

    def timed(part: str, check: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time_ns()
            try:
                return await check(*args, **kwargs)
            finally:
                spent[part] += time.thread_time_ns() - started

        return call

    emits = [(sink, sink.emit) for sink in queues.sinks]
    pipeline._pre = tuple((name, timed("pre", check)) for name, check in pre)
    for sink, emit in emits:
        sink.emit = timed("emit", emit)
    try:
        await _cpu_per_call(lambda: pipeline.invoke(BODY), 200, 1)
        spent.update(pre=0, emit=0)
        await _cpu_per_call(lambda: pipeline.invoke(BODY), calls, 1)
    finally:
        pipeline._pre = pre
        for sink, emit in emits:
            sink.emit = emit
    # _cpu_per_call runs 200 warm-up calls before the measured ones.
    best["  its pre policies, loop thread CPU"] = spent["pre"] / (calls + 200) / 1000
    best["  the sinks' emit, loop thread CPU"] = spent["emit"] / (calls + 200) / 1000
    return best


async def _measure(
    graph_kind: str, calls: int, rounds: int, split: bool = False
) -> dict[str, float]:
    from agentdock.run import RunContext, RunResult
    from agentdock_plugins.langchain_callbacks import RunTracker

    sys.path.insert(0, str(SERVERS / f"echo-{graph_kind}"))
    pipeline, app = _build(graph_kind)
    adapter = pipeline.adapter
    graph = adapter.graph
    payload = {"text": "hi"}

    def served_context() -> RunContext:
        """A context as the pipeline makes it: the steps its telemetry sinks time, events
        to nowhere."""
        return RunContext(run_id="r", emit=lambda kind, data: None, steps=pipeline._steps)

    config: Any = {"callbacks": RunTracker(served_context()).handlers}
    figures: dict[str, float] = {}
    if adapter.synchronous:
        figures["LangGraph: graph.invoke"] = _cpu_per_sync_call(
            lambda: graph.invoke(payload), calls, rounds
        )
        figures["+ callbacks in its config"] = _cpu_per_sync_call(
            lambda: graph.invoke(payload, config), calls, rounds
        )
    else:
        figures["LangGraph: graph.ainvoke"] = await _cpu_per_call(
            lambda: graph.ainvoke(payload), calls, rounds
        )
        figures["+ callbacks in its config"] = await _cpu_per_call(
            lambda: graph.ainvoke(payload, config), calls, rounds
        )
    figures["adapter.invoke"] = await _cpu_per_call(
        lambda: adapter.invoke(payload, served_context()), calls, rounds
    )
    figures["pipeline.invoke"] = await _cpu_per_call(lambda: pipeline.invoke(BODY), calls, rounds)
    figures["ASGI /invoke"] = await _cpu_per_call(_asgi_call(app), calls, rounds)

    class Answering:
        async def invoke(self, payload: Any, context: Any) -> RunResult:
            return RunResult(output={"text": "HI"})

    pipeline._agent.adapter = Answering()
    figures["ASGI /invoke, adapter answering at once"] = await _cpu_per_call(
        _asgi_call(app), calls, rounds
    )
    pipeline._agent.adapter = adapter
    if split:
        figures.update(await _pipeline_parts(pipeline, calls, rounds))
    await pipeline.aclose()
    sys.path.pop(0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", default="sync,async")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    parser.add_argument(
        "--split",
        action="store_true",
        help="also the pipeline without its pre policies and without telemetry delivery",
    )
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    logging.disable(logging.WARNING)
    with throwaway_home():
        for graph_kind in args.graphs.split(","):
            figures = asyncio.run(_measure(graph_kind, args.requests, args.rounds, args.split))
            print(f"\n{graph_kind} graph: CPU µs per call, {CONCURRENCY} concurrent")
            previous = 0.0
            for name, value in figures.items():
                if name.startswith("  without"):
                    again = figures["pipeline.invoke (again)"]
                    print(f"  {name:<42} {value:>7.0f} {value - again:+8.0f}")
                    continue
                if name.startswith("  its pre") or name.startswith("  the sinks"):
                    print(f"  {name:<42} {value:>7.0f}")
                    continue
                layer = (
                    ""
                    if name.startswith(("LangGraph", "ASGI /invoke, ", "pipeline.invoke ("))
                    else (f"{value - previous:+8.0f}")
                )
                print(f"  {name:<42} {value:>7.0f} {layer}")
                previous = value
            langgraph = figures["+ callbacks in its config"]
            total = figures["ASGI /invoke"]
            print(
                f"  LangGraph's run (with callbacks) {langgraph:.0f} µs, AgentDock's layers "
                f"around it {total - langgraph:.0f} µs ({(total - langgraph) / total:.0%})"
            )


if __name__ == "__main__":
    main()
