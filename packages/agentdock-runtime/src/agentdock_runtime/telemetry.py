"""How a run's telemetry events reach the sinks: one bounded queue and one drain per sink.

An item of a queue is the list of one run's events, put once when the run ends (a run's
events are collected without touching the loop, even from worker threads), so a run costs
one append per sink whatever it reports. A sink that hangs or falls behind fills only its
own queue: the others keep receiving. A sink whose ``wants`` is empty (a trace sink whose
runs another sink builds) gets no queue item: it is only flushed, and its losses counted. A
sink with a bounded queue and a thread of its own
(:class:`~agentdock.capabilities.HandingOverSink`, the trace sink) is handed each run's
events at once instead: no drain task, no ``emit`` per batch.

Losses are counted per sink, under the sink's name (its plugin name in a compiled pipeline):
events its queue dropped (full, or still queued at shutdown), plus what the sink reports it
lost itself after taking them (a sink's ``dropped`` attribute: its own queues, a backend
that failed or timed out, an offline buffer's bounds). :meth:`TelemetryQueues.sink_drops`
adds the two; the Prometheus sink exports it and the local store records it.

The queues are plain deques with one waiting future per drain, not ``asyncio.Queue``: a put
is an append and a length check, and a drain is woken only when it has gone idle. With
``asyncio.Queue``'s put, get and ``task_done`` per run and sink, queueing three sinks cost
3.9 µs a run; this costs 2.0 (no-op sinks, a wake-up every 16 runs, one core).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentdock.capabilities import HandingOverSink, LossCountingSink

__all__ = ["TelemetryQueues", "TelemetryStats"]

log = logging.getLogger("agentdock.runtime")

#: How often ``aclose`` looks whether the drains have caught up.
_SETTLE_POLL_S = 0.005


@dataclass(slots=True)
class TelemetryStats:
    """What happened to telemetry events since start-up, summed over the sinks (an event
    queued for three sinks counts three times)."""

    queued: int = 0
    #: Events the queues dropped (full, over a run's event bound, left at shutdown).
    dropped: int = 0
    #: ``dropped`` by sink name.
    dropped_by_sink: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    sink_errors: int = 0
    sink_timeouts: int = 0


Events = list[Mapping[str, Any]]


class TelemetryQueues:
    """Bounded queues, one per sink, each drained by its own task.

    :param sinks: the telemetry sinks (``emit(batch)`` and ``flush()`` coroutines).
    :param names: each sink's name in counters and logs (default: its class name).
    :param loss_counting: the sinks with a ``dropped`` count, by position, when the caller
        already sorted them (default: sorted here).
    :param queue_size: runs (items) each queue holds before it drops new ones; ``0`` or
        less: unbounded (as ``asyncio.Queue`` has it).
    :param batch_size: events a drain hands its sink at once (a run is never split).
    :param sink_timeout: seconds one ``emit`` may take before its batch is counted lost.
    """

    def __init__(
        self,
        sinks: Sequence[Any],
        *,
        queue_size: int,
        batch_size: int,
        sink_timeout: float,
        names: Sequence[str] | None = None,
        loss_counting: Sequence[tuple[int, LossCountingSink]] | None = None,
    ) -> None:
        self.sinks = tuple(sinks)
        #: The sinks that count their own losses, by position (sorted once; see
        #: :class:`agentdock_runtime.capabilities.SinkCapabilities`).
        self._loss_counting = (
            tuple(loss_counting)
            if loss_counting is not None
            else tuple((i, s) for i, s in enumerate(self.sinks) if isinstance(s, LossCountingSink))
        )
        self.names = tuple(names) if names is not None else tuple(_name(s) for s in self.sinks)
        if len(self.names) != len(self.sinks):
            raise ValueError("one name per sink")
        #: Runs each queue holds.
        self.limit = queue_size if queue_size > 0 else sys.maxsize
        self.batch_size = batch_size
        self.sink_timeout = sink_timeout
        self.stats = TelemetryStats()
        self._pending: list[deque[Events]] = [deque() for _ in self.sinks]
        #: The sinks whose ``dropped`` raised once (warned about, not again).
        self._count_warned: set[int] = set()
        # A sink whose ``wants`` is empty is given nothing (only flushed, its own losses
        # counted); one that takes events itself (``hand_over``) gets them at once.
        taking = [i for i, s in enumerate(self.sinks) if not _wants_nothing(s)]
        #: The sinks handed each run's events directly, by position.
        self._handed = tuple(i for i in taking if isinstance(self.sinks[i], HandingOverSink))
        #: The sinks whose queue and drain take each run's events, by position.
        self._fed = tuple(i for i in taking if i not in self._handed)
        #: The future each idle drain waits on (``None`` while it runs).
        self._waiters: list[asyncio.Future[None] | None] = [None] * len(self.sinks)
        #: Whether each drain is inside its sink's ``emit``.
        self._busy = [False] * len(self.sinks)
        self._tasks: list[asyncio.Task[None]] = []

    def put(self, events: Events) -> None:
        """Queue a run's events (or one event outside a run) for every sink that wants
        events; a full queue drops them for its sink only."""
        if not self.sinks or not events:
            return
        if not self._tasks:
            self._tasks = [self._drainer(index) for index in range(len(self.sinks))]
        stats = self.stats
        for index in self._handed:
            try:
                self.sinks[index].hand_over(events)
            except Exception as exc:  # a sink must not fail the run that reports
                stats.sink_errors += 1
                log.warning(
                    "telemetry sink %s failed (%s); %d events lost",
                    self.names[index],
                    type(exc).__name__,
                    len(events),
                )
            else:
                stats.queued += len(events)
                stats.delivered += len(events)
        limit = self.limit
        every = self._pending
        for index in self._fed:
            pending = every[index]
            waiter = self._waiters[index]
            if waiter is None and self._tasks[index].done():  # that sink's drain ended alone
                self._tasks[index] = self._drainer(index)
            if len(pending) >= limit:
                self._drop(self.names[index], len(events))
                continue
            pending.append(events)
            stats.queued += len(events)
            if waiter is not None:
                self._waiters[index] = None
                if not waiter.done():
                    waiter.set_result(None)

    def _drop(self, name: str, count: int) -> None:
        stats = self.stats
        stats.dropped += count
        stats.dropped_by_sink[name] = stats.dropped_by_sink.get(name, 0) + count

    def drop_for_every_sink(self, count: int = 1) -> None:
        """Count ``count`` events lost before they were queued (for every sink)."""
        for name in self.names:
            self._drop(name, count)

    def sink_drops(self) -> dict[str, int]:
        """Events lost per sink since start-up: dropped by its queue, plus those the sink
        reports it lost after taking them (its ``dropped`` attribute, when it has one)."""
        queued = self.stats.dropped_by_sink
        out = {name: queued.get(name, 0) for name in self.names}
        for index, sink in self._loss_counting:
            try:
                own = sink.dropped
            except Exception as exc:  # a plugin's count that fails is no count, not a failure
                self._count_failed(index, exc)
                continue
            if isinstance(own, int) and not isinstance(own, bool):
                out[self.names[index]] += own
        return out

    def sink_unsampled(self) -> dict[str, int]:
        """Runs each sampling sink's sampler left out since start-up, by sink name: the
        sinks whose ``stats`` count ``unsampled`` (OpenTelemetry, LangFuse). Read when the
        metrics are, not per run (a sink's ``stats`` is a handful of counters)."""
        out: dict[str, int] = {}
        for name, sink in zip(self.names, self.sinks, strict=True):
            try:
                stats = getattr(sink, "stats", None)
                count = stats.get("unsampled") if isinstance(stats, Mapping) else None
            except Exception:  # a plugin's count that fails is no count, not a failure
                count = None
            if isinstance(count, int) and not isinstance(count, bool):
                out[name] = count
        return out

    def _count_failed(self, index: int, exc: Exception) -> None:
        """Warn once per sink that its ``dropped`` raised (it is read on every scrape)."""
        if index not in self._count_warned:
            self._count_warned.add(index)
            log.warning(
                "telemetry sink %s: reading its lost-event count failed (%s); counted as none",
                self.names[index],
                type(exc).__name__,
            )

    def _drainer(self, index: int) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(
            self._drain(index), name=f"agentdock-telemetry-{self.names[index]}"
        )

    async def _drain(self, index: int) -> None:
        sink, pending = self.sinks[index], self._pending[index]
        loop = asyncio.get_running_loop()
        limit = self.batch_size
        while True:
            if not pending:
                waiter = self._waiters[index] = loop.create_future()
                try:
                    await waiter
                finally:
                    self._waiters[index] = None
                continue
            batch = list(pending.popleft())
            while pending and len(batch) < limit:
                batch.extend(pending.popleft())
            self._busy[index] = True
            try:
                await self._deliver(sink, batch)
            finally:
                self._busy[index] = False

    async def _deliver(self, sink: Any, batch: list[Mapping[str, Any]]) -> None:
        try:
            async with asyncio.timeout(self.sink_timeout):
                await sink.emit(batch)
        except TimeoutError:
            self.stats.sink_timeouts += 1
            log.warning("telemetry sink %s timed out; %d events lost", _name(sink), len(batch))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the drain itself is being stopped
            self.stats.sink_errors += 1  # the sink's own cancellation: not the drain's end
            log.warning("telemetry sink %s was cancelled; %d events lost", _name(sink), len(batch))
        except Exception as exc:
            self.stats.sink_errors += 1
            log.warning(
                "telemetry sink %s failed (%s); %d events lost",
                _name(sink),
                type(exc).__name__,
                len(batch),
            )
        else:
            self.stats.delivered += len(batch)

    async def _settled(self) -> None:
        while any(self._pending) or any(self._busy):
            await asyncio.sleep(_SETTLE_POLL_S)

    async def aclose(self, timeout: float) -> None:
        """Let every sink drain its queue, then flush them all at once: at most about
        ``2 × timeout`` in all. Events still queued after the first ``timeout`` are dropped
        and counted."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled(), timeout)
            for name, pending in zip(self.names, self._pending, strict=True):
                left = sum(len(events) for events in pending)
                pending.clear()
                if left:
                    self._drop(name, left)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

        async def flush(sink: Any) -> None:
            try:
                async with asyncio.timeout(timeout):
                    await sink.flush()
            except Exception as exc:  # a sink must not stop shutdown
                log.warning("telemetry sink %s did not flush (%s)", _name(sink), type(exc).__name__)

        await asyncio.gather(*(flush(sink) for sink in self.sinks))


def _wants_nothing(sink: Any) -> bool:
    """Whether ``sink`` names no event at all (a ``wants`` that cannot be read names none:
    the sink is given every event)."""
    try:
        wants = getattr(sink, "wants", None)
    except Exception:
        return False
    return isinstance(wants, frozenset | set) and not wants


def _name(obj: Any) -> str:
    return type(obj).__name__
