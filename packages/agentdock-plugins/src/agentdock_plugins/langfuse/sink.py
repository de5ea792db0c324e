"""The LangFuse target of the trace sink, spooled when LangFuse is away.

LangFuse ingests OTLP, so a run's LangFuse trace is the OpenTelemetry span tree with
LangFuse's attributes (:mod:`agentdock_plugins.langfuse.attributes`): same trace and span
ids, so a trace has the same id in LangFuse as in any other backend and in ``x-trace-id``.
When an OpenTelemetry collector is configured as well, LangFuse is attached to its sink
(:meth:`~agentdock_plugins.otel.sink.OtelSink.attach`): each run is built and encoded once
and the same span bytes go to both; this sink then only reports LangFuse's losses and
flushes its queue. Alone, it builds the runs itself.

Either way the runs queue, whole, in a :class:`~agentdock_plugins.otel.batching.RunBatchProcessor`
(batches of ``LANGFUSE_FLUSH_AT`` spans every ``LANGFUSE_FLUSH_INTERVAL`` seconds, as the
SDK's processor batches) for AgentDock's spooling exporter. The SDK's own processor is not
used: its queue drops spans uncounted while an export waits on a slow LangFuse. Here a full
queue goes to the offline buffer, like a batch LangFuse did not answer in time.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from agentdock_plugins.langfuse.attributes import LangfuseFlavor
from agentdock_plugins.langfuse.buffer import SpanBuffer
from agentdock_plugins.langfuse.config import LangfuseSettings
from agentdock_plugins.langfuse.exporter import SpoolingExporter
from agentdock_plugins.otel.batching import RunBatchProcessor, batch_settings
from agentdock_plugins.otel.sink import OtelSink

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["LangfuseSink"]

log = logging.getLogger("agentdock.langfuse")

#: The SDK's variables for its batching, read the same way.
FLUSH_AT_ENV = "LANGFUSE_FLUSH_AT"
FLUSH_INTERVAL_ENV = "LANGFUSE_FLUSH_INTERVAL"


class LangfuseSink(OtelSink):
    """Runs as LangFuse traces, spooled to a local buffer while LangFuse is away.

    :param carrier: the OpenTelemetry sink built before for the same spec, to join (it builds
        every run once for both); ``None``: this sink builds the runs (and an OpenTelemetry
        sink built after it joins it).
    """

    target_name = "langfuse"

    def __init__(
        self, spec: DockSpec, settings: LangfuseSettings, *, carrier: OtelSink | None = None
    ) -> None:
        from langfuse import __version__ as sdk_version

        buffer: SpanBuffer | None
        try:
            buffer = SpanBuffer(
                settings.buffer_path,
                max_bytes=settings.max_bytes,
                retention_s=settings.retention_s,
            )
        except (OSError, Exception) as exc:  # no buffer is a degraded mode, not a crash
            log.warning(
                "LangFuse buffer at %s unavailable (%s); batches LangFuse cannot take are lost",
                settings.buffer_path,
                type(exc).__name__,
            )
            buffer = None
        self.exporter = SpoolingExporter(
            base_url=settings.host,
            public_key=settings.public_key,
            secret_key=settings.secret_key,
            buffer=buffer,
            timeout_s=settings.timeout_s,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            sdk_version=sdk_version,
        )
        batching = batch_settings(os.environ, batch_env=FLUSH_AT_ENV, delay_env=FLUSH_INTERVAL_ENV)
        overflow = self.exporter.spool_runs if buffer is not None else None
        processor = RunBatchProcessor(self.exporter, batching, overflow=overflow)
        flavor = LangfuseFlavor(environment=settings.environment, release=settings.release)
        sampler = None
        if settings.sample_rate < 1.0:
            from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

            # LANGFUSE_SAMPLE_RATE applies whatever the caller's traceparent says.
            sampler = TraceIdRatioBased(settings.sample_rate)
        super().__init__(spec, processor=processor, flavor=flavor, sampler=sampler, carrier=carrier)
        self.exporter.head = self.head
        self.endpoint = self.exporter.endpoint

    @property
    def dropped(self) -> int:
        """Telemetry events this sink took and lost: the builder's bounds and the span
        queue's losses (as for OpenTelemetry), plus runs the buffer kept and then lost
        (made room, expired, refused on a re-send)."""
        buffer = self.exporter.buffer
        return super().dropped + (buffer.stats.events_dropped if buffer is not None else 0)

    @property
    def stats(self) -> dict[str, int]:
        """The OpenTelemetry sink's counters (``dropped`` here includes the buffer's losses),
        and batches by fate (sent, spooled, re-sent, refused, lost) and buffer drops."""
        out = dict(super().stats)
        exported = self.exporter.stats
        out.update(
            sent=exported.sent,
            spooled=exported.spooled,
            resent=exported.resent,
            rejected=exported.rejected,
            lost=exported.lost,
        )
        buffer = self.exporter.buffer
        if buffer is not None:
            out.update(
                buffer_dropped_full=buffer.stats.dropped_full,
                buffer_dropped_expired=buffer.stats.dropped_expired,
                buffer_dropped_disk=buffer.stats.dropped_disk,
                dropped_buffer=buffer.stats.events_dropped,
            )
        return out

    def __repr__(self) -> str:
        return f"LangfuseSink(endpoint={self.endpoint!r})"
