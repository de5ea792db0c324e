"""The span queue between the span builder and an exporter: whole runs, and no loss that is
not counted, with an exporter that blocks, fails or raises."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from agentdock_plugins.otel.batching import BatchSettings, RunBatchProcessor, batch_settings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags


def run(trace: int, spans: int = 3) -> list[ReadableSpan]:
    flags = TraceFlags(TraceFlags.SAMPLED)
    return [
        ReadableSpan(
            f"span {index}",
            context=SpanContext(trace, index + 1, is_remote=False, trace_flags=flags),
        )
        for index in range(spans)
    ]


class Exporter(SpanExporter):
    """Records batches; ``gate`` (when set) holds every export until it opens."""

    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS) -> None:
        self.result = result
        self.batches: list[list[int]] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.raises = False
        self.shut = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.raises:
            raise RuntimeError("exporter bug")
        self.batches.append([span.context.trace_id for span in spans])
        return self.result

    def shutdown(self) -> None:
        self.shut = True


def traces(exporter: Exporter) -> list[int]:
    return sorted({trace for batch in exporter.batches for trace in batch})


def stuck(
    exporter: Exporter, settings: BatchSettings, events: int, overflow: Any = None
) -> RunBatchProcessor:
    """A processor whose export thread took run 1 (of ``events`` events) and is stuck
    exporting it until ``exporter.gate`` opens."""
    exporter.gate = threading.Event()
    processor = RunBatchProcessor(exporter, settings, overflow=overflow)
    processor.add_run(run(1), events)  # taken by the export thread, which then blocks
    assert exporter.entered.wait(5)
    return processor


def test_batches_hold_whole_runs_and_respect_the_batch_size() -> None:
    exporter = Exporter()
    processor = RunBatchProcessor(exporter, BatchSettings(64, 8, 0.01))
    for trace in range(1, 11):
        processor.add_run(run(trace), 3)
    assert processor.force_flush(5_000)
    processor.shutdown()
    assert traces(exporter) == list(range(1, 11))
    for batch in exporter.batches:
        assert len(batch) <= 8
        assert all(batch.count(trace) == 3 for trace in set(batch)), "a run was split"
    assert processor.stats.exported == 10 and processor.stats.dropped == 0
    assert exporter.shut


def test_a_full_queue_without_overflow_drops_new_runs_and_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = Exporter()
    processor = stuck(exporter, BatchSettings(6, 3, 0.01), 2)
    with caplog.at_level(logging.WARNING, logger="agentdock.otel"):
        for trace in range(2, 8):
            processor.add_run(run(trace), 2)
    # Two runs fill the queue of six spans; the four after them are dropped.
    assert processor.stats.dropped_full == 4 * 2 and processor.stats.lost_runs == 4
    assert caplog.text.count("trace runs are being lost and counted") == 1
    exporter.gate.set()
    assert processor.force_flush(5_000)
    processor.shutdown()
    assert traces(exporter) == [1, 2, 3]


def test_a_full_queue_goes_to_the_overflow_in_export_sized_batches() -> None:
    exporter = Exporter()
    spilled: list[tuple[list[int], int]] = []

    def overflow(spans: list[ReadableSpan], events: int) -> bool:
        spilled.append(([span.context.trace_id for span in spans], events))
        return True

    processor = stuck(exporter, BatchSettings(6, 4, 0.01), 3, overflow)
    for trace in range(2, 5):
        processor.add_run(run(trace), 3)
    # Runs 2 and 3 filled the queue; run 4 did not fit, so all three went to the overflow,
    # one run (three spans) per batch of at most four spans.
    assert [sorted(set(ids)) for ids, _ in spilled] == [[2], [3], [4]]
    assert [events for _, events in spilled] == [3, 3, 3]
    assert processor.stats.spilled == 3 and processor.stats.dropped == 0
    exporter.gate.set()
    processor.shutdown()
    assert traces(exporter) == [1]


def test_an_overflow_that_cannot_keep_a_batch_counts_it() -> None:
    exporter = Exporter()
    processor = stuck(exporter, BatchSettings(3, 3, 0.01), 1, overflow=lambda s, e: False)
    processor.add_run(run(2), 5)
    processor.add_run(run(3), 7)
    assert processor.stats.dropped_full == 12 and processor.stats.lost_runs == 2
    exporter.gate.set()
    processor.shutdown()


@pytest.mark.parametrize("how", ["failure", "raise"])
def test_failed_exports_are_counted_in_events(how: str) -> None:
    exporter = Exporter(SpanExportResult.FAILURE)
    exporter.raises = how == "raise"
    processor = RunBatchProcessor(exporter, BatchSettings(64, 6, 0.01))
    for trace in range(1, 5):
        processor.add_run(run(trace), 4)
    assert processor.force_flush(5_000)
    assert processor.stats.failed == 16 and processor.stats.lost_runs == 4
    assert processor.stats.exported == 0
    processor.shutdown()


def test_flush_gives_up_at_its_bound_and_shutdown_counts_what_is_left() -> None:
    exporter = Exporter()
    processor = stuck(exporter, BatchSettings(64, 3, 0.01), 1)
    processor.add_run(run(2), 2)
    assert processor.force_flush(50) is False
    processor.shutdown(timeout_s=0.05)  # the exporter is still stuck on run 1
    assert processor.stats.shutdown == 2 and processor.stats.lost_runs == 1
    processor.add_run(run(3), 4)  # after shutdown: counted, never queued
    assert processor.stats.shutdown == 6
    exporter.gate.set()


def test_shutdown_hands_what_is_left_to_the_overflow() -> None:
    exporter = Exporter()
    kept: list[int] = []
    processor = stuck(
        exporter,
        BatchSettings(64, 3, 0.01),
        1,
        overflow=lambda spans, events: kept.append(events) is None,
    )
    processor.add_run(run(2), 2)
    processor.shutdown(timeout_s=0.05)
    assert kept == [2] and processor.stats.dropped == 0
    exporter.gate.set()


def test_export_runs_gets_the_event_count() -> None:
    calls: list[tuple[int, int]] = []

    class Counting(Exporter):
        def export_runs(self, spans: Sequence[ReadableSpan], events: int) -> SpanExportResult:
            calls.append((len(spans), events))
            return SpanExportResult.SUCCESS

    # A long delay: only the flush sends, so both runs go in one batch.
    processor = RunBatchProcessor(Counting(), BatchSettings(64, 6, 60.0))
    processor.add_run(run(1), 5)
    processor.add_run(run(2, spans=2), 1)
    assert processor.force_flush(5_000)
    processor.shutdown()
    assert calls == [(5, 6)]


def test_settings_follow_the_sdk_variables(caplog: pytest.LogCaptureFixture) -> None:
    assert batch_settings({}) == BatchSettings(2048, 512, 5.0)
    env = {
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "500",
        "OTEL_BSP_SCHEDULE_DELAY": "250",
    }
    assert batch_settings(env) == BatchSettings(100, 100, 0.25)  # a batch fits the queue
    langfuse = {**env, "LANGFUSE_FLUSH_AT": "20", "LANGFUSE_FLUSH_INTERVAL": "0.5"}
    found = batch_settings(
        langfuse, batch_env="LANGFUSE_FLUSH_AT", delay_env="LANGFUSE_FLUSH_INTERVAL"
    )
    assert found == BatchSettings(100, 20, 0.5)
    with caplog.at_level(logging.WARNING, logger="agentdock.otel"):
        bad: dict[str, Any] = {"OTEL_BSP_MAX_QUEUE_SIZE": "lots", "OTEL_BSP_SCHEDULE_DELAY": "-1"}
        assert batch_settings(bad) == BatchSettings()
    assert "OTEL_BSP_MAX_QUEUE_SIZE must be a positive number, got 'lots'" in caplog.text
    assert "OTEL_BSP_SCHEDULE_DELAY must be a positive number" in caplog.text


@pytest.mark.parametrize("outcome", [SpanExportResult.SUCCESS, SpanExportResult.FAILURE])
def test_the_last_flush_counts_what_it_could_not_send(outcome: SpanExportResult) -> None:
    """At shutdown the process ends after the flush: runs still queued or being exported
    then are counted lost, once, whatever the stuck export does afterwards."""
    exporter = Exporter(outcome)
    processor = stuck(exporter, BatchSettings(64, 3, 0.01), 1)
    processor.add_run(run(2), 2)
    assert processor.settle(50) is False
    assert processor.stats.shutdown == 3 and processor.stats.lost_runs == 2
    exporter.gate.set()  # the stuck export ends after all: not counted a second time
    assert processor.force_flush(5_000)
    assert processor.stats.shutdown == 3 and processor.stats.lost_runs == 2
    assert processor.stats.failed == 0 and processor.stats.exported == 0
    processor.shutdown()


def test_the_last_flush_hands_what_it_could_not_send_to_the_overflow() -> None:
    exporter = Exporter()
    kept: list[tuple[list[int], int]] = []

    def overflow(spans: list[ReadableSpan], events: int) -> bool:
        kept.append((sorted({span.context.trace_id for span in spans}), events))
        return True

    processor = stuck(exporter, BatchSettings(64, 3, 0.01), 1, overflow)
    processor.add_run(run(2), 2)
    assert processor.settle(50) is False
    assert sorted(kept) == [([1], 1), ([2], 2)]
    assert processor.stats.spilled == 2 and processor.stats.dropped == 0
    exporter.gate.set()
    processor.shutdown()
    assert processor.stats.exported == 0, "the spilled batch is not counted twice"


def test_the_last_flush_in_time_exports_everything() -> None:
    exporter = Exporter()
    processor = RunBatchProcessor(exporter, BatchSettings(64, 3, 60.0))
    processor.add_run(run(1), 1)
    assert processor.settle(5_000) is True
    assert traces(exporter) == [1] and processor.stats.exported == 1
    processor.shutdown()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_export_thread_that_ended_is_started_again_by_the_next_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The queue checks a flag for its thread, not the thread itself: the flag must fall
    # however the thread ends, here by an error outside the export's own guard.
    exporter = Exporter()
    processor = RunBatchProcessor(exporter, BatchSettings(64, 3, 60.0))
    real_take = processor._take
    taken = {"failed": False}

    def take_once_failing() -> Any:
        if not taken["failed"]:
            taken["failed"] = True
            raise RuntimeError("a queue bug")
        return real_take()

    monkeypatch.setattr(processor, "_take", take_once_failing)
    processor.add_run(run(1), 1)  # a full batch: the thread takes it and ends
    first = processor._thread
    assert first is not None
    first.join(5)
    assert not first.is_alive() and not processor._running
    processor.add_run(run(2), 1)
    assert processor._thread is not first
    assert processor.force_flush(5_000)
    processor.shutdown()
    assert 2 in traces(exporter)


def test_a_forked_child_starts_its_own_export_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentdock_plugins.otel import batching

    exporter = Exporter()
    processor = RunBatchProcessor(exporter, BatchSettings(64, 6, 60.0))
    processor.add_run(run(1), 1)
    parent_thread = processor._thread
    # What the fork hook records in a child: another process id (the parent's thread, still
    # flagged as running, does not exist there).
    monkeypatch.setattr(batching, "_process_id", batching._process_id + 1)
    processor.add_run(run(2), 1)
    assert processor._thread is not parent_thread
    assert processor.force_flush(5_000)
    processor.shutdown()
    assert traces(exporter) == [1, 2]


def test_a_thread_that_could_not_start_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = Exporter()
    processor = RunBatchProcessor(exporter, BatchSettings(64, 6, 60.0))
    first, second = run(1), run(2)  # made first: a span's resource starts threads
    real_start = threading.Thread.start

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    with pytest.raises(RuntimeError, match="new thread"):
        processor.add_run(first, 1)
    monkeypatch.setattr(threading.Thread, "start", real_start)
    processor.add_run(second, 1)  # this time the thread starts, not only at the flush
    assert processor._thread is not None and processor._thread.is_alive()
    assert processor.force_flush(5_000)
    processor.shutdown()
    assert 2 in traces(exporter)
