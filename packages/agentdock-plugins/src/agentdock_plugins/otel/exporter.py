"""The SDK's OTLP/HTTP span exporter, sending spans :mod:`agentdock_plugins.otel.wire` encoded.

Everything but the encoding and the HTTP connection is the SDK's: the endpoint,
``OTEL_EXPORTER_OTLP_*`` headers, timeout and compression, the retries with backoff on
429/5xx (and ``Retry-After``) and the size limit. Requests go through a
:class:`~agentdock_plugins.otel.poster.Poster` handed to the SDK as its transport: one
connection kept open, the proxy variables read once when the sink is built (the SDK's
``requests`` session read them on every POST, a third of a request's CPU), certificates from
``OTEL_EXPORTER_OTLP_(TRACES_)CERTIFICATE``, ``..._CLIENT_CERTIFICATE`` and
``..._CLIENT_KEY`` as the SDK reads them, else ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (which
the SDK's ``requests`` session honoured), else certifi's bundle. With a credential provider
(``OTEL_PYTHON_EXPORTER_OTLP_HTTP_(TRACES_)CREDENTIAL_PROVIDER``) or a ``session`` given, the
SDK's ``requests`` transport is kept: that session is what authenticates.

One default differs: with no ``OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`` requests are
gzip-compressed here at level 1 (the SDK sends them uncompressed, and its gzip is level 9),
as every collector accepts gzip. Should a
later SDK rearrange its internals, the exporter falls back to the SDK's own encoding for
``ReadableSpan`` objects, and counts batches of encoded spans as failed exports, rather than
raise. The private attributes it reads (``_client``, ``_shutdown``, ``_max_request_size``,
the client's ``_headers``, the ``_transport`` argument and its base class) are why the
package's pyproject bounds the exporter's version above; tests/unit/test_private_apis.py
checks them, and the bound, on the installed SDK.
"""

from __future__ import annotations

import gzip
import inspect
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from opentelemetry.exporter.http.transport._base import BaseHTTPResult, BaseHTTPTransport
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from agentdock_plugins.otel.poster import Answer, Poster
from agentdock_plugins.otel.wire import (
    GZIP_LEVEL,
    Head,
    encode_request,
    gzip_request,
    request,
)

__all__ = ["COMPRESSION_ENVS", "OtlpHttpExporter", "PosterTransport", "poster_for"]

#: Set either, and the SDK's reading of it wins over the gzip default.
COMPRESSION_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")

log = logging.getLogger("agentdock.otel")

#: Set either, and the SDK builds its ``requests`` transport around the provider's session.
_CREDENTIAL_ENVS = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
)
#: What reaches no endpoint at all: the SDK re-sends once at once, then backs off.
_CONNECTION_ERRORS = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.MaxRetryError,
)
#: Whether the installed SDK's exporter takes a transport (1.45 and later).
_TAKES_TRANSPORT = "_transport" in inspect.signature(OTLPSpanExporter.__init__).parameters


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


def poster_for(
    endpoint: str, kwargs: Mapping[str, Any], environ: Mapping[str, str]
) -> Poster | None:
    """The :class:`Poster` for the SDK exporter built with ``kwargs``, with the TLS files
    and timeout the SDK would read; ``None`` where the SDK's own transport must stay (a
    ``session`` or a credential provider, or an SDK that takes no transport)."""
    if not _TAKES_TRANSPORT or kwargs.get("session") is not None:
        return None
    if any(environ.get(name) for name in _CREDENTIAL_ENVS):
        return None
    ca_file = kwargs.get("certificate_file") or _first(
        environ,
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    )
    client_cert = kwargs.get("client_certificate_file") or _first(
        environ,
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    )
    client_key = kwargs.get("client_key_file") or _first(
        environ, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY"
    )
    timeout = kwargs.get("timeout")
    return Poster(
        endpoint,
        timeout_s=float(timeout) if isinstance(timeout, int | float) else 10.0,
        ca_file=ca_file,
        client_cert=client_cert,
        client_key=client_key,
    )


@dataclass(frozen=True, slots=True)
class _Result(BaseHTTPResult):
    answer: Answer | None = None

    def content(self) -> bytes:
        return self.answer.body if self.answer is not None else b""

    def headers(self) -> Mapping[str, str]:
        return self.answer.headers if self.answer is not None else {}


class PosterTransport(BaseHTTPTransport):
    """The SDK's transport interface over a :class:`Poster` (the URL is the poster's)."""

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        data: bytes | None = None,
    ) -> BaseHTTPResult:
        try:
            answer = self.poster.post(data or b"", headers or {}, timeout_s=timeout)
        except Exception as error:  # the SDK's loop reads the error: retry or give up
            return _Result(error=error)
        return _Result(status_code=answer.status, reason=answer.reason, answer=answer)

    def is_connection_error(self, exception: Exception | None) -> bool:
        return isinstance(exception, _CONNECTION_ERRORS)

    def close(self) -> None:
        self.poster.close()


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
        endpoint = kwargs.get("endpoint")
        if endpoint and "_transport" not in kwargs:
            poster = poster_for(endpoint, kwargs, os.environ)
            if poster is not None:
                kwargs["_transport"] = PosterTransport(poster)
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
