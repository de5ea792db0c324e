"""Where the CPU of one Platform ``runs.wait`` goes, against ``POST /invoke`` on the same graph.

    uv run --frozen python benchmarks/platform_wait_split.py [--requests 3000] [--cpu N]

In one process, the echo graph of benchmarks/servers/echo-secure (API-key auth, two redaction
patterns, the injection check) is built as ``agentdock serve`` builds it, with one key made in
a throw-away AGENTDOCK_HOME, then driven through its ASGI app (no HTTP parsing: uvicorn's
share is not in here) with 32 concurrent calls of each route, the key sent as ``x-api-key``:

- ``POST /invoke``;
- ``POST /runs/wait`` with no thread (the SDK's ``runs.wait(None, …)``);
- ``POST /threads/{id}/runs/wait`` on one thread per caller (a run kept in the thread).

Each figure is CPU time (``time.process_time``: every thread of the process) per call, the
best of ``--rounds``. With ``--profile``, the stateless ``runs.wait`` is run again under
cProfile, timed by the event loop thread's CPU, and that thread's own time is split by
where the code lives (AgentDock's runtime, its Platform routes, the rest of its plugins,
Litestar, asyncio, the JSON codecs), in µs per call. A synchronous graph runs in the
adapter's worker threads, which cProfile does not see (``benchmarks/invoke_split.py`` measures
that run: LangGraph with AgentDock's callback handlers); the profiler inflates what it sees,
so compare the layers' shares, not their sum with the measured figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from siblings import load
from throwaway_home import throwaway_home

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "benchmarks" / "servers" / "echo-secure"
sys.path.insert(0, str(ROOT / "tests"))
from auth_support import add_key  # type: ignore[import-not-found]  # noqa: E402

split = load("invoke_split")

#: Where a function's file lives -> the layer it is counted in (first match wins).
LAYERS = (
    ("/agentdock_plugins/litestar/platform/", "AgentDock Platform routes"),
    ("/agentdock_plugins/litestar/", "AgentDock HTTP layer"),
    ("/agentdock_plugins/", "AgentDock plugins (adapter, policies, sinks)"),
    ("/agentdock_runtime/", "AgentDock runtime (pipeline)"),
    ("/agentdock/", "AgentDock core"),
    ("/langgraph/", "LangGraph"),
    ("/langchain_core/", "LangChain core"),
    ("/litestar/", "Litestar"),
    ("/asyncio/", "asyncio"),
    ("msgspec", "JSON (msgspec)"),
    ("/json/", "JSON (json)"),
)


def _scope(path: str, key: str, body: bytes) -> dict[str, Any]:
    return {
        **split._SCOPE,
        "path": path,
        "raw_path": path.encode(),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-api-key", key.encode()),
        ],
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({**scope, "state": {}}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _caller(app: Any, path: str, key: str, payload: Any) -> Callable[[], Awaitable[None]]:
    body = json.dumps(payload).encode()
    scope = _scope(path, key, body)

    async def call() -> None:
        status, answer = await _call(app, scope, body)
        if status != 200:
            raise SystemExit(f"{path} answered {status}: {answer!r}")

    return call


def _threaded(app: Any, key: str, threads: list[str], run: dict[str, Any]) -> Any:
    """One call of ``/threads/{id}/runs/wait``, each caller on its own thread."""
    callers = [_caller(app, f"/threads/{t}/runs/wait", key, run) for t in threads]
    turn = iter(range(1 << 62))

    async def call() -> None:
        await callers[next(turn) % len(callers)]()

    return call


def _layer(filename: str) -> str:
    for marker, name in LAYERS:
        if marker in filename:
            return name
    return "other (stdlib, typing, …)"


async def _profiled(call: Callable[[], Awaitable[None]], calls: int) -> dict[str, float]:
    profile = cProfile.Profile(time.thread_time)  # this thread's CPU, not waits
    profile.enable()
    await asyncio.gather(*(_loop(call, calls // split.CONCURRENCY) for _ in range(32)))
    profile.disable()
    stats = pstats.Stats(profile)
    layers: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        name = _layer(filename)
        layers[name] = layers.get(name, 0.0) + tottime
    done = calls // split.CONCURRENCY * split.CONCURRENCY
    return {name: seconds / done * 1e6 for name, seconds in layers.items()}


async def _loop(call: Callable[[], Awaitable[None]], count: int) -> None:
    for _ in range(count):
        await call()


async def _measure(calls: int, rounds: int, profile: bool) -> None:
    from agentdock.registry import open_store

    with open_store() as store:
        key = add_key(store, "echo-secure", "caller").key
    sys.path.insert(0, str(PROJECT))
    pipeline, app = split._build_project(PROJECT, insecure_no_auth=False)
    run = {"assistant_id": "echo-secure", "input": {"text": "hi"}}
    queued = {**run, "multitask_strategy": "enqueue"}
    threads: list[str] = []
    for _ in range(split.CONCURRENCY):
        status, answer = await _call(app, _scope("/threads", key, b"{}"), b"{}")
        assert status == 200, answer
        threads.append(json.loads(answer)["thread_id"])
    figures = {
        "POST /runs/wait (no thread), first": split._cpu_per_call(
            _caller(app, "/runs/wait", key, run), calls, rounds
        ),
        "POST /invoke": split._cpu_per_call(
            _caller(app, "/invoke", key, {"text": "hi"}), calls, rounds
        ),
        "POST /runs/wait (no thread)": split._cpu_per_call(
            _caller(app, "/runs/wait", key, run), calls, rounds
        ),
        "POST /threads/{id}/runs/wait": split._cpu_per_call(
            _threaded(app, key, threads, queued), calls, rounds
        ),
    }
    print(f"\necho-secure, auth on: CPU µs per call, {split.CONCURRENCY} concurrent (ASGI)")
    measured = {name: await pending for name, pending in figures.items()}
    base = measured["POST /invoke"]
    for name, value in measured.items():
        print(f"  {name:<40} {value:>7.0f}   {value / base:.2f}x /invoke")
    if profile:
        print("\nPOST /runs/wait (no thread) under cProfile: own time, µs per call")
        layers = await _profiled(_caller(app, "/runs/wait", key, run), calls)
        total = sum(layers.values())
        for name, value in sorted(layers.items(), key=lambda item: -item[1]):
            print(f"  {name:<46} {value:>7.0f} {value / total:>5.0%}")
        print(f"  {'the loop thread (inflated by the profiler)':<46} {total:>7.0f}")
    await pipeline.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="split runs.wait by layer")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    logging.disable(logging.WARNING)
    with throwaway_home():
        asyncio.run(_measure(args.requests, args.rounds, args.profile))


if __name__ == "__main__":
    main()
