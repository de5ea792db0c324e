"""CPU a run costs the tracing sinks, with the SDK's span processor and with AgentDock's.

    uv run python benchmarks/trace_sinks.py [--runs 3000] [--trials 3]

The OpenTelemetry and LangFuse sinks build each run's spans, queue them, encode them and
POST them to an endpoint that answers 200 at once (a child process, so its CPU is not
counted). Each sink runs twice in the same process: with the SDK's queue
(``BatchSpanProcessor``, the LangFuse SDK's ``LangfuseSpanProcessor``) and with
AgentDock's :class:`~agentdock_plugins.otel.batching.RunBatchProcessor` (whole runs, every
loss counted). Runs are handed over as the telemetry drain does, 64 events at a time, four
events a run (run_end, a node, a tool, a model call); each figure is the process CPU time
(every thread: building, queueing, encoding, sending) per run, best of the trials, and the
ratio of AgentDock's queue to the SDK's.
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
from agentdock_plugins.langfuse.config import LangfuseSettings
from agentdock_plugins.langfuse.sink import LangfuseSink
from agentdock_plugins.otel.exporter import OtlpHttpExporter
from agentdock_plugins.otel.sink import OtelSink
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


def _runs(count: int) -> list[list[dict[str, Any]]]:
    out = []
    for _ in range(count):
        run_id = os.urandom(16).hex()
        span = new_span_id()
        start = time.time_ns()

        def event(name: str, data: dict[str, Any], run_id: str = run_id, span: str = span) -> Any:
            return envelope(name, "bench", data, run_id=run_id, trace_id=run_id, span_id=span)

        step = {"status": "ok", "duration_ms": 1.0, "start_unix_nano": start}
        out.append(
            [
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
        )
    return out


def _otel(spec: Any, url: str, sdk: bool) -> OtelSink:
    if not sdk:
        return OtelSink(spec, endpoint=f"{url}/v1/traces")
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = OtlpHttpExporter(endpoint=f"{url}/v1/traces")
    return OtelSink(spec, processor=BatchSpanProcessor(exporter))


def _langfuse(spec: Any, url: str, sdk: bool, scratch: Path) -> OtelSink:
    settings = LangfuseSettings(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        host=url,
        buffer_path=scratch / f"buffer-{time.monotonic_ns()}.db",
    )
    sink = LangfuseSink(spec, settings)
    if not sdk:
        return sink
    from langfuse._client.span_processor import LangfuseSpanProcessor

    # The sink's own queue starts no thread before its first run: just replace it.
    processor = LangfuseSpanProcessor(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        base_url=url,
        span_exporter=sink.exporter,
        should_export_span=lambda span: True,  # as the sink's own filter did: all are ours
    )
    sink.processor = processor
    sink.provider = type(sink.provider)(resource=sink.provider.resource)
    sink.provider.add_span_processor(processor)
    sink.builder._processor = processor
    sink.builder._add_run = None
    return sink


def _measure(sink: OtelSink, runs: list[list[dict[str, Any]]]) -> float:
    batches: list[list[dict[str, Any]]] = [[]]
    for events in runs:
        if len(batches[-1]) + len(events) > 64:
            batches.append([])
        batches[-1].extend(events)

    async def go() -> None:
        for batch in batches:
            await sink.emit(batch)
        await sink.flush()

    started = time.process_time()
    asyncio.run(go())
    spent = time.process_time() - started
    sink.shutdown()
    return spent / len(runs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
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
    best: dict[tuple[str, str], float] = {}
    sent: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        for _ in range(args.trials):
            for sink_name in ("otel", "langfuse"):
                for queue in ("sdk", "agentdock"):
                    sdk = queue == "sdk"
                    if sink_name == "otel":
                        sink = _otel(spec, url, sdk)
                    else:
                        sink = _langfuse(spec, url, sdk, Path(scratch))
                    before = received.value
                    cost = _measure(sink, _runs(args.runs))
                    key = (sink_name, queue)
                    best[key] = min(best.get(key, cost), cost)
                    sent[key] = received.value - before
    server.terminate()
    print(f"{'sink':<10} {'SDK queue':>12} {'AgentDock':>12} {'ratio':>7}   (CPU µs per run)")
    for sink_name in ("otel", "langfuse"):
        sdk, ours = best[(sink_name, "sdk")], best[(sink_name, "agentdock")]
        print(f"{sink_name:<10} {sdk:>12.1f} {ours:>12.1f} {ours / sdk:>6.2f}x")
    print("bytes received in the last trial (the same spans either way):")
    for (sink_name, queue), size in sent.items():
        print(f"  {sink_name:<10} {queue:<10} {size:,}")


if __name__ == "__main__":
    main()
