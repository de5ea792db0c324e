"""What each part of a stateless ``runs.wait`` costs on its own, in CPU µs per call.

    uv run --frozen python benchmarks/platform_wait_parts.py [--calls 20000] [--runs 3000]
        [--cpu N]

``benchmarks/platform_wait_split.py`` measures a whole ``runs.wait`` against ``/invoke``;
this script times, each in a loop in one thread (``time.process_time``, best of 3), the
parts of the path that AgentDock adds for a Platform call, so that a candidate for cutting
can be weighed before it is touched:

- reading the request's headers into a dict (the langgraph-sdk client sends 8);
- decoding the body into :class:`RunCreate` and describing the run (:func:`platform_run`);
- encoding the reply;
- checking an API key: its SHA-256 digest and the constant-time compare (what a verdict
  cached per key value would save);
- the run of the echo graph (benchmarks/servers/echo_graphs.py) as ``/invoke`` makes it,
  ``graph.invoke``, against a Platform run's ``graph.stream`` of ``values`` and
  ``updates`` (which it needs to see interrupts): the ratio is the second over the first;
- a coroutine awaited in a task of its own, shielded (how a Platform run of a synchronous
  graph was awaited, so that a cancelled one stops at its next step, before the worker
  pool took a ``stop`` event of its own), against awaited directly, on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from agentdock.auth.keys import verify_key
from agentdock_plugins.litestar.invoke import request_headers
from agentdock_plugins.litestar.platform.bodies import RunCreate, decode_body
from agentdock_plugins.litestar.platform.context import platform_run
from agentdock_plugins.litestar.platform.encoding import encode

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))
from echo_graphs import build_graph

#: The headers langgraph-sdk 0.4's async client sends with ``runs.wait`` (a made-up key).
SDK_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate, zstd"),
    (b"connection", b"keep-alive"),
    (b"user-agent", b"langgraph-sdk-py/0.4.14"),
    (b"x-api-key", b"adk_000000000000_" + b"x" * 43),
    (b"content-length", b"55"),
    (b"content-type", b"application/json"),
]


def _best(function: Callable[[], Any], calls: int) -> float:
    """CPU µs per call of ``function``, the best of 3 loops of ``calls``."""
    for _ in range(min(calls, 200)):
        function()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(calls):
            function()
        best = min(best, time.process_time() - started)
    return best / calls * 1e6


async def _best_async(function: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(min(calls, 200)):
        await function()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(calls):
            await function()
        best = min(best, time.process_time() - started)
    return best / calls * 1e6


async def _tasks(calls: int) -> tuple[float, float]:
    async def answer() -> int:
        return 1

    async def direct() -> int:
        return await answer()

    async def in_a_task() -> int:
        return await asyncio.shield(asyncio.ensure_future(answer()))

    return await _best_async(direct, calls), await _best_async(in_a_task, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="loop length of the parts")
    parser.add_argument("--runs", type=int, default=3000, help="loop length of graph runs")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    body = json.dumps({"assistant_id": "echo-secure", "input": {"text": "hi"}}).encode()
    scope = {"headers": SDK_HEADERS}
    request = decode_body(body, RunCreate, empty_ok=False)
    key = SDK_HEADERS[5][1].decode()
    digest = hashlib.sha256(key.encode()).hexdigest()
    graph = build_graph()
    rows = [
        ("request headers to a dict", _best(lambda: request_headers(scope), args.calls)),
        (
            "body to RunCreate",
            _best(lambda: decode_body(body, RunCreate, empty_ok=False), args.calls),
        ),
        (
            "platform_run (the run's description)",
            _best(lambda: platform_run(request, request.modes()), args.calls),
        ),
        ("reply encoded", _best(lambda: encode({"text": "HI"}), args.calls)),
        ("API key digest + compare", _best(lambda: verify_key(key, digest, "sha256"), args.calls)),
    ]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\nParts of a stateless runs.wait, CPU µs per call (best of 3)")
    for name, value in rows:
        print(f"  {name:<42} {value:>8.2f}")
    invoke = _best(lambda: graph.invoke({"text": "hi"}), args.runs)
    stream = _best(
        lambda: list(graph.stream({"text": "hi"}, stream_mode=["values", "updates"])), args.runs
    )
    print("\nThe echo graph's run, CPU µs per run")
    print(f"  {'graph.invoke (/invoke)':<42} {invoke:>8.1f}   1.00x")
    print(
        f"  {'graph.stream values+updates (Platform)':<42} {stream:>8.1f}   {stream / invoke:.2f}x"
    )
    direct, in_a_task = uvloop.run(_tasks(args.calls))
    print("\nAwaiting a coroutine on uvloop, CPU µs per call")
    print(f"  {'awaited directly':<42} {direct:>8.2f}")
    print(f"  {'in a task of its own, shielded':<42} {in_a_task:>8.2f}")


if __name__ == "__main__":
    main()
