"""The trace sink: events in, GenAI spans out over OTLP/HTTP, to every configured endpoint.

One sink builds each run's spans once, encodes them once (:mod:`agentdock_plugins.otel.wire`)
and hands the same bytes to each of its targets: the OpenTelemetry collector of
``OTEL_EXPORTER_OTLP_*`` and, when the Dockfile names LangFuse, LangFuse's OTLP endpoint
(:meth:`OtelSink.attach`). A target is a
:class:`~agentdock_plugins.otel.batching.RunBatchProcessor` with its own exporter and
sampler: queuing a run is an append, and the target's thread batches, compresses and sends,
so neither the request path nor the event loop waits on a collector.

``emit`` itself is an append too: the sink's builder thread takes the batches the runtime
hands over and builds them. The runtime calls :meth:`OtelSink.hand_over` (the same append)
on the event loop as each run ends, instead of queueing the run for ``emit`` in a drain task
of its own: with telemetry on, the drain's wake-up, timeout and ``emit`` call cost the loop
more than the append. (Handing each batch to a worker thread with ``asyncio.to_thread`` cost
more CPU than building a sampled-out run: an executor future and a wake-up of the event loop
per batch.) A run no target samples is left out there and then, when the samplers decide
from its trace id and caller alone (the ``OTEL_TRACES_SAMPLER`` kinds and
``LANGFUSE_SAMPLE_RATE``'s ratio): with a tenth of the runs sampled, the other nine cost the
event loop a decision and the builder thread nothing. The builder is woken only when its
queue was empty (each wake-up hands the GIL over). The batches waiting for the builder are
bounded (:data:`MAX_PENDING_EVENTS`); past the bound new ones are dropped and counted. The
OpenTelemetry target has no buffer: a run lost to a full queue or a failed export (a
collector that is down, slow past ``OTEL_EXPORTER_OTLP_TIMEOUT``, or refusing) is counted in
:attr:`OtelSink.dropped`; LangFuse's target spools to its offline buffer instead.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import TracerProvider

from agentdock_plugins.otel.batching import QueueStats, RunBatchProcessor, batch_settings
from agentdock_plugins.otel.config import build_resource
from agentdock_plugins.otel.spans import RunSpanBuilder, SpanFlavor, SpanTarget
from agentdock_plugins.otel.wire import Head, encode_head

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "FLUSH_TIMEOUT_MS",
    "INSTRUMENTATION_SCOPE",
    "MAX_PENDING_EVENTS",
    "OtelSink",
    "carrier_for",
    "register_carrier",
    "settle",
    "target_stats",
]

#: How long ``flush`` lets a target export what it holds: within the runtime's own
#: 5-second bound on a sink's flush at shutdown, so the sink decides what becomes of the rest.
FLUSH_TIMEOUT_MS = 4_000
#: The instrumentation scope of every span AgentDock builds.
INSTRUMENTATION_SCOPE = "agentdock"
#: Events handed to ``emit`` and not built yet that a sink holds; past it new batches are
#: dropped and counted (a builder that cannot keep up must not grow the process).
MAX_PENDING_EVENTS = 65_536
#: How long ``drain`` waits for the builder at most, by default.
DRAIN_TIMEOUT_S = 2.0


#: Sinks that build runs and no other tracing sink joined yet, newest last: the other tracing
#: factory, called next for the same spec, joins one. Weak, and a sink leaves when it is
#: joined or flushed: a pipeline that is gone or shutting down is never offered.
_carriers: list[weakref.ref[OtelSink]] = []
_carriers_lock = threading.Lock()


def register_carrier(sink: OtelSink) -> None:
    """Offer ``sink``'s pipeline to the next tracing sink built for the same spec."""
    with _carriers_lock:
        _carriers[:] = [ref for ref in _carriers if ref() is not None]
        _carriers.append(weakref.ref(sink))


def carrier_for(spec: Any) -> OtelSink | None:
    """The newest sink offered for ``spec`` (the same object), taken off the offer; ``None``
    when there is none."""
    with _carriers_lock:
        for ref in reversed(_carriers):
            sink = ref()
            if sink is not None and sink.spec is spec:
                _carriers.remove(ref)
                return sink
    return None


def _withdraw(sink: OtelSink) -> None:
    with _carriers_lock:
        _carriers[:] = [ref for ref in _carriers if ref() not in (None, sink)]


def settle(queue: Any) -> None:
    """The last flush of a target's queue (``settle`` when it has one, else ``force_flush``)."""
    last = getattr(queue, "settle", None)
    if callable(last):
        last(FLUSH_TIMEOUT_MS)
        return
    flush = getattr(queue, "force_flush", None)
    if callable(flush):
        flush(FLUSH_TIMEOUT_MS)


