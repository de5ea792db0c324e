"""What the Host check of a runtime without authentication costs a request.

    uv run python benchmarks/host_check.py [--requests 20000] [--rounds 5] [--cpu N]

In one process, CPU time (``time.process_time``) per call, the best of ``--rounds``, the
two sides of each pair measured in alternating rounds of the same run:

- the check alone: :class:`agentdock_runtime.hostcheck.HostCheck` around an ASGI app that
  does nothing, against that app bare (a loopback ``Host``, remembered after the first);
- ``POST /invoke`` of ``benchmarks/servers/echo-sync`` built as ``agentdock serve
  --insecure-no-auth`` builds it, with an adapter that answers at once (AgentDock's layers
  alone, the smallest denominator), served as ``serve`` serves it (``served_app``) against
  the bare application;
- with authentication on ``served_app`` hands back the application itself: nothing is
  added to the request path, which the script checks rather than times.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from invoke_split import SERVERS, _asgi_call, _build
from throwaway_home import throwaway_home

Call = Callable[[], Awaitable[None]]


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    return None


def _bare_call(app: Any) -> Call:
    scope = {"type": "http", "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")]}

    async def call() -> None:
        await app(scope, None, None)

    return call


async def _alternating(calls: dict[str, Call], count: int, rounds: int) -> dict[str, float]:
    """The best CPU µs per call of each, measured round after round in turn."""
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        for _ in range(200):
            await call()
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.process_time()
            for _ in range(count):
                await call()
            best[name] = min(best[name], (time.process_time() - started) / count * 1e6)
    return best


async def _measure(count: int, rounds: int) -> None:
    from agentdock.run import RunResult
    from agentdock_runtime.hostcheck import HostCheck, served_app

    alone = await _alternating(
        {"bare": _bare_call(_noop), "checked": _bare_call(HostCheck(_noop))}, count * 5, rounds
    )
    print("the check alone, CPU µs per call:")
    print(f"  no-op app               {alone['bare']:7.3f}")
    extra = alone["checked"] - alone["bare"]
    print(f"  HostCheck(no-op app)    {alone['checked']:7.3f}  ({extra:+.3f})")

    sys.path.insert(0, str(SERVERS / "echo-sync"))
    pipeline, app = _build("sync")

    class Answering:
        async def invoke(self, payload: Any, context: Any) -> RunResult:
            return RunResult(output={"text": "HI"})

    pipeline._agent.adapter = Answering()
    served = served_app(app, insecure_no_auth=True, environ={})
    figures = await _alternating(
        {"bare": _asgi_call(app), "served": _asgi_call(served)}, count, rounds
    )
    await pipeline.aclose()
    added = figures["served"] - figures["bare"]
    print("POST /invoke, auth off, adapter answering at once, CPU µs per call:")
    print(f"  application bare        {figures['bare']:7.1f}")
    print(
        f"  as served (HostCheck)   {figures['served']:7.1f}  ({added:+.1f}, "
        f"{figures['served'] / figures['bare']:.3f}x)"
    )
    same = served_app(app, insecure_no_auth=False) is app
    print(f"auth on: served_app(app) is the application itself: {same} (nothing added)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    logging.disable(logging.WARNING)
    with throwaway_home():
        asyncio.run(_measure(args.requests, args.rounds))


if __name__ == "__main__":
    main()
