"""Platform runs on a thread with their records in the process against in the registry.

    uv run python benchmarks/platform_records.py [--calls 200]

Two `agentdock serve` of benchmarks/servers/echo-secure (API-key auth, the synchronous
echo graph), pinned to core 0 one after the other, the same SQLite registry home:
``AGENTDOCK_PLATFORM_RECORDS=memory`` against ``registry`` (threads, runs, results and
frames in the registry, as replicas share them). Through ``langgraph-sdk`` on core 1,
``--calls`` sequential calls each: ``runs.wait`` on one thread, and ``runs.create`` then
``runs.join`` (a background run, followed). Median and p99 in ms, and the registry's ratio
to the process's; figures move between runs on a shared machine, so compare the ratios of
one run.
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

from agentdock.registry import open_store
from langgraph_sdk import get_client
from siblings import load

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"
AGENT = "echo-secure"


harness = load("http_servers")
features = load("http_features")
sys.path.insert(0, str(ROOT / "tests"))
from auth_support import add_key  # noqa: E402


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


async def _calls(base: str, key: str, calls: int) -> dict[str, tuple[float, float]]:
    client = get_client(url=base, api_key=key)
    thread = await client.threads.create()
    tid = thread["thread_id"]
    wait: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        await client.runs.wait(tid, AGENT, input={"text": "hi"})
        wait.append(time.perf_counter() - started)
    joined: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        run = await client.runs.create(tid, AGENT, input={"text": "hi"})
        await client.runs.join(tid, run["run_id"])
        joined.append(time.perf_counter() - started)
    return {"wait": _summary(wait), "create+join": _summary(joined)}


def _measure(records: str, home: str, key: str, calls: int) -> dict[str, tuple[float, float]]:
    env = {
        "AGENTDOCK_HOME": home,
        "AGENTDOCK_LOG_FORMAT": "off",
        "AGENTDOCK_PLATFORM_RECORDS": records,
    }
    server = features._serve(SERVERS / AGENT / "Dockfile.yaml", insecure=False, env=env)
    port = harness._free_port()
    process = harness._start(server, port)
    try:
        harness._wait_ready(server, port, 60)
        return asyncio.run(_calls(f"http://127.0.0.1:{port}", key, calls))
    finally:
        harness._stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentdock-records-bench-") as home:
        os.environ.update({"AGENTDOCK_HOME": home, "AGENTDOCK_LOG_FORMAT": "off"})
        with open_store() as store:
            key = add_key(store, AGENT, "caller").key
        os.sched_setaffinity(0, {1})  # the client on the other core
        rows = {name: _measure(name, home, key, args.calls) for name in ("memory", "registry")}
    print(f"\n{AGENT}, {args.calls} sequential calls on one thread: median / p99 ms")
    for name, figures in rows.items():
        for call, (median, p99) in figures.items():
            print(f"{name:9} {call:12} {median:8.2f} {p99:8.2f}")
    for call in ("wait", "create+join"):
        ratio = rows["registry"][call][0] / rows["memory"][call][0]
        print(f"registry / memory, {call} median = {ratio:.2f}x")


if __name__ == "__main__":
    main()
