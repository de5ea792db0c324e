"""The control plane's main view and event latency on the embedded defaults.

    uv run python benchmarks/controlplane_views.py [--agents 50] [--requests 200] [--events 200]

A registry in a temporary home gets N agents, each with a version and an active deployment
(recorded without a runtime, so the figures are the control plane's own cost: the registry
reads and the rendering, not the targets' health probes). One control plane on a real
socket (uvicorn, as ``agentdock controlplane`` serves it); an httpx client:
- GET /static/dashboard.css        the baseline: a static file from the same server
- GET /controller/agents           the agents table as JSON
- GET /                            the home page (session cookie), as a browser loads it
- event latency                    publish → the SSE frame read by a client, per event
Figures: p50 / p95 in milliseconds and each view's p50 as a multiple of the baseline's.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()

    import os

    home = tempfile.mkdtemp(prefix="agentdock-bench-cp-")
    os.environ["AGENTDOCK_HOME"] = home
    import httpx
    from agentdock.registry import open_store
    from agentdock_plugins.controlplane.app import controlplane_app
    from agentdock_plugins.controlplane.principals import create_platform_key
    from agentdock_plugins.controlplane.state import ControlPlane
    from served import serving

    store = open_store()
    _seed(store, args.agents)
    key = create_platform_key(store, "admin", created_by="bench")[0].key
    plane = ControlPlane(store=store, projects=Path(home), health_interval=0)
    print(f"{args.agents} agents, {args.requests} requests per view, {args.events} events")
    with serving(controlplane_app(plane)) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            client.post("/login", data={"key": key})
            bearer = {"authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=bearer, timeout=30) as api:
                _timed(api, "/controller/agents", 5)  # warm up
                static = _timed(client, "/static/dashboard.css", args.requests)
                agents = _timed(api, "/controller/agents", args.requests)
            home_page = _timed(client, "/", args.requests)
        baseline = statistics.median(static)
        _figures("static file (baseline)", static, None)
        _figures("GET /controller/agents", agents, baseline)
        _figures("GET / (home page)", home_page, baseline)

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
            event = plane.events.publish("health_event", agent="bench", n=n)
            sent[event.id] = at
            time.sleep(0.005)
        reader.join(30)
        _figures("event → SSE client", latencies, None)
    store.close()


if __name__ == "__main__":
    main()
