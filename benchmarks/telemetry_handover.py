"""CPU a run costs the serving process's telemetry side: queues, drains and sinks, as served.

    uv run python benchmarks/telemetry_handover.py [--runs 2000] [--trials 3] [--sample RATE]
        [--sinks prometheus,otel,langfuse]

The runtime's :class:`~agentdock_runtime.telemetry.TelemetryQueues` with the sinks built as
the runtime builds them (Prometheus bound to the queues' counters; OpenTelemetry, then
LangFuse joining its pipeline), each run's events put as ``RunReporter.finish`` puts them,
one run at a time with the event loop turning between runs (a server at low concurrency:
each run wakes the drains alone). Echo-shaped runs (a node, then ``run_end``). The spans go
to an endpoint in a child process that answers 200 at once (its CPU not counted).

Prints, best of the trials, the CPU per run of the event loop's thread and of the whole
process (the span builder and export threads too). ``--sample RATE`` samples that share of
the runs in both backends (``parentbased_traceidratio`` and ``LANGFUSE_SAMPLE_RATE``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trace_sinks  # the same spec and endpoint
from agentdock import validate
from agentdock_plugins.langfuse import langfuse_sink
from agentdock_plugins.otel import otel_sink
from agentdock_plugins.prometheus import prometheus_sink
from agentdock_runtime.events import envelope, new_span_id
from agentdock_runtime.telemetry import TelemetryQueues


def _runs(count: int) -> list[list[dict[str, Any]]]:
    out = []
    for _ in range(count):
        run_id = os.urandom(16).hex()
        span = new_span_id()
        start = time.time_ns()
        ids = {"run_id": run_id, "trace_id": run_id, "span_id": span}
        node = {"status": "ok", "duration_ms": 1.0, "start_unix_nano": start, "node": "upper"}
        end = {
            "mode": "invoke",
            "status": "ok",
            "success": True,
            "error_type": None,
            "latency_ms": 5.0,
            "tokens_input": 0,
            "tokens_output": 0,
            "retries": 0,
            "start_unix_nano": start,
            "end_unix_nano": start + 5_000_000,
            "parent_span_id": None,
            "parent_sampled": True,
            "model": "gpt-4o-mini",
            "provider": "openai",
        }
        out.append(
            [
                envelope("node_event", "bench", {**node, "span_id": new_span_id()}, **ids),
                envelope("run_end", "bench", end, **ids),
            ]
        )
    return out


def _sinks(spec: Any, which: list[str]) -> list[Any]:
    factories = {"prometheus": prometheus_sink, "otel": otel_sink, "langfuse": langfuse_sink}
    return [sink for name in which if (sink := factories[name](spec)) is not None]


def _measure(sinks: list[Any], runs: list[list[dict[str, Any]]]) -> tuple[float, float]:
    queues = TelemetryQueues(sinks, queue_size=10_000, batch_size=64, sink_timeout=5.0)
    pipeline = types.SimpleNamespace(
        telemetry_stats=queues.stats, telemetry_drops=queues.sink_drops
    )
    for sink in sinks:
        if hasattr(sink, "bind"):
            sink.bind(pipeline)

    async def go() -> float:
        for events in runs:
            queues.put(events)
            for _ in range(3):  # the drains run, as between two requests
                await asyncio.sleep(0)
        spent = time.thread_time()
        await queues.aclose(5.0)
        return spent

    process, thread = time.process_time(), time.thread_time()
    loop_done = asyncio.run(go())
    total = time.process_time() - process
    for sink in sinks:
        if hasattr(sink, "shutdown"):
            sink.shutdown()
    return (loop_done - thread) / len(runs) * 1e6, total / len(runs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--sample", type=float, default=None, metavar="RATE")
    parser.add_argument("--sinks", default="prometheus,otel,langfuse")
    args = parser.parse_args()
    if args.sample is not None:
        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = str(args.sample)
        os.environ["LANGFUSE_SAMPLE_RATE"] = str(args.sample)
    os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", str(args.runs * 4))
    report = validate(trace_sinks.DOCUMENT, skip_imports=True)
    assert report.ok, [f.one_line() for f in report.errors]
    port = multiprocessing.Value("i", 0)
    received = multiprocessing.Value("q", 0)
    server = multiprocessing.Process(target=trace_sinks._serve, args=(port, received), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port.value}"
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
    os.environ["LANGFUSE_HOST"] = url
    best: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        for trial in range(args.trials):
            os.environ["AGENTDOCK_LANGFUSE_BUFFER"] = str(Path(scratch) / f"buffer-{trial}.db")
            sinks = _sinks(report.spec, args.sinks.split(","))
            measured = _measure(sinks, _runs(args.runs))
            if best is None or measured[1] < best[1]:
                best = measured
    server.terminate()
    assert best is not None
    print(f"sinks {args.sinks}, sample {args.sample}")
    print(f"event loop {best[0]:.1f} µs/run, every thread {best[1]:.1f} µs/run")


if __name__ == "__main__":
    main()
