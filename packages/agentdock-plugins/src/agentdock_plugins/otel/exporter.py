"""The SDK's OTLP/HTTP span exporter, sending spans :mod:`agentdock_plugins.otel.wire` encoded.

Everything but the encoding is the SDK's: the endpoint, ``OTEL_EXPORTER_OTLP_*`` headers,
timeout, compression and certificates, the retries with backoff on 429/5xx and the size
limit. One default differs: with no ``OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`` requests are
gzip-compressed here at level 1 (the SDK sends them uncompressed, and its gzip is level 9),
as every collector accepts gzip. Should a
later SDK rearrange its internals, the exporter falls back to the SDK's own encoding for
``ReadableSpan`` objects, and counts batches of encoded spans as failed exports, rather than
raise. The private attributes it reads (``_client``, ``_shutdown``, ``_max_request_size``,
the client's ``_headers``) are why the package's pyproject bounds the exporter's version
above; tests/unit/test_private_apis.py checks them, and the bound, on the installed SDK.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from agentdock_plugins.otel.wire import (
    GZIP_LEVEL,
    Head,
    encode_request,
    gzip_request,
    request,
)

__all__ = ["COMPRESSION_ENVS", "OtlpHttpExporter"]

#: Set either, and the SDK's reading of it wins over the gzip default.
COMPRESSION_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")

log = logging.getLogger("agentdock.otel")


class OtlpHttpExporter(OTLPSpanExporter):
    """``OTLPSpanExporter`` sending spans encoded once by the trace sink.

    :param head: the encoded resource and scope of the sink's requests
        (:func:`~agentdock_plugins.otel.wire.encode_head`).
    """

    def __init__(self, *, head: Head | None = None, **kwargs: Any) -> None:
        # The SDK's gzip runs at level 9; AgentDock's spans compress as well at level 1 in
        # a third of the CPU, so by default this exporter compresses them itself.
        own_gzip = "compression" not in kwargs and not any(
            os.environ.get(name) for name in COMPRESSION_ENVS
        )
        if own_gzip:
            kwargs["compression"] = Compression.NoCompression
        super().__init__(**kwargs)
        self.head = head
        headers = getattr(getattr(self, "_client", None), "_headers", None)
        #: Whether requests are compressed here (else as the SDK's compression setting says).
        self.gzip = own_gzip and isinstance(headers, dict)
        if self.gzip:
            assert isinstance(headers, dict)
            headers["Content-Encoding"] = "gzip"

    def export_runs(self, spans: Sequence[bytes], events: int) -> SpanExportResult:
        """Send encoded spans (:func:`~agentdock_plugins.otel.wire.span_bytes`) as one request."""
        assert self.head is not None, "an exporter of encoded spans needs the sink's head"
        if self.gzip:  # compressed once for every target of the pipeline
            return self._post(*gzip_request(self.head, spans))
        return self._send(request(self.head, spans))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        client = getattr(self, "_client", None)
        if client is None or not hasattr(client, "export") or getattr(self, "_shutdown", False):
            return super().export(spans)
        return self._send(encode_request(spans))

    def _send(self, data: bytes) -> SpanExportResult:
        size = len(data)
        if self.gzip:
            data = gzip.compress(data, compresslevel=GZIP_LEVEL)
        return self._post(data, size)

    def _post(self, data: bytes, size: int) -> SpanExportResult:
        """Send a request body (compressed as configured) of ``size`` bytes uncompressed."""
        client = getattr(self, "_client", None)
        if client is None or not hasattr(client, "export") or getattr(self, "_shutdown", False):
            return SpanExportResult.FAILURE
        limit = getattr(self, "_max_request_size", None)
        if isinstance(limit, int) and size > limit:  # the SDK's own bound on a request
            log.warning("a span batch of %d bytes is over max_request_size; dropped", size)
            return SpanExportResult.FAILURE
        try:
            outcome = client.export(data)
        except Exception as exc:  # the SDK's client reports failures; this is a bug guard
            log.warning("span export failed (%s)", type(exc).__name__)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if outcome.success else SpanExportResult.FAILURE
