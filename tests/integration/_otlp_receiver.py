"""An in-process OTLP/HTTP endpoint for tests: it decodes what arrives and can misbehave.

It speaks what the OpenTelemetry exporter (and the LangFuse SDK, which is built on it)
really sends: ``POST`` of a protobuf ``ExportTraceServiceRequest``, gzip-encoded or not.
``behaviour`` makes it answer a status code, hang past the client's timeout, stall (take
the request and answer nothing until :meth:`Receiver.release`), or refuse Basic credentials;
``stop()`` and ``start()`` on the same port simulate an outage.
"""

from __future__ import annotations

import base64
import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

if TYPE_CHECKING:
    import pytest

__all__ = ["Received", "Receiver", "Span", "decode_value", "stalled_collector"]


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    status_message: str
    resource: dict[str, Any]
    scope: str


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    spans: list[Span] = field(default_factory=list)


def decode_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [decode_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: decode_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which) if which else None


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: decode_value(kv.value) for kv in items}


def decode_spans(raw: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(raw)
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=_attributes(span.attributes),
                        events=[(e.name, _attributes(e.attributes)) for e in span.events],
                        status_code=span.status.code,
                        status_message=span.status.message,
                        resource=resource,
                        scope=scope_spans.scope.name,
                    )
                )
    return spans


class Receiver:
    """A threaded HTTP server collecting OTLP trace exports.

    :param path: the only path that accepts exports (others answer 404).
    :param basic_auth: ``(user, password)`` to require, or ``None``.
    """

    def __init__(self, path: str = "/v1/traces", basic_auth: tuple[str, str] | None = None):
        self.path = path
        self.expected_auth = (
            "Basic " + base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            if basic_auth
            else None
        )
        self.received: list[Received] = []
        self.attempts = 0
        self.unauthorized = 0
        #: ``"ok"``, an HTTP status code to answer, ``"hang"`` (sleep ``hang_s``, then 200), or
        #: ``"stall"`` (read the request, then answer nothing until :meth:`release`).
        self.behaviour: str | int = "ok"
        self.hang_s = 2.0
        #: Requests stalled so far, and whether :meth:`release` lets them land.
        self.stalled = 0
        self._land_stalled = False
        self._released = threading.Event()
        self.retry_after: str | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", port or self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.behaviour == "stall":
            self.release(land=False)  # no handler thread outlives the test
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self, *, land: bool) -> None:
        """End a stall: from now on answer as usual. The stalled requests then either land
        (stored and answered late, as a backend that was only slow) or are cut off unanswered
        and unstored (as a backend that restarted)."""
        with self._lock:
            self.behaviour = "ok"
            self._land_stalled = land
        self._released.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what arrived ------------------------------------------------------------------------

    @property
    def spans(self) -> list[Span]:
        with self._lock:
            return [span for item in self.received for span in item.spans]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return bool(predicate())

    # -- handling ----------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self._lock:
            self.attempts += 1
            behaviour = self.behaviour
        if handler.path != self.path:
            self._answer(handler, 404)
            return
        if self.expected_auth and handler.headers.get("Authorization") != self.expected_auth:
            with self._lock:
                self.unauthorized += 1
            self._answer(handler, 401)
            return
        if isinstance(behaviour, int):
            self._answer(handler, behaviour)
            return
        if behaviour == "hang":
            time.sleep(self.hang_s)
        if behaviour == "stall":
            with self._lock:
                self.stalled += 1
            self._released.wait()
            if not self._land_stalled:
                handler.close_connection = True
                return
        raw = gzip.decompress(body) if handler.headers.get("Content-Encoding") == "gzip" else body
        item = Received(
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            raw,
            decode_spans(raw),
        )
        with self._lock:
            self.received.append(item)
        payload = ExportTraceServiceResponse().SerializeToString()
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/x-protobuf")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:  # the client gave up waiting
            pass

    def _answer(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        try:
            handler.send_response(status)
            if status == 429 and self.retry_after is not None:
                handler.send_header("Retry-After", self.retry_after)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        except OSError:
            pass


def stalled_collector(monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """A started receiver that takes requests and answers none (until
    :meth:`Receiver.release`), and an OpenTelemetry sink configuration that a flood of runs
    outruns meanwhile: a queue of 64 spans sent 16 at a time every 50 ms, each export
    timing out after 0.3 s."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.3")
    collector = Receiver().start()
    collector.behaviour = "stall"
    return collector
