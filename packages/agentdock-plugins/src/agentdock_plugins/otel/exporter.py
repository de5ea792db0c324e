"""The SDK's OTLP/HTTP span exporter, encoding with :mod:`agentdock_plugins.otel.wire`.

Everything but the encoding is the SDK's: the endpoint, ``OTEL_EXPORTER_OTLP_*`` headers,
timeout, compression and certificates, the retries with backoff on 429/5xx and the size
limit. Should a later SDK rearrange its internals, the exporter falls back to the SDK's own
encoding rather than failing. The private attributes it reads (``_client``, ``_shutdown``,
``_max_request_size``) are why the package's pyproject bounds the exporter's version above;
tests/unit/test_private_apis.py checks them, and the bound, on the installed SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from agentdock_plugins.otel.wire import encode_request

__all__ = ["OtlpHttpExporter"]

log = logging.getLogger("agentdock.otel")


class OtlpHttpExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` with a cheaper encoder for AgentDock's spans."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        client = getattr(self, "_client", None)
        if client is None or not hasattr(client, "export") or getattr(self, "_shutdown", False):
            return super().export(spans)
        data = encode_request(spans)
        limit = getattr(self, "_max_request_size", None)
        if isinstance(limit, int) and len(data) > limit:  # the SDK's own bound on a request
            log.warning("a span batch of %d bytes is over max_request_size; dropped", len(data))
            return SpanExportResult.FAILURE
        try:
            outcome = client.export(data)
        except Exception as exc:  # the SDK's client reports failures; this is a bug guard
            log.warning("span export failed (%s)", type(exc).__name__)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if outcome.success else SpanExportResult.FAILURE
