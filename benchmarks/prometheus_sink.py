"""Cost of the Prometheus sink: ``emit`` per event and the ASGI middleware per request.

    uv run python benchmarks/prometheus_sink.py [--events 100000] [--requests 100000] [--trials 5]

Prints, best of the trials, all measured in the same run:
- emit: microseconds per event for a realistic mix (one run_end, two tool_events, one
  policy_event per run), in batches of 64 as the telemetry drain hands them over;
- middleware: microseconds per request of a bare ASGI app alone and wrapped in the
  metrics middleware, and the difference (what the middleware adds to every request);
- render: milliseconds per ``render_metrics()`` after the traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from agentdock_plugins.prometheus.sink import PrometheusSink


def _event(name: str, **data: Any) -> dict[str, Any]:
    return {
        "event": name,
        "version": "1.0",
        "timestamp": "2026-11-25T16:40:00.123456Z",
        "agent": "bench",
        "run_id": "a" * 32,
        "trace_id": "b" * 32,
        "span_id": "c" * 16,
        "data": data,
    }


MIX = [
    _event(
        "run_end",
        mode="invoke",
        status="ok",
        latency_ms=12.5,
        tokens_input=120,
        tokens_output=40,
        cost_usd=0.0001,
    ),
    _event("tool_event", tool="lookup_order", status="ok", duration_ms=2.0),
    _event("tool_event", tool="issue_refund", status="ok", duration_ms=3.0),
    _event("policy_event", stage="post", policy="redact_output", action="redact", matches=1),
]


async def _bench_emit(sink: PrometheusSink, events: int) -> float:
    batch = (MIX * 16)[:64]
    rounds = max(1, events // len(batch))
    started = time.perf_counter()
    for _ in range(rounds):
        await sink.emit(batch)
    return (time.perf_counter() - started) / (rounds * len(batch)) * 1e6


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _bench_asgi(app: Any, requests: int) -> float:
    scope = {"type": "http", "path": "/invoke", "method": "POST", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    started = time.perf_counter()
    for _ in range(requests):
        await app(scope, receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()

    sink = PrometheusSink()
    wrapped = sink.asgi_middleware(_app)
    emit, bare, metered = [], [], []
    for _ in range(args.trials):
        emit.append(asyncio.run(_bench_emit(sink, args.events)))
        bare.append(asyncio.run(_bench_asgi(_app, args.requests)))
        metered.append(asyncio.run(_bench_asgi(wrapped, args.requests)))
    started = time.perf_counter()
    for _ in range(20):
        sink.render_metrics()
    render_ms = (time.perf_counter() - started) / 20 * 1000

    print(f"emit:       {min(emit):7.2f} µs per event (batches of 64, mixed events)")
    print(f"bare ASGI:  {min(bare):7.2f} µs per request")
    print(f"middleware: {min(metered):7.2f} µs per request")
    print(f"added:      {min(metered) - min(bare):7.2f} µs per request")
    print(f"render:     {render_ms:7.2f} ms per scrape")


if __name__ == "__main__":
    main()
