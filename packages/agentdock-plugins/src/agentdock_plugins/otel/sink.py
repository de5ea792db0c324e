"""The OpenTelemetry sink: events in, GenAI spans out over OTLP/HTTP.

Each sink owns its ``TracerProvider`` (never the process-wide one, which the agent's own
code may have configured) and a :class:`~agentdock_plugins.otel.batching.RunBatchProcessor`:
building a run's spans only queues them, and the processor's thread does the network I/O,
retries included, so neither the request path nor the event loop waits on a collector. The
sink has no buffer: a run lost to a full queue or a failed export (a collector that is down,
slow past ``OTEL_EXPORTER_OTLP_TIMEOUT``, or refusing) is counted in :attr:`OtelSink.dropped`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from agentdock_plugins.otel.batching import QueueStats, RunBatchProcessor, batch_settings
from agentdock_plugins.otel.config import build_resource
from agentdock_plugins.otel.spans import RunSpanBuilder, SpanFlavor

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["FLUSH_TIMEOUT_MS", "INSTRUMENTATION_SCOPE", "OtelSink"]

#: How long ``flush`` lets the processor export what it holds: within the runtime's own
#: 5-second bound on a sink's flush at shutdown, so the sink decides what becomes of the rest.
FLUSH_TIMEOUT_MS = 4_000
#: The instrumentation scope of every span AgentDock builds.
INSTRUMENTATION_SCOPE = "agentdock"


class OtelSink:
    """Builds each run's span tree when its ``run_end`` arrives and hands it to an exporter.

    :param spec: the resolved ``DockSpec`` (agent name and version for the resource).
    :param exporter: where spans go; the OTLP/HTTP exporter for ``endpoint`` by default.
    :param endpoint: the OTLP/HTTP traces URL (used when ``exporter`` is not given).
    :param flavor: adds a backend's own attributes and spans (LangFuse).
    :param processor: a span processor to use instead of a ``RunBatchProcessor`` reading
        ``OTEL_BSP_*``.
    :param sampler: the sampler; ``None`` reads ``OTEL_TRACES_SAMPLER`` (parent-based, on).
    """

    #: The runs go to a telemetry backend (the local collector then stays away).
    exports_runs = True

    def __init__(
        self,
        spec: DockSpec,
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
        if processor is None:
            assert exporter is not None
            processor = RunBatchProcessor(exporter, batch_settings(os.environ))
        self.processor = processor
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
        """Export what is queued (the runtime calls this at shutdown); what the bound does not
        allow is spilled (LangFuse: to its buffer) or counted lost, never dropped silently."""
        settle = getattr(self.processor, "settle", None)
        if callable(settle):
            await asyncio.to_thread(settle, FLUSH_TIMEOUT_MS)
        else:
            await asyncio.to_thread(self.provider.force_flush, FLUSH_TIMEOUT_MS)

    def shutdown(self) -> None:
        """Flush and stop the processor thread (the runtime calls ``flush``; tests call this)."""
        self.provider.shutdown()

    @property
    def dropped(self) -> int:
        """Telemetry events this sink took and lost: past the builder's bounds, or in runs
        the span queue dropped (full, export failed, shutdown). The runtime reports it per
        sink (``agentdock_telemetry_events_dropped_total``)."""
        queue = getattr(self.processor, "stats", None)
        lost = queue.dropped if isinstance(queue, QueueStats) else 0
        return self.builder.dropped + lost

    @property
    def stats(self) -> dict[str, int]:
        """Runs built, runs waiting for their end, and losses: ``dropped`` (all, in events)
        and by cause (``dropped_bounds``, ``dropped_queue_full``, ``dropped_export``,
        ``dropped_shutdown``), runs exported, runs lost, runs spilled to an overflow."""
        out = {
            "runs": self.builder.runs,
            "waiting": self.builder.waiting,
            "dropped": self.dropped,
            "dropped_bounds": self.builder.dropped,
        }
        queue = getattr(self.processor, "stats", None)
        if isinstance(queue, QueueStats):
            out.update(
                exported_runs=queue.exported,
                lost_runs=queue.lost_runs,
                spilled=queue.spilled,
                dropped_queue_full=queue.dropped_full,
                dropped_export=queue.failed,
                dropped_shutdown=queue.shutdown,
            )
        return out

    def __repr__(self) -> str:
        return f"OtelSink(endpoint={self.endpoint!r})"