def target_stats(queue: Any) -> dict[str, int]:
    """A target queue's counters under the names :attr:`OtelSink.stats` reports."""
    stats = getattr(queue, "stats", None)
    if not isinstance(stats, QueueStats):
        return {}
    return {
        "exported_runs": stats.exported,
        "lost_runs": stats.lost_runs,
        "spilled": stats.spilled,
        "dropped_queue_full": stats.dropped_full,
        "dropped_export": stats.failed,
        "dropped_shutdown": stats.shutdown,
    }


def _run_id(event: Mapping[str, Any]) -> str | None:
    run_id = event.get("run_id")
    return run_id if isinstance(run_id, str) else None


def _queue_dropped(queue: Any) -> int:
    stats = getattr(queue, "stats", None)
    return stats.dropped if isinstance(stats, QueueStats) else 0


class OtelSink:
    """Builds each run's span tree when its ``run_end`` arrives, once, for every target.

    :param spec: the resolved ``DockSpec`` (agent name and version for the resource).
    :param exporter: where spans go; the OTLP/HTTP exporter for ``endpoint`` by default. It
        takes encoded spans (``export_runs(spans, events)``, spans from
        :func:`~agentdock_plugins.otel.wire.span_bytes`).
    :param endpoint: the OTLP/HTTP traces URL (used when ``exporter`` is not given); ``None``
        with no ``exporter`` and no ``processor``: no OpenTelemetry target (a sink that only
        carries an attached one, LangFuse's).
    :param flavor: adds a backend's own attributes and spans (LangFuse).
    :param processor: the queue to use instead of a ``RunBatchProcessor`` reading
        ``OTEL_BSP_*`` (anything with ``add_run(spans, events)``).
    :param sampler: the sampler; ``None`` reads ``OTEL_TRACES_SAMPLER`` (parent-based, on).
    :param carrier: a sink built before for the same spec whose pipeline this one's target
        joins (:meth:`attach`): the carrier builds each run once for both, and this sink
        only flushes its own queue and reports its own losses.
    """

    #: The runs go to a telemetry backend (the local collector then stays away).
    exports_runs = True
    #: This sink's target among a pipeline's.
    target_name = "otel"

    def __init__(
        self,
        spec: DockSpec,
        *,
        endpoint: str | None = None,
        exporter: Any = None,
        flavor: SpanFlavor | None = None,
        processor: Any = None,
        sampler: Any = None,
        carrier: OtelSink | None = None,
    ) -> None:
        self.spec = spec
        self.carrier = carrier
        provider = TracerProvider(
            resource=carrier.resource if carrier is not None else build_resource(spec),
            sampler=sampler,
        )
        self.resource: Any = provider.resource
        self.sampler: Any = provider.sampler
        self.head: Head = (
            carrier.head
            if carrier is not None
            else encode_head(dict(self.resource.attributes), INSTRUMENTATION_SCOPE)
        )
        if exporter is None and processor is None and endpoint is not None:
            from agentdock_plugins.otel.exporter import OtlpHttpExporter

            exporter = OtlpHttpExporter(endpoint=endpoint, head=self.head)
        if processor is None and exporter is not None:
            processor = RunBatchProcessor(exporter, batch_settings(os.environ))
        #: This sink's target queue (``None``: this sink only carries attached ones).
        self.processor = processor
        target = SpanTarget(self.target_name, processor, self.sampler)
        if carrier is None:
            self.builder = RunSpanBuilder(
                [target] if processor is not None else [], head=self.head, flavor=flavor
            )
            self._lock = threading.Lock()
        else:  # the carrier's builder: this sink reports its runs, the carrier builds them
            self.builder = carrier.builder
            self._lock = carrier._lock
            carrier.attach(target, flavor)
            #: No event (``TelemetrySink.wants``): the carrier, given the same events,
            #: builds this target's runs, so the runtime queues nothing for this sink.
            self.wants: frozenset[str] = frozenset()
        self.endpoint = endpoint
        self._pending: deque[Sequence[Mapping[str, Any]]] = deque()
        #: Events put (by the event loop) and built (by the builder thread), and events
        #: dropped because too many were waiting: each written by one thread only.
        self._put = 0
        self._built = 0
        self._dropped_pending = 0
        #: Runs :meth:`put` left out because no target samples them (the event loop's).
        self._skipped = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def attach(self, target: SpanTarget, flavor: SpanFlavor | None = None) -> None:
        """Send every run this sink builds to ``target`` too (built once, the same bytes);
        ``flavor`` replaces the span flavor (LangFuse's attributes then go to every target)."""
        with self._lock:
            self.builder.targets.append(target)
            if flavor is not None:
                self.builder.flavor = flavor

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        if self.carrier is None:  # else the carrier, given the same events, builds them
            self.put(events)

    def hand_over(self, events: Sequence[Mapping[str, Any]]) -> None:
        """What the runtime calls on the event loop in place of ``emit``
        (:class:`~agentdock.capabilities.HandingOverSink`): :meth:`put`, on the carrier."""
        if self.carrier is None:
            self.put(events)

    def put(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Hand a batch to the builder thread; never blocks (past :data:`MAX_PENDING_EVENTS`
        waiting, the batch is dropped and counted). The runs in it that no target samples
        are left out here, when that is known at once (:meth:`_sampled_only`); the
        builder thread is woken only when it has nothing left to build."""
        if self._built == self._put and not self.builder.waiting:
            events = self._sampled_only(events)
            if not events:
                return
        count = len(events)
        if self._put - self._built + count > MAX_PENDING_EVENTS:
            self._dropped_pending += count
            return
        pending = self._pending
        idle = not pending
        pending.append(events)
        self._put += count
        if self._thread is None or self._pid != os.getpid():
            self._start()
        if idle:
            self._wake.set()

    def _sampled_only(self, events: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
        """``events`` without the runs no target samples (their ``run_end`` and every
        event of theirs), when each target decides without a sampler call
        (:meth:`RunSpanBuilder.samples_none`): such a run costs the event loop a decision
        and the builder thread nothing; it is counted in ``unsampled``, not as a loss.

        Called only while the builder holds no run and has built every batch handed to
        it, so none of a left-out run's events waits in the builder for its end."""
        samples_none = self.builder.samples_none
        left: list[Mapping[str, Any]] | None = None
        for event in events:
            if event.get("event") == "run_end" and samples_none(event):
                if left is None:
                    left = []
                left.append(event)
        if left is None:
            return events
        self._skipped += len(left)
        runs = {run for run in map(_run_id, left) if run is not None}
        ends = {id(event) for event in left}
        return [
            event
            for event in events
            if id(event) not in ends and (not runs or _run_id(event) not in runs)
        ]

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._work, name="agentdock-spans-build", daemon=True
        )
        self._thread.start()

    def _work(self) -> None:
        pending, wake = self._pending, self._wake
        while True:
            wake.wait()
            wake.clear()
            while pending:
                events = pending.popleft()
                try:
                    with self._lock:
                        self.builder.add(events)
                except Exception:  # a builder bug loses the batch, counted, not the thread
                    self._dropped_pending += len(events)
                self._built += len(events)
            if self._stop:
                return

    def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
        """Wait until every batch handed to ``emit`` is built (at most ``timeout_s``);
        ``True`` when it is."""
        deadline = time.monotonic() + timeout_s
        while self._built < self._put:
            if time.monotonic() >= deadline or self._thread is None:
                return False
            time.sleep(0.001)
        return True

    async def flush(self) -> None:
        """Build what was handed over, then export what the OpenTelemetry target holds (the
        runtime calls this at shutdown; an attached target's own sink flushes it); what
        the bound does not allow is counted lost, never dropped silently."""
        await asyncio.to_thread(self._flush)

    def _flush(self) -> None:
        _withdraw(self)  # flushed for shutdown: no new sink joins this pipeline
        (self.carrier or self).drain()  # what the carrier still builds is this target's too
        if self.processor is not None:
            settle(self.processor)

    def shutdown(self) -> None:
        """Build what was handed over, flush and stop the threads (the runtime calls
        ``flush``; tests call this)."""
        _withdraw(self)
        (self.carrier or self).drain()
        if self.carrier is None:
            self._stop = True
            self._wake.set()
        if self.processor is not None:
            self.processor.shutdown()

    @property
    def dropped(self) -> int:
        """Telemetry events this sink took and lost: past the builder's bounds, or in runs
        the OpenTelemetry target's queue dropped (full, export failed, shutdown). The
        runtime reports it per sink (``agentdock_telemetry_events_dropped_total``)."""
        own = _queue_dropped(self.processor)
        if self.carrier is None:  # the builder's losses: counted once, by the carrier
            own += self._dropped_pending + self.builder.dropped
        return own

    @property
    def stats(self) -> dict[str, int]:
        """Runs built, runs no target sampled, runs waiting for their end, and losses:
        ``dropped`` (all, in events) and by cause (``dropped_bounds``, ``dropped_queue_full``,
        ``dropped_export``, ``dropped_shutdown``), runs exported, runs lost, runs spilled
        to an overflow."""
        out = {
            "runs": self.builder.runs,
            "unsampled": self.builder.unsampled + (self.carrier or self)._skipped,
            "waiting": self.builder.waiting,
            "dropped": self.dropped,
            "dropped_bounds": 0 if self.carrier else self.builder.dropped + self._dropped_pending,
        }
        out.update(target_stats(self.processor))
        return out

    def __repr__(self) -> str:
        return f"OtelSink(endpoint={self.endpoint!r})"
