"""The LangFuse sink: the OpenTelemetry span tree, LangFuse-flavoured, through the SDK.

The spans are built as for OpenTelemetry (same trace and span ids, so a trace has the same
id in LangFuse as in any other backend and in ``x-trace-id``) and handed to the LangFuse
SDK's span processor (its bounded queue, batching and ``LANGFUSE_FLUSH_AT`` /
``LANGFUSE_FLUSH_INTERVAL``), with AgentDock's spooling exporter in place of the SDK's.
"""

from __future__ import annotations

import logging
from typing import Any

from agentdock_plugins.langfuse.attributes import LangfuseFlavor
from agentdock_plugins.langfuse.buffer import SpanBuffer
from agentdock_plugins.langfuse.config import LangfuseSettings
from agentdock_plugins.langfuse.exporter import SpoolingExporter
from agentdock_plugins.otel.sink import INSTRUMENTATION_SCOPE, OtelSink

__all__ = ["LangfuseSink"]

log = logging.getLogger("agentdock.langfuse")


def _ours(span: Any) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name == INSTRUMENTATION_SCOPE


class LangfuseSink(OtelSink):
    """Runs as LangFuse traces, spooled to a local buffer while LangFuse is away."""

    def __init__(self, spec: Any, settings: LangfuseSettings) -> None:
        from langfuse import __version__ as sdk_version
        from langfuse._client.span_processor import LangfuseSpanProcessor

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
        processor = LangfuseSpanProcessor(
            public_key=settings.public_key,
            secret_key=settings.secret_key,
            base_url=settings.host,
            span_exporter=self.exporter,
            should_export_span=_ours,
        )
        flavor = LangfuseFlavor(environment=settings.environment, release=settings.release)
        sampler = None
        if settings.sample_rate < 1.0:
            from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

            # LANGFUSE_SAMPLE_RATE applies whatever the caller's traceparent says.
            sampler = TraceIdRatioBased(settings.sample_rate)
        super().__init__(spec, processor=processor, flavor=flavor, sampler=sampler)
        self.endpoint = self.exporter.endpoint

    @property
    def stats(self) -> dict[str, int]:
        """Runs, builder drops, and batches by fate (sent, spooled, re-sent, lost...)."""
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
            )
        return out

    def __repr__(self) -> str:
        return f"LangfuseSink(endpoint={self.endpoint!r})"
