"""The LangGraph Platform API's ``runs.wait`` against AgentDock's own ``/invoke``, same graph.

    uv run python benchmarks/platform_runs.py [--duration 5] [--connections 32] [--calls 200]

One `agentdock serve` of benchmarks/servers/echo-secure (the synchronous echo graph behind
API-key auth, two redaction patterns and the injection check), pinned to core 0 as in
benchmarks/http_servers.py, and measured in the same run:

- server capacity, `wrk -t1` on core 1: ``POST /invoke`` against ``POST /runs/wait`` (the
  Platform route, the same pipeline behind it), requests/s and p99;
- through the clients, on core 1, ``--connections`` concurrent calls for ``--duration``
  seconds: ``langgraph-sdk``'s ``runs.wait`` against ``/invoke`` posted by ``httpx`` (the
  client a user of /invoke would write) and by the SDK's own HTTP client (the same client
  stack as ``runs.wait``, so only the route differs), calls/s;
- time to the first event, ``--calls`` sequential calls: ``runs.stream`` through the SDK
  (its ``metadata`` event) against ``POST /stream`` through httpx (its ``start`` frame),
  median and p99.

Ratios are printed against ``/invoke``; figures move between runs on a shared machine, so
compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from agentdock.registry import open_store
from langgraph_sdk import get_client
from siblings import load

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"
AGENT = "echo-secure"


harness = load("http_servers")
features = load("http_features")
# The auth tests' key helper (tests/auth_support.py): a key stored as `key create` stores it.
sys.path.insert(0, str(ROOT / "tests"))
from auth_support import add_key  # noqa: E402


async def _throughput(call: Any, connections: int, duration: float) -> float:
    """Calls per second of ``call`` with ``connections`` callers for ``duration`` s."""
    done = 0
    stop = time.perf_counter() + duration

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(connections)))
    return done / (time.perf_counter() - started)


async def _first_event(open_stream: Any, calls: int) -> tuple[float, float]:
    """Median and p99 ms from the request to the first event of a stream."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await open_stream()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def _clients(base: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"x-api-key": key}
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    sdk = get_client(url=base, api_key=key)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:

        async def invoke() -> None:
            response = await http.post("/invoke", json={"text": "hi"})
            assert response.status_code == 200, response.text

        async def invoke_sdk_http() -> None:
            # The SDK's own HTTP client (same transport and JSON) posting /invoke.
            out = await sdk.http.post("/invoke", json={"text": "hi"})
            assert out["text"] == "HI", out

        async def wait() -> None:
            out = await sdk.runs.wait(None, AGENT, input={"text": "hi"})
            assert out["text"] == "HI", out

        async def stream_native() -> None:
            async with http.stream("POST", "/stream", json={"text": "hi"}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("event: start"):
                        return

        async def stream_sdk() -> None:
            parts = sdk.runs.stream(None, AGENT, input={"text": "hi"})
            async for part in parts:
                if part.event == "metadata":
                    await parts.aclose()  # type: ignore[attr-defined]
                    return

        await invoke()
        await wait()
        figures = {
            "invoke_cps": await _throughput(invoke, args.connections, args.duration),
            "wait_cps": await _throughput(wait, args.connections, args.duration),
            "invoke_sdk_cps": await _throughput(invoke_sdk_http, args.connections, args.duration),
            "ttfe_native": await _first_event(stream_native, args.calls),
            "ttfe_sdk": await _first_event(stream_sdk, args.calls),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentdock-platform-bench-") as home:
        env = {"AGENTDOCK_HOME": home, "AGENTDOCK_LOG_FORMAT": "off"}
        os.environ.update(env)
        with open_store() as store:
            key = add_key(store, AGENT, "caller").key
        server = features._serve(SERVERS / AGENT / "Dockfile.yaml", insecure=False, env=env)
        port = harness._free_port()
        process = harness._start(server, port)
        try:
            harness._wait_ready(server, port, 60)
            base = f"http://127.0.0.1:{port}"
            headers = {"x-api-key": key}
            wrk_invoke = harness._wrk(
                base + "/invoke", {"text": "hi"}, args.duration, args.connections, headers
            )
            wrk_wait = harness._wrk(
                base + "/runs/wait",
                {"assistant_id": AGENT, "input": {"text": "hi"}},
                args.duration,
                args.connections,
                headers,
            )
            os.sched_setaffinity(0, {1})  # the Python clients on the other core
            figures = asyncio.run(_clients(base, key, args))
        finally:
            harness._stop(process)

    print(f"\n{AGENT} (api_key auth, redaction, injection check), one server on core 0")
    print(f"{'wrk -t1 -c' + str(args.connections):34} {'req/s':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, row in (("POST /invoke", wrk_invoke), ("POST /runs/wait", wrk_wait)):
        print(f"{name:34} {row['rps']:8.0f} {row['p99']:8.2f} {row['non_2xx']:8.0f}")
    print(f"/runs/wait / /invoke = {wrk_wait['rps'] / wrk_invoke['rps']:.2f}x")
    print(f"\nclients, {args.connections} concurrent callers, {args.duration} s")
    print(f"httpx POST /invoke          {figures['invoke_cps']:8.0f} calls/s")
    print(f"sdk http POST /invoke       {figures['invoke_sdk_cps']:8.0f} calls/s")
    print(f"langgraph-sdk runs.wait     {figures['wait_cps']:8.0f} calls/s")
    print(
        f"runs.wait / /invoke = {figures['wait_cps'] / figures['invoke_cps']:.2f}x (httpx), "
        f"{figures['wait_cps'] / figures['invoke_sdk_cps']:.2f}x (the SDK's client)"
    )
    print(f"\ntime to first event, {args.calls} sequential calls: median / p99 ms")
    native, sdk = figures["ttfe_native"], figures["ttfe_sdk"]
    print(f"httpx POST /stream (start)  {native[0]:8.2f} {native[1]:8.2f}")
    print(f"sdk runs.stream (metadata)  {sdk[0]:8.2f} {sdk[1]:8.2f}")


if __name__ == "__main__":
    main()
