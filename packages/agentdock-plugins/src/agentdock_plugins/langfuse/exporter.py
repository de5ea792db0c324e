"""The span exporter of the LangFuse sink: send now, or spool and send later.

The SDK's own exporter (OTLP/HTTP) gives up on a batch after a short retry, which loses
traces whenever LangFuse is down for longer. This one sends the same request (OTLP/HTTP
protobuf, gzip, Basic auth, the SDK's headers) to ``/api/public/otel/v1/traces`` over one
kept-open connection (:class:`~agentdock_plugins.otel.poster.Poster`: the proxy variables
read once at start, certificates checked against ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set,
as the SDK's ``httpx`` client read them, else certifi's bundle); when
LangFuse is unreachable, slow (past ``timeout_s``), or answers 429 or 5xx, it stores the
encoded request in the :class:`~agentdock_plugins.langfuse.buffer.SpanBuffer` instead, and
a background thread re-sends the buffer, oldest first, with exponential backoff (and
``Retry-After`` when LangFuse gives one). While the buffer holds anything, new batches join
it, so they reach LangFuse in order and a down endpoint is not hammered. Runs the span queue
cannot hold while a request waits on a slow LangFuse come here too (:meth:`spool_runs`):
a slow LangFuse is handled like a down one.

Every request carries an ``x-agentdock-batch-id`` header that stays the same across re-sends,
and a re-send is byte-for-byte the first request. A batch whose answer was lost (a timeout
after LangFuse took it) is sent again: LangFuse stores observations by their id (the span
id, upserted), so the second copy replaces the first rather than adding to it. Otherwise a
batch goes either to LangFuse or to the buffer, except one still waiting on LangFuse when the
runtime stops: the span queue buffers it too, in case it never landed.

Everything here runs on the span queue's thread, the sink's worker thread (overflow) or the
re-send thread; nothing on the request path or the event loop. The keys live only in the
prepared ``Authorization`` header: never in a row, a log line or an error.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import urllib3
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentdock_plugins.langfuse.buffer import LEASE_S, SpanBuffer
from agentdock_plugins.otel.poster import Answer, Poster
from agentdock_plugins.otel.wire import GZIP_LEVEL, Head, encode_request, gzip_request
from agentdock_plugins.privaterandom import RANDOM

__all__ = ["BATCH_ID_HEADER", "TRACES_PATH", "ExportStats", "SpoolingExporter"]

log = logging.getLogger("agentdock.langfuse")

TRACES_PATH = "/api/public/otel/v1/traces"
BATCH_ID_HEADER = "x-agentdock-batch-id"
#: Rows re-sent per pass of the re-send thread.
_RESEND_BATCH = 16
#: How long the re-send thread sleeps when the buffer is empty.
_IDLE_S = 30.0


class _Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass
class ExportStats:
    """Batches by fate since start-up. A batch LangFuse refuses on its first send, or that
    cannot be kept (``lost``), makes ``export_runs`` fail: the span queue counts its events.
    One refused on a re-send, like every other loss of a buffered batch, is counted by the
    buffer."""

    sent: int = 0
    spooled: int = 0
    resent: int = 0
    rejected: int = 0
    lost: int = 0


class SpoolingExporter(SpanExporter):
    """An OTLP/HTTP exporter for LangFuse with an on-disk retry buffer.

    :param base_url: the LangFuse host (``https://cloud.langfuse.com``).
    :param public_key: LangFuse public key (goes into the ``Authorization`` header only).
    :param secret_key: LangFuse secret key (likewise).
    :param buffer: where batches wait; ``None`` drops them (counted as lost) instead.
    :param timeout_s: how long one POST may take before the batch is spooled.
    :param backoff_base_s: the first re-send delay; it doubles per failed pass.
    :param backoff_max_s: the longest re-send delay.
    :param sdk_version: sent as ``x-langfuse-sdk-version``, as the SDK does.
    :param head: the encoded resource and scope of the sink's requests; spans come encoded
        (:func:`~agentdock_plugins.otel.wire.span_bytes`) to :meth:`export_runs`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        public_key: str,
        secret_key: str,
        buffer: SpanBuffer | None,
        timeout_s: float = 5.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 300.0,
        sdk_version: str = "",
        head: Head | None = None,
    ) -> None:
        self.head = head
        self.endpoint = base_url.rstrip("/") + TRACES_PATH
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "x-langfuse-sdk-name": "python",
            "x-langfuse-sdk-version": sdk_version,
            "x-langfuse-public-key": public_key,
            "x-langfuse-ingestion-version": "4",
        }
        self.buffer = buffer
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.stats = ExportStats()
        #: Guards ``stats`` and the re-send thread's start: the span queue's thread and the
        #: sink's worker thread (overflow) both spool.
        self._lock = threading.Lock()
        self._poster = Poster(
            self.endpoint,
            timeout_s=timeout_s,
            ca_file=os.environ.get("SSL_CERT_FILE") or None,
            ca_dir=os.environ.get("SSL_CERT_DIR") or None,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failures = 0
        self._not_before = 0.0
        self._resender: threading.Thread | None = None
        if buffer is not None and buffer.pending():
            self._start_resender()

    def __repr__(self) -> str:
        return f"SpoolingExporter(endpoint={self.endpoint!r})"

    # -- SpanExporter ------------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """The SDK's interface: ``ReadableSpan`` objects, one event each."""
        body = gzip.compress(encode_request(spans), compresslevel=GZIP_LEVEL)
        return self._deliver(body, len(spans))

    def export_runs(self, spans: Sequence[bytes], events: int) -> SpanExportResult:
        """Send encoded ``spans`` (built from ``events`` telemetry events), or spool them.

        ``SUCCESS``: LangFuse took the batch, or the buffer holds it. ``FAILURE``: LangFuse
        refused it for good, or it could not be kept (no buffer, disk full).
        """
        return self._deliver(self._body(spans), events)

    def _body(self, spans: Sequence[bytes]) -> bytes:
        assert self.head is not None, "an exporter of encoded spans needs the sink's head"
        return gzip_request(self.head, spans)[0]  # compressed once for every target

    def _deliver(self, body: bytes, events: int) -> SpanExportResult:
        batch_id = uuid.uuid4().hex
        if self.buffer is not None and (self._failures or self.buffer.pending()):
            return self._spool(batch_id, body, events)
        outcome = self._post(batch_id, body)
        if outcome is _Outcome.SENT:
            self._count("sent")
            return SpanExportResult.SUCCESS
        if outcome is _Outcome.REJECTED:
            self._count("rejected")
            return SpanExportResult.FAILURE
        self._failed()
        return self._spool(batch_id, body, events)

    def spool_runs(self, spans: Sequence[bytes], events: int) -> bool:
        """Put a batch of encoded spans straight into the buffer (the span queue's overflow
        while a request waits on LangFuse); ``False`` when it could not be kept (counted as
        lost)."""
        body = self._body(spans)
        return self._spool(uuid.uuid4().hex, body, events) is SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._resender is not None:
            self._resender.join(timeout=self.timeout_s + 1.0)
        self._poster.close()
        if self.buffer is not None:
            self.buffer.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Try the buffer once now (LangFuse may be back); never waits past the bound."""
        if self.buffer is None or not self.buffer.pending():
            return True
        self._not_before = 0.0
        self._wake.set()
        return True

    # -- sending -----------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _spool(self, batch_id: str, body: bytes, events: int) -> SpanExportResult:
        if self.buffer is None or not self.buffer.put(batch_id, body, events=events):
            self._count("lost")
            return SpanExportResult.FAILURE
        self._count("spooled")
        self._start_resender()
        return SpanExportResult.SUCCESS

    def _post(self, batch_id: str, body: bytes) -> _Outcome:
        headers = {**self._headers, BATCH_ID_HEADER: batch_id}
        try:
            try:
                answer = self._poster.post(body, headers)
            except urllib3.exceptions.ProtocolError:
                # The kept connection was closed by the other end (an idle timeout, a
                # restart): sent again once on a new one, as the SDK's exporter does.
                answer = self._poster.post(body, headers)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._note("LangFuse unreachable (%s); batch kept for a re-send", type(exc).__name__)
            return _Outcome.RETRY
        status = answer.status
        if 200 <= status < 300:
            return _Outcome.SENT
        if status in (408, 429) or status >= 500:
            self._retry_after(answer)
            self._note("LangFuse answered %d; batch kept for a re-send", status)
            return _Outcome.RETRY
        log.warning("LangFuse refused a batch (HTTP %d); dropped", status)
        return _Outcome.REJECTED

    def _retry_after(self, answer: Answer) -> None:
        value = answer.headers.get("retry-after")
        if not value:
            return
        try:
            delay = float(value)
        except ValueError:
            try:
                delay = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return
        if delay > 0:
            self._not_before = time.monotonic() + min(delay, self.backoff_max_s)

    def _note(self, message: str, detail: Any) -> None:
        # The first failure of an outage is a warning; the rest are debug noise.
        if self._failures == 0:
            log.warning(message, detail)
        else:
            log.debug(message, detail)

    def _failed(self) -> None:
        self._failures += 1

    def _delay(self) -> float:
        if not self._failures:
            return 0.0
        doublings = min(self._failures - 1, 40)  # a days-long outage must not overflow
        delay = min(self.backoff_max_s, self.backoff_base_s * float(2**doublings))
        return float(delay * RANDOM.uniform(0.8, 1.0))

    # -- the re-send thread ------------------------------------------------------------------

    def _start_resender(self) -> None:
        with self._lock:
            if self._resender is not None and self._resender.is_alive():
                self._wake.set()
                return
            self._resender = threading.Thread(
                target=self._resend_loop, name="agentdock-langfuse-resend", daemon=True
            )
            self._resender.start()

    def _resend_loop(self) -> None:
        assert self.buffer is not None
        while not self._stop.is_set():
            wait = max(self._delay(), self._not_before - time.monotonic())
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                if self._stop.is_set():
                    return
            try:
                more = self._resend_pass()
            except Exception as exc:  # a broken pass must not end the thread
                log.warning("LangFuse re-send failed (%s)", type(exc).__name__)
                self._failed()
                continue
            if not more:  # idle: a new spool wakes us; the timeout catches other workers' rows
                self._wake.wait(_IDLE_S)
                self._wake.clear()

    def _resend_pass(self) -> bool:
        """Send leased rows until one fails; ``True`` when rows may remain."""
        assert self.buffer is not None
        # Each POST may take a few times timeout_s (connect, write and read each have it).
        lease_s = max(LEASE_S, _RESEND_BATCH * self.timeout_s * 3)
        rows = self.buffer.lease(_RESEND_BATCH, lease_s=lease_s)
        if not rows:
            self._failures = 0
            return False
        for index, (batch_id, body) in enumerate(rows):
            outcome = self._post(batch_id, body)
            if outcome is _Outcome.RETRY:
                self._failed()
                for left, _ in rows[index:]:
                    self.buffer.release(left)
                return True
            delivered = outcome is _Outcome.SENT
            self._count("resent" if delivered else "rejected")
            self.buffer.done(batch_id, delivered=delivered)
            self._failures = 0
        return True
