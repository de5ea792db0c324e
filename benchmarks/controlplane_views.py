"""The control plane's main view and event latency on the embedded defaults.

    uv run python benchmarks/controlplane_views.py [--agents 50] [--runs 100000]
        [--requests 200] [--events 200] [--clients 100]

A registry in a temporary home gets N agents, each with a version and an active deployment
(recorded without a runtime, so the figures are the control plane's own cost: the registry
reads, the telemetry queries and the rendering, not the targets' health probes), and the
local telemetry store gets ``--runs`` recorded runs spread over the agents and the last
hour (the home table's window), written with the store's own insert. One control plane on
a real socket (uvicorn, as ``agentdock controlplane`` serves it); an httpx client:
- GET /static/dashboard.css        the baseline: a static file from the same server
- GET /controller/agents           the agents table as JSON, with each agent's figures
- GET /                            the home page (session cookie), as a browser loads it
- GET /controller/metrics/{agent}  one agent's figures and 60-slice series over 1 h
- event latency                    build_event published → the SSE frame read by a client
Then ``--clients`` concurrent clients (httpx async, one connection each): each requests the
agents table ``--per-client`` times while as many SSE streams are open, and one
``build_event`` is timed from publication to its frame at every stream.
Figures: p50 / p95 in milliseconds and each view's p50 as a multiple of the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _seed(store: Any, agents: int) -> None:
    for n in range(agents):
        name = f"agent-{n:03d}"
        record, _ = store.record_version(
            agent=name, version="0.1.0", snapshot="version: '1.1'\n", content_hash=f"{n:064x}"
        )
        deployment = store.create_deployment(version_id=record.id, artifact_id=None, target="local")
        store.activate_deployment(deployment.id)


def _seed_runs(agents: int, runs: int) -> float:
    """``runs`` run rows over the last hour, spread over the agents; returns seconds taken."""
    import random

    from agentdock_plugins.localstore.store import (
        connect,
        insert_rows,
        row_from_event,
        telemetry_db_path,
    )

    started = time.perf_counter()
    now = time.time()
    rng = random.Random(7)
    rows = []
    for n in range(runs):
        at = now - rng.uniform(0, 3500)
        data = {
            "mode": "invoke",
            "status": "error" if rng.random() < 0.02 else "ok",
            "latency_ms": rng.lognormvariate(4.5, 0.6),
            "tokens_input": rng.randint(50, 800),
            "tokens_output": rng.randint(20, 400),
            "cost_usd": rng.uniform(0.0001, 0.01),
            "end_unix_nano": int(at * 1e9),
        }
        event = {"event": "run_end", "agent": f"agent-{n % agents:03d}", "data": data}
        rows.append(row_from_event(event))
    conn = connect(telemetry_db_path())
    try:
        insert_rows(conn, rows)
        conn.commit()
    finally:
        conn.close()
    return time.perf_counter() - started


def _timed(client: Any, path: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return out


def _figures(name: str, samples: list[float], baseline: float | None) -> None:
    """One line of figures; ``baseline`` None: no ratio (the baseline itself, or latency)."""
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[18]
    ratio = f"{p50 / baseline:6.1f}x" if baseline else ""
    print(f"{name:<28} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--per-client", type=int, default=5)
    parser.add_argument("--crowd-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--role", default="sse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crowd_of:
        asyncio.run(_crowd_child(args.crowd_of, args.role, args.clients, args.per_client))
        return

    import os

    home = tempfile.mkdtemp(prefix="agentdock-bench-cp-")
    os.environ["AGENTDOCK_HOME"] = home
    import httpx
    from agentdock.registry import open_store
    from agentdock_plugins.controlplane.app import controlplane_app
    from agentdock_plugins.controlplane.metrics import fleet_figures
    from agentdock_plugins.controlplane.principals import create_platform_key
    from agentdock_plugins.controlplane.state import ControlPlane
    from served import serving

    store = open_store()
    _seed(store, args.agents)
    seeded = _seed_runs(args.agents, args.runs)
    key = create_platform_key(store, "admin", created_by="bench")[0].key
    plane = ControlPlane(store=store, projects=Path(home), health_interval=0)
    print(
        f"{args.agents} agents, {args.runs} recorded runs (written in {seeded:.1f} s),"
        f" {args.requests} requests per view, {args.events} events"
    )
    with serving(controlplane_app(plane)) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            client.post("/login", data={"key": key})
            bearer = {"authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=bearer, timeout=30) as api:
                _timed(api, "/controller/agents", 5)  # warm up
                static = _timed(client, "/static/dashboard.css", args.requests)
                agents = _timed(api, "/controller/agents", args.requests)
                metrics = _timed(api, "/controller/metrics/agent-000?window=1h", args.requests)
                figures = api.get("/controller/agents").json()[0]
            home_page = _timed(client, "/", args.requests)
        baseline = statistics.median(static)
        _figures("static file (baseline)", static, None)
        _figures("GET /controller/agents", agents, baseline)
        _figures("GET / (home page)", home_page, baseline)
        _figures("GET /controller/metrics/{a}", metrics, baseline)
        cold = []
        for _ in range(5):  # what one read costs when the shared figures are stale
            start = time.perf_counter()
            fleet_figures(plane.telemetry_path, plane.figures_window_s)
            cold.append((time.perf_counter() - start) * 1000)
        _figures("every agent's figures, cold", cold * 4, None)
        assert figures["requests"] > 0 and figures["p95_ms"] is not None, figures
        print(f"  (agent-000: {figures['requests']} runs, p95 {figures['p95_ms']:.1f} ms)")

        latencies: list[float] = []
        sent: dict[int, float] = {}
        ready = threading.Event()

        def read() -> None:
            with (
                httpx.Client(base_url=base, headers=bearer, timeout=30) as sse,
                sse.stream("GET", "/controller/events") as stream,
            ):
                ready.set()
                for line in stream.iter_lines():
                    if line.startswith("id: "):
                        got = time.perf_counter()
                        ident = int(line[4:])
                        if ident in sent:
                            latencies.append((got - sent[ident]) * 1000)
                        if len(latencies) >= args.events:
                            return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        ready.wait(10)
        time.sleep(0.3)
        for n in range(args.events):
            at = time.perf_counter()
            event = plane.events.publish("build_event", agent="bench", step="build", n=n)
            sent[event.id] = at
            time.sleep(0.005)
        reader.join(30)
        _figures("build_event → SSE client", latencies, None)
        _crowd(base, key, plane, args.clients, args.per_client)
    store.close()


def _crowd(base: str, key: str, plane: Any, clients: int, each: int) -> None:
    """Two child processes (their own interpreters, so no client shares this process's GIL
    with the server, nor the streams' readers with the API clients): one holds ``clients``
    SSE streams, the other runs ``clients`` API clients. One build_event is published while
    the API is under load; publication and arrival are read from CLOCK_MONOTONIC, which
    every process of the machine shares."""
    import json
    import os
    import subprocess

    def child(role: str) -> subprocess.Popen[str]:
        arguments = ("--crowd-of", base, "--role", role, "--clients", str(clients))
        return subprocess.Popen(
            [sys.executable, __file__, *arguments, "--per-client", str(each)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "BENCH_KEY": key},
        )

    streams = child("sse")
    assert streams.stdin is not None and streams.stdout is not None
    assert streams.stdout.readline().strip() == "ready"
    load = child("api")
    assert load.stdout is not None
    assert load.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # the API clients are under way
    at = time.monotonic()
    plane.events.publish("build_event", agent="bench", step="build", n=-1)
    streams.stdin.write(f"{at}\n")
    streams.stdin.flush()
    delays = json.loads(streams.stdout.readline())
    result = json.loads(load.stdout.readline())
    streams.wait(60)
    load.wait(60)
    print(
        f"{clients} concurrent API clients x {each} GET /controller/agents while {clients} SSE"
        f" streams are open: {result['rate']:.0f} requests/s"
    )
    _figures(f"  GET /controller/agents x{clients}", result["api"], None)
    _figures(f"  build_event → {clients} streams", delays, None)


async def _crowd_child(base: str, role: str, clients: int, each: int) -> None:
    """A child of :func:`_crowd`: ``clients`` SSE streams (``sse``: the delays of the first
    event at each) or API clients (``api``: their request times and rate), as one JSON line
    on stdout after ``ready``."""
    import json
    import os

    import httpx

    bearer = {"authorization": f"Bearer {os.environ['BENCH_KEY']}"}
    limits = httpx.Limits(max_connections=1)
    api_times: list[float] = []
    arrivals: list[float] = []
    opened = 0
    connected = asyncio.Event()

    async def api_client() -> None:
        async with httpx.AsyncClient(
            base_url=base, headers=bearer, timeout=120, limits=limits
        ) as client:
            for _ in range(each):
                start = time.perf_counter()
                answer = await client.get("/controller/agents")
                api_times.append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200, answer.status_code

    async def sse_client() -> None:
        nonlocal opened
        async with (
            httpx.AsyncClient(base_url=base, headers=bearer, timeout=120, limits=limits) as client,
            client.stream("GET", "/controller/events") as stream,
        ):
            opened += 1
            if opened == clients:
                connected.set()
            async for line in stream.aiter_lines():
                if line.startswith("id: "):
                    arrivals.append(time.monotonic())
                    return

    if role == "api":
        print("ready", flush=True)
        started = time.perf_counter()
        await asyncio.gather(*(api_client() for _ in range(clients)))
        wall = time.perf_counter() - started
        print(json.dumps({"rate": len(api_times) / wall, "api": api_times}), flush=True)
        return
    streams = [asyncio.create_task(sse_client()) for _ in range(clients)]
    await asyncio.wait_for(connected.wait(), 60)
    await asyncio.sleep(0.3)
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.gather(*streams), 120)
    published = float(await asyncio.to_thread(sys.stdin.readline))
    print(json.dumps([(at - published) * 1000 for at in arrivals]), flush=True)


if __name__ == "__main__":
    main()
