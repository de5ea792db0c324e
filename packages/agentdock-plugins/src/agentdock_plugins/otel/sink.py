"""The OpenTelemetry sink: events in, GenAI spans out over OTLP/HTTP.

Each sink owns its ``TracerProvider`` (never the process-wide one, which the agent's own
code may have configured) and a ``BatchSpanProcessor``: building a span only queues it, and
the processor's thread does the network I/O, retries included, so neither the request path
nor the event loop waits on a collector.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from agentdock_plugins.otel.config import build_resource
from agentdock_plugins.otel.spans import RunSpanBuilder, SpanFlavor

__all__ = ["FLUSH_TIMEOUT_MS", "INSTRUMENTATION_SCOPE", "OtelSink"]

#: How long ``flush`` lets the processor export what it holds.
FLUSH_TIMEOUT_MS = 5_000
#: The instrumentation scope of every span AgentDock builds.
INSTRUMENTATION_SCOPE = "agentdock"


class OtelSink:
    """Builds each run's span tree when its ``run_end`` arrives and hands it to an exporter.

    :param spec: the resolved ``DockSpec`` (agent name and version for the resource).
    :param exporter: where spans go; the OTLP/HTTP exporter for ``endpoint`` by default.
    :param endpoint: the OTLP/HTTP traces URL (used when ``exporter`` is not given).
    :param flavor: adds a backend's own attributes and spans (LangFuse).
    :param processor: a span processor to use instead of a ``BatchSpanProcessor``.
    :param sampler: the sampler; ``None`` reads ``OTEL_TRACES_SAMPLER`` (parent-based, on).
    """

    def __init__(
        self,
        spec: Any,
        *,
        endpoint: str | None = None,
        exporter: SpanExporter | None = None,
        flavor: SpanFlavor | None = None,
        processor: Any = None,
        sampler: Any = None,
    ) -> None:
        if exporter is None and processor is None:
            from agentdock_plugins.otel.exporter import OtlpHttpExporter

            exporter = OtlpHttpExporter(endpoint=endpoint)
        self.provider = TracerProvider(resource=build_resource(spec), sampler=sampler)
        processor = processor or BatchSpanProcessor(exporter)  # type: ignore[arg-type]
        self.provider.add_span_processor(processor)  # flush and shutdown go through it
        self.builder = RunSpanBuilder(
            processor,
            resource=self.provider.resource,
            sampler=self.provider.sampler,
            scope=INSTRUMENTATION_SCOPE,
            flavor=flavor,
        )
        self._lock = threading.Lock()
        self.endpoint = endpoint

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        # Building spans is CPU work (microseconds a span): a worker thread does it,
        # so a large batch never holds the event loop that serves requests.
        await asyncio.to_thread(self._add, events)

    def _add(self, events: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:  # a timed-out emit may still be running when the next one starts
            self.builder.add(events)

    async def flush(self) -> None:
        await asyncio.to_thread(self.provider.force_flush, FLUSH_TIMEOUT_MS)

    def shutdown(self) -> None:
        """Flush and stop the processor thread (the runtime calls ``flush``; tests call this)."""
        self.provider.shutdown()

    @property
    def stats(self) -> dict[str, int]:
        """Runs exported, events dropped by the bounds, runs still waiting for their end."""
        return {
            "runs": self.builder.runs,
            "dropped": self.builder.dropped,
            "waiting": self.builder.waiting,
        }

    def __repr__(self) -> str:
        return f"OtelSink(endpoint={self.endpoint!r})"
