"""The per-sink telemetry queues: batching, restarts, bounds and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from agentdock_runtime.telemetry import TelemetryQueues


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.flushed = 0

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.batches.append([event["n"] for event in events])

    async def flush(self) -> None:
        self.flushed += 1


class Hanging(Recorder):
    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        await asyncio.sleep(3600)


def run(events: int, start: int = 0) -> list[Mapping[str, Any]]:
    return [{"n": start + i} for i in range(events)]


def test_runs_arrive_in_order_in_batches_that_never_split_a_run() -> None:
    sink = Recorder()
    queues = TelemetryQueues([sink], queue_size=100, batch_size=5, sink_timeout=1.0)

    async def main() -> None:
        for index in range(10):  # ten runs of three events, queued before the drain runs
            queues.put(run(3, start=index * 3))
        await queues.aclose(1.0)

    asyncio.run(main())
    assert [n for batch in sink.batches for n in batch] == list(range(30))
    assert all(len(batch) % 3 == 0 for batch in sink.batches), "a run stays whole"
    assert all(len(batch) <= 6 for batch in sink.batches), "stops filling at batch_size"
    assert len(sink.batches) > 1
    assert queues.stats.delivered == queues.stats.queued == 30
    assert sink.flushed == 1


def test_a_drain_that_died_is_restarted_by_the_next_run() -> None:
    sink = Recorder()
    queues = TelemetryQueues([sink], queue_size=100, batch_size=64, sink_timeout=1.0)

    async def main() -> None:
        queues.put(run(1))
        await asyncio.sleep(0.01)
        queues._tasks[0].cancel()  # as if the drain had crashed
        await asyncio.sleep(0.01)
        queues.put(run(1, start=1))
        await asyncio.sleep(0.01)
        assert not queues._tasks[0].done()
        await queues.aclose(1.0)

    asyncio.run(main())
    assert [n for batch in sink.batches for n in batch] == [0, 1]


def test_a_hanging_sink_fills_only_its_own_queue_and_shutdown_stays_bounded() -> None:
    good, stuck = Recorder(), Hanging()
    queues = TelemetryQueues([good, stuck], queue_size=4, batch_size=1, sink_timeout=60.0)

    async def main() -> None:
        for index in range(10):
            queues.put(run(1, start=index))
            await asyncio.sleep(0)
        await asyncio.wait_for(queues.aclose(0.2), 5)

    asyncio.run(main())
    assert [n for batch in good.batches for n in batch] == list(range(10))
    stats = queues.stats
    # The stuck sink holds one batch in emit and four runs queued; five were refused, and
    # the four left at shutdown are counted as dropped too.
    assert stats.dropped_by_sink == {"Hanging": 9}
    assert "Recorder" not in stats.dropped_by_sink
    assert good.flushed == 1


def test_a_queue_size_of_zero_is_unbounded() -> None:
    sink = Recorder()
    queues = TelemetryQueues([sink], queue_size=0, batch_size=64, sink_timeout=1.0)

    async def main() -> None:
        for index in range(2000):
            queues.put(run(1, start=index))
        await queues.aclose(5.0)

    asyncio.run(main())
    assert queues.stats.dropped == 0
    assert [n for batch in sink.batches for n in batch] == list(range(2000))


class WantsNothing(Recorder):
    """A sink that takes no event (as a trace sink attached to another's pipeline)."""

    wants: frozenset[str] = frozenset()


def test_a_sink_that_wants_no_event_is_given_none_and_still_flushed() -> None:
    fed, idle = Recorder(), WantsNothing()
    queues = TelemetryQueues([fed, idle], queue_size=1, batch_size=64, sink_timeout=1.0)

    async def main() -> None:
        for index in range(3):  # past the idle sink's queue size: nothing dropped for it
            queues.put(run(1, start=index))
            await asyncio.sleep(0.01)
        await queues.aclose(1.0)

    asyncio.run(main())
    assert [n for batch in fed.batches for n in batch] == [0, 1, 2]
    assert idle.batches == []
    assert idle.flushed == fed.flushed == 1
    assert queues.stats.queued == queues.stats.delivered == 3  # counted for the fed sink only
    assert queues.sink_drops() == {"Recorder": 0, "WantsNothing": 0}


class HandsOver(Recorder):
    """A sink with a queue of its own: takes each run's events at once."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.handed: list[list[int]] = []
        self.fail = fail

    def hand_over(self, events: Sequence[Mapping[str, Any]]) -> None:
        if self.fail:
            raise RuntimeError("broken")
        self.handed.append([event["n"] for event in events])


def test_a_sink_that_takes_events_itself_gets_each_run_at_once_and_no_emit() -> None:
    taking, fed = HandsOver(), Recorder()
    queues = TelemetryQueues([taking, fed], queue_size=100, batch_size=64, sink_timeout=1.0)

    async def main() -> None:
        queues.put(run(2))
        assert taking.handed == [[0, 1]]  # at the put, before any drain ran
        queues.put(run(1, start=2))
        await queues.aclose(1.0)

    asyncio.run(main())
    assert taking.handed == [[0, 1], [2]] and taking.batches == []
    assert taking.flushed == fed.flushed == 1
    assert [n for batch in fed.batches for n in batch] == [0, 1, 2]
    assert queues.stats.queued == queues.stats.delivered == 6


def test_a_sink_that_fails_to_take_events_fails_no_run() -> None:
    broken, fed = HandsOver(fail=True), Recorder()
    queues = TelemetryQueues([broken, fed], queue_size=100, batch_size=64, sink_timeout=1.0)

    async def main() -> None:
        queues.put(run(2))
        await queues.aclose(1.0)

    asyncio.run(main())
    assert queues.stats.sink_errors == 1
    assert [n for batch in fed.batches for n in batch] == [0, 1]
    assert queues.stats.delivered == 2
