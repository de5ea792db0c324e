"""CPU cost of serving an agent through ``agentdock serve DIR``'s dispatcher, against the
same agent's application served alone.

    uv run python benchmarks/hosted_dispatch.py [--calls 2000] [--rounds 5]

In one process, without sockets: the echo example's application (as ``serve FILE`` builds
it, auth off) answers ``POST /invoke``; a host of a directory holding the echo and chat
examples answers ``POST /agents/echo/invoke`` (its dispatch: a prefix split, one dict
lookup, a copied scope, the in-flight count). The ASGI calls are made directly, one at a
time; each round times both cases with ``time.process_time`` (CPU, not wall time), in
alternating order, and the best round of each is printed with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The dispatch's own cost: no telemetry sink.
for _switch in ("AGENTDOCK_METRICS", "AGENTDOCK_LOG_FORMAT", "AGENTDOCK_LOCALSTORE"):
    os.environ.setdefault(_switch, "off")

BODY = b'{"text": "hi"}'


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"14")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: Any, path: str) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path), receive, send)
    return status


async def _cpu(app: Any, path: str, calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        await _call(app, path)
    return (time.process_time() - start) / calls


async def main_async(calls: int, rounds: int) -> None:
    from agentdock import app as build_app
    from agentdock.plugins import get_plugin_manager
    from agentdock_plugins.litestar.hosting import AgentHost
    from asgi_lifespan import LifespanManager

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name in ("echo", "chat"):
            shutil.copytree(ROOT / "examples" / name, directory / name)
        plugins = get_plugin_manager()
        host = AgentHost(directory, plugins=plugins, insecure_no_auth=True)
        host.load_all()
        alone = build_app(directory / "echo", insecure_no_auth=True, plugins=plugins)
        async with LifespanManager(alone), LifespanManager(host):
            cases = {
                "alone  POST /invoke": (alone, "/invoke"),
                "hosted POST /agents/echo/invoke": (host, "/agents/echo/invoke"),
            }
            for app, path in cases.values():
                assert await _call(app, path) == 200, path
                for _ in range(100):  # warm-up
                    await _call(app, path)
            best = dict.fromkeys(cases, float("inf"))
            for index in range(rounds):
                order = list(cases) if index % 2 == 0 else list(reversed(cases))
                for label in order:
                    app, path = cases[label]
                    best[label] = min(best[label], await _cpu(app, path, calls))
    for label, seconds in best.items():
        print(f"{label:36} {seconds * 1e6:8.1f} us CPU per call")
    alone_s, hosted_s = best.values()
    print(f"hosted / alone: {hosted_s / alone_s:.3f}x ({(hosted_s - alone_s) * 1e6:+.1f} us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.calls, args.rounds))


if __name__ == "__main__":
    main()
