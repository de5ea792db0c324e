"""The queue between the span builder and an exporter: whole runs in, every loss counted.

The SDK's ``BatchSpanProcessor`` holds single spans in a bounded queue. While its exporter
waits on a slow backend the queue fills, and each further span pushes out the oldest with
nothing but a log line (``Queue full, dropping Span``, once per 20 seconds); what ``export``
returns is ignored. A run could lose its root span and keep its children, and no counter
moved. This processor instead:

- queues whole runs (:class:`~agentdock_plugins.otel.spans.RunSpanBuilder` hands over a
  run's spans at once), bounded in spans; a batch never splits a run;
- when a run does not fit, hands the queued runs to ``overflow`` (the LangFuse sink writes
  them to its offline buffer) or, with no ``overflow``, drops the new run;
- counts, in telemetry events, the runs it could not deliver: dropped for a full queue,
  failed by the exporter (an error, a timeout, a refusal), or still queued when shutdown
  ran out of time (:class:`QueueStats`).

One thread exports; the builder's thread only appends, so nothing that builds spans waits on
the network. The thread starts with the first run (and again in a forked child).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["BatchSettings", "QueueStats", "RunBatchProcessor", "batch_settings"]

log = logging.getLogger("agentdock.otel")

#: ``(spans, events)``: one run's spans (encoded, :func:`agentdock_plugins.otel.wire.span_bytes`,
#: or the SDK's ``ReadableSpan``) and how many telemetry events they were built from.
Run = tuple[list[Any], int]
#: Takes a batch of runs the queue cannot hold; ``True`` when it kept them.
Overflow = Callable[[list[Any], int], bool]

QUEUE_ENV = "OTEL_BSP_MAX_QUEUE_SIZE"
BATCH_ENV = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
DELAY_ENV = "OTEL_BSP_SCHEDULE_DELAY"
#: How long ``shutdown`` waits for the export thread to send what is queued.
SHUTDOWN_TIMEOUT_S = 30.0


#: This process's id, kept up to date in a forked child (``os.getpid`` is a system call, and
#: a queue checks it for every run: a child starts its own export thread).
_process_id = os.getpid()


def _forked() -> None:
    global _process_id
    _process_id = os.getpid()


os.register_at_fork(after_in_child=_forked)


@dataclass(frozen=True)
class BatchSettings:
    """Spans the queue holds, spans per export request, seconds a partial batch waits."""

    max_queue_spans: int = 2048
    max_batch_spans: int = 512
    delay_s: float = 5.0


def _read(env: Mapping[str, str], name: str | None, default: float, scale: float = 1.0) -> float:
    raw = env.get(name, "").strip() if name else ""
    if not raw:
        return default
    try:
        value = float(raw) * scale
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        log.warning("%s must be a positive number, got %r; using %g", name, raw, default)
        return default
    return value


def batch_settings(
    env: Mapping[str, str],
    *,
    batch_env: str | None = None,
    delay_env: str | None = None,
) -> BatchSettings:
    """The ``OTEL_BSP_*`` values, as the SDK's processor reads them (the delay in ms).

    :param batch_env: a variable that overrides the batch size (``LANGFUSE_FLUSH_AT``).
    :param delay_env: a variable in seconds that overrides the delay
        (``LANGFUSE_FLUSH_INTERVAL``).

    A malformed value is logged and replaced by its default, as the SDK does.
    """
    default = BatchSettings()
    queue = int(_read(env, QUEUE_ENV, default.max_queue_spans))
    batch = int(_read(env, BATCH_ENV, default.max_batch_spans))
    delay = _read(env, DELAY_ENV, default.delay_s * 1000, 1.0) / 1000
    if batch_env and env.get(batch_env, "").strip():
        batch = int(_read(env, batch_env, batch))
    if delay_env and env.get(delay_env, "").strip():
        delay = _read(env, delay_env, delay)
    return BatchSettings(max(queue, 1), max(1, min(batch, queue)), delay)


@dataclass
class QueueStats:
    """What became of the runs since start-up; losses in telemetry events."""

    #: Runs the exporter took.
    exported: int = 0
    #: Runs the queue could not hold that ``overflow`` kept.
    spilled: int = 0
    #: Runs lost, whatever the cause.
    lost_runs: int = 0
    #: Events of runs dropped for a full queue (no ``overflow``, or it could not keep them).
    dropped_full: int = 0
    #: Events of runs whose export failed: an error, a timeout, a refusal.
    failed: int = 0
    #: Events of runs still queued when shutdown ran out of time.
    shutdown: int = 0

    @property
    def dropped(self) -> int:
        """Events lost, all causes together."""
        return self.dropped_full + self.failed + self.shutdown


class RunBatchProcessor(SpanProcessor):
    """Batches whole runs for one exporter thread and counts every run it loses.

    :param exporter: where batches go. When it has ``export_runs(spans, events)``, that is
        called instead of ``export(spans)``, so it can count its own later losses in events.
    :param settings: the queue bound, the batch size and the delay.
    :param overflow: takes the queued runs when a new one does not fit (``True``: kept);
        ``None`` drops the new run instead.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        settings: BatchSettings | None = None,
        *,
        overflow: Overflow | None = None,
    ) -> None:
        settings = settings or BatchSettings()
        self.exporter = exporter
        self._export: Callable[[list[Any], int], SpanExportResult] = getattr(
            exporter, "export_runs", lambda spans, _events: exporter.export(spans)
        )
        self._overflow = overflow
        self._max_queue = settings.max_queue_spans
        self._max_batch = settings.max_batch_spans
        self._delay = settings.delay_s
        self.stats = QueueStats()
        #: ``_cond``'s lock, taken directly where nothing waits (a ``Condition``'s ``with``
        #: is two Python calls more, twice per run and target).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._runs: deque[Run] = deque()
        self._spans = 0
        self._busy = False
        #: The batch being exported (``(spans, events, runs)``), and one ``settle`` gave up on.
        self._inflight: tuple[list[Any], int, int] | None = None
        self._abandoned: tuple[list[Any], int, int] | None = None
        self._flush = False
        self._stop = False
        self._warned = False
        self._thread: threading.Thread | None = None
        #: Whether the export thread runs (cleared when it ends, however it ends).
        self._running = False
        self._pid = _process_id

    # -- SpanProcessor -----------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        """A lone span is a run of one event (the builder calls :meth:`add_run`)."""
        if span.context is not None and span.context.trace_flags.sampled:
            self.add_run([span], 1)

    def add_run(self, spans: list[Any], events: int) -> None:
        """Queue one run's spans, built from ``events`` telemetry events; never blocks on
        the exporter (a full queue goes to ``overflow``, or the run is dropped and counted)."""
        if not spans:
            return
        with self._lock:
            if self._stop:
                self._lose(events, "shutdown")
                return
            if not self._running or self._pid != _process_id:
                self._ensure_thread()
            if self._runs and self._spans + len(spans) > self._max_queue:
                if self._overflow is None:
                    self._lose(events, "dropped_full")
                    return
                spill = list(self._runs)
                spill.append((spans, events))
                self._runs.clear()
                self._spans = 0
            else:
                self._runs.append((spans, events))
                self._spans += len(spans)
                if self._spans >= self._max_batch:
                    self._cond.notify_all()
                return
        self._spill(spill)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what is queued, waiting at most ``timeout_millis``; ``True`` when done."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            if self._runs and (self._thread is None or not self._thread.is_alive()):
                self._ensure_thread()
            self._flush = True
            self._cond.notify_all()
            while self._runs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        return self.exporter.force_flush(left_ms) is not False  # the base class says None

    def settle(self, timeout_millis: int) -> bool:
        """The last flush before the process ends: export what is queued within
        ``timeout_millis``; past it, hand what is still queued or being exported to
        ``overflow`` (the LangFuse buffer; a batch whose request lands after all is stored
        once by LangFuse) or count it lost, rather than let it vanish with the process.
        ``True`` when everything was exported in time."""
        if self.force_flush(timeout_millis):
            return True
        with self._cond:
            left = list(self._runs)
            self._runs.clear()
            self._spans = 0
            inflight = self._abandoned = self._inflight
        runs = len(left) + (inflight[2] if inflight is not None else 0)
        if runs:
            log.warning("%d trace runs were not exported in time", runs)
        if self._overflow is not None:
            self._spill(left)
            if inflight is not None:  # already a batch: spilled as one
                self._spill_batch(*inflight)
            return False
        with self._cond:
            for _, events in left:
                self._lose(events, "shutdown")
            if inflight is not None:
                self._lose(inflight[1], "shutdown", inflight[2])
        return False

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Send what is queued (within ``timeout_s``), then shut the exporter down. Runs left
        go to ``overflow`` or are counted lost."""
        with self._cond:
            if self._stop:
                return
            self._stop = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        with self._cond:
            left = list(self._runs)
            self._runs.clear()
            self._spans = 0
        if left and self._overflow is not None:
            self._spill(left)
        else:
            with self._cond:
                for _, events in left:
                    self._lose(events, "shutdown")
        self.exporter.shutdown()

    # -- the queue ---------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        """Start the export thread if it is not running (under ``_cond``)."""
        if self._thread is not None and self._thread.is_alive() and self._pid == _process_id:
            return
        self._pid = _process_id
        self._thread = threading.Thread(target=self._run, name="agentdock-spans", daemon=True)
        self._running = True
        try:
            self._thread.start()
        except BaseException:  # no thread (the process is out of them): the next run retries
            self._running = False
            raise

    def _run(self) -> None:
        try:
            self._work()
        finally:
            self._running = False

    def _lose(self, events: int, cause: str, runs: int = 1) -> None:
        """Count lost runs (under ``_cond``)."""
        setattr(self.stats, cause, getattr(self.stats, cause) + events)
        self.stats.lost_runs += runs
        if not self._warned:  # one warning per outage: a delivered batch re-arms it
            self._warned = True
            reason = {"dropped_full": "the span queue is full", "failed": "the export failed"}
            log.warning(
                "%s: trace runs are being lost and counted (%s)",
                type(self.exporter).__name__,
                reason.get(cause, "shutting down"),
            )

    def _batches(self, runs: Sequence[Run]) -> list[tuple[list[Any], int, int]]:
        """``runs`` cut into export batches of whole runs: ``(spans, events, runs)``."""
        out: list[tuple[list[Any], int, int]] = []
        spans: list[Any] = []
        events = count = 0
        for run_spans, run_events in runs:
            if spans and len(spans) + len(run_spans) > self._max_batch:
                out.append((spans, events, count))
                spans, events, count = [], 0, 0
            spans.extend(run_spans)
            events += run_events
            count += 1
        if spans:
            out.append((spans, events, count))
        return out

    def _spill(self, runs: Sequence[Run]) -> None:
        """Hand ``runs`` to ``overflow`` in export-sized batches (not under ``_cond``)."""
        for spans, events, count in self._batches(runs):
            self._spill_batch(spans, events, count)

    def _spill_batch(self, spans: list[Any], events: int, count: int) -> None:
        assert self._overflow is not None
        try:
            kept = self._overflow(spans, events)
        except Exception as exc:  # a broken overflow loses the batch, counted
            log.warning("span overflow failed (%s)", type(exc).__name__)
            kept = False
        with self._cond:
            if kept:
                self.stats.spilled += count
            else:
                self._lose(events, "dropped_full", count)

    def _take(self) -> tuple[list[Any], int, int]:
        """The oldest runs, up to a batch of spans (at least one run), under ``_cond``."""
        spans: list[Any] = []
        events = count = 0
        while self._runs and (not spans or len(spans) + len(self._runs[0][0]) <= self._max_batch):
            run_spans, run_events = self._runs.popleft()
            spans.extend(run_spans)
            events += run_events
            count += 1
        self._spans -= len(spans)
        return spans, events, count

    def _work(self) -> None:
        cond = self._cond
        while True:
            with cond:
                deadline = time.monotonic() + self._delay
                while not (self._stop or self._flush or self._spans >= self._max_batch):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    cond.wait(left)
                if not self._runs:
                    self._flush = False
                    cond.notify_all()
                    if self._stop:
                        return
                    continue
                batch = self._inflight = self._take()
                spans, events, count = batch
                self._busy = True
            try:
                ok = self._export(spans, events) is SpanExportResult.SUCCESS
            except Exception as exc:  # an exporter that raises loses the batch, counted
                log.warning("span export failed (%s)", type(exc).__name__)
                ok = False
            with cond:
                self._busy = False
                self._inflight = None
                if self._abandoned is batch:  # settle() has spilled or counted it already
                    self._abandoned = None
                elif ok:
                    self.stats.exported += count
                    self._warned = False
                else:
                    self._lose(events, "failed", count)
                cond.notify_all()

    def __repr__(self) -> str:
        return f"RunBatchProcessor({type(self.exporter).__name__})"
