"""CPU a run costs the tracing sinks: OpenTelemetry, LangFuse, and both on one span pipeline.

    uv run python benchmarks/trace_sinks.py [--runs 3000] [--trials 3] [--shape full|echo]
        [--sample RATE] [--batch EVENTS]

The sinks are built as the runtime builds them (``otel_sink``, then ``langfuse_sink``: with
both, LangFuse joins the OpenTelemetry sink's pipeline). Each
builds every run's spans, queues them, encodes, compresses and POSTs them to an endpoint
that answers 200 at once and keeps connections open, as collectors do (a child process, so
its CPU is not counted). The baseline, in the
same run: the OpenTelemetry SDK as an application would use it (a tracer's ``start_span`` and
``end`` for the same four spans and attributes, ``BatchSpanProcessor``, the SDK's OTLP/HTTP
exporter). Runs are handed over as the telemetry drain does, 64 events at a time (``--batch
1``: each run alone, as a server at low concurrency hands them over), four events
a run (run_end, a node, a tool, a model call), or with ``--shape echo`` two, as the echo
graph of the HTTP benchmarks makes (run_end, a node); each figure is the process CPU time (every
thread: building, queueing, encoding, compressing, sending) per run, best of the trials.
With ``--sample RATE`` every case samples that share of the runs (parent-based trace id
ratio, as docs/tracing.md recommends); ``--sample 0`` measures what a run that no backend
samples costs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agentdock import validate
from agentdock_plugins.langfuse import langfuse_sink
from agentdock_plugins.otel import otel_sink
from agentdock_runtime.events import envelope, new_span_id

DOCUMENT: dict[str, Any] = {
    "version": "1.1",
    "agent": {"name": "bench", "entrypoint": "bench:graph", "framework": "langgraph"},
    "model": {"provider": "openai", "name": "gpt-4o-mini"},
    "io_schema": {
        "input": {"type": "object", "properties": {"text": {"type": "string"}}},
        "output": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
    "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
    "expose": {"rest": True},
    "observability": {"langfuse": {"public_key": "pk-lf-bench", "secret_key": "sk-lf-bench"}},
}


class _Ok(BaseHTTPRequestHandler):
    #: Connections stay open between requests, as a collector's and LangFuse's do.
    protocol_version = "HTTP/1.1"
    received: Any = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with self.received.get_lock():
            self.received.value += len(body)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _serve(port: Any, received: Any) -> None:
    _Ok.received = received
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    port.value = server.server_address[1]
    server.serve_forever()


def _runs(count: int, shape: str = "full") -> list[list[dict[str, Any]]]:
    """``count`` runs: a node, a tool and a model call (``full``), or one node (``echo``)."""
    out = []
    for _ in range(count):
        run_id = os.urandom(16).hex()
        span = new_span_id()
        start = time.time_ns()

        def event(name: str, data: dict[str, Any], run_id: str = run_id, span: str = span) -> Any:
            return envelope(name, "bench", data, run_id=run_id, trace_id=run_id, span_id=span)

        step = {"status": "ok", "duration_ms": 1.0, "start_unix_nano": start}
        run = [
            event("node_event", {**step, "node": "upper", "span_id": new_span_id()}),
            event("tool_event", {**step, "tool": "lookup", "span_id": new_span_id()}),
            event(
                "model_event",
                {
                    **step,
                    "model": "gpt-4o-mini",
                    "provider": "openai",
                    "tokens_input": 12,
                    "tokens_output": 7,
                    "span_id": new_span_id(),
                },
            ),
            event(
                "run_end",
                {
                    "mode": "invoke",
                    "status": "ok",
                    "latency_ms": 5.0,
                    "tokens_input": 12,
                    "tokens_output": 7,
                    "model": "gpt-4o-mini",
                    "provider": "openai",
                    "start_unix_nano": start,
                    "end_unix_nano": start + 5_000_000,
                },
            ),
        ]
        out.append(run if shape == "full" else [run[0], run[-1]])
    return out


def _sinks(spec: Any, which: str, url: str, scratch: Path) -> list[Any]:
    """The sinks of ``which`` as the runtime builds them, pointed at ``url``."""
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
    os.environ["LANGFUSE_HOST"] = url
    os.environ["AGENTDOCK_LANGFUSE_BUFFER"] = str(scratch / f"buffer-{time.monotonic_ns()}.db")
    built: dict[str, Any] = {}
    if "otel" in which:
        built["otel"] = otel_sink(spec)
    if "langfuse" in which:
        built["langfuse"] = langfuse_sink(spec)
    return list(built.values())


class _SdkSink:
    """The OpenTelemetry SDK used directly: a tracer makes the same four spans a run."""

    def __init__(self, url: str, shape: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.provider = TracerProvider()
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"))
        )
        self.tracer = self.provider.get_tracer("agentdock")
        self.children = 3 if shape == "full" else 1

    async def emit(self, events: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._add, events)

    def _add(self, events: list[dict[str, Any]]) -> None:
        from opentelemetry import trace

        for event in events:
            if event["event"] != "run_end":
                continue
            data = event["data"]
            start = data["start_unix_nano"]
            root = self.tracer.start_span(
                "invoke_agent bench",
                kind=trace.SpanKind.SERVER,
                start_time=start,
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "bench",
                    "gen_ai.request.model": data["model"],
                    "gen_ai.provider.name": data["provider"],
                    "gen_ai.usage.input_tokens": data["tokens_input"],
                    "gen_ai.usage.output_tokens": data["tokens_output"],
                    "agentdock.run_id": event["run_id"],
                    "agentdock.run.mode": data["mode"],
                    "agentdock.run.status": data["status"],
                },
            )
            context = trace.set_span_in_context(root)
            for name, attributes in (
                ("node upper", {"agentdock.node.name": "upper"}),
                ("execute_tool lookup", {"gen_ai.tool.name": "lookup"}),
                ("chat gpt-4o-mini", {"gen_ai.request.model": "gpt-4o-mini"}),
            )[: self.children]:
                child = self.tracer.start_span(
                    name, context=context, start_time=start, attributes=attributes
                )
                child.end(end_time=start + 1_000_000)
            root.end(end_time=data["end_unix_nano"])

    async def flush(self) -> None:
        await asyncio.to_thread(self.provider.force_flush)

    def shutdown(self) -> None:
        self.provider.shutdown()


def _measure(sinks: list[Any], runs: list[list[dict[str, Any]]], batch: int = 64) -> float:
    batches: list[list[dict[str, Any]]] = [[]]
    for events in runs:
        if batches[-1] and len(batches[-1]) + len(events) > batch:
            batches.append([])
        batches[-1].extend(events)

    async def go() -> None:
        for batch in batches:
            for sink in sinks:
                await sink.emit(batch)
        for sink in sinks:
            await sink.flush()

    started = time.process_time()
    asyncio.run(go())
    spent = time.process_time() - started
    for sink in sinks:
        sink.shutdown()
    return spent / len(runs) * 1e6


CASES = ("sdk", "otel", "langfuse", "otel+langfuse")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--shape",
        choices=("full", "echo"),
        default="full",
        help="runs of a node, a tool and a model call (full) or of one node (echo)",
    )
    parser.add_argument(
        "--sample",
        type=float,
        default=None,
        metavar="RATE",
        help="sample runs as docs/tracing.md recommends (OTEL_TRACES_SAMPLER="
        "parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=RATE, for every case); "
        "0: what a run that is not sampled costs",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=64,
        metavar="EVENTS",
        help="events handed to a sink at once (whole runs; default 64, as a busy drain); "
        "1: each run alone, as a server at low concurrency hands them over",
    )
    args = parser.parse_args()
    if args.sample is not None:
        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = str(args.sample)
    os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", str(args.runs * 4))  # nothing dropped
    report = validate(DOCUMENT, skip_imports=True)
    assert report.ok, [f.one_line() for f in report.errors]
    spec = report.spec
    port = multiprocessing.Value("i", 0)
    received = multiprocessing.Value("q", 0)
    server = multiprocessing.Process(target=_serve, args=(port, received), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port.value}"
    best: dict[str, float] = {}
    sent: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        for _ in range(args.trials):
            for case in CASES:
                if case == "sdk":
                    sinks = [_SdkSink(url, args.shape)]
                else:
                    sinks = _sinks(spec, case, url, Path(scratch))
                before = received.value
                cost = _measure(sinks, _runs(args.runs, args.shape), args.batch)
                best[case] = min(best.get(case, cost), cost)
                sent[case] = received.value - before
    server.terminate()
    base = best["sdk"]
    print(f"{'case':<15} {'CPU µs/run':>11} {'vs SDK':>7} {'bytes sent':>12}")
    for case in CASES:
        print(f"{case:<15} {best[case]:>11.1f} {best[case] / base:>6.2f}x {sent[case]:>12,}")
    print("goal: <= 40 µs a run for each backend and for both together")


if __name__ == "__main__":
    main()
