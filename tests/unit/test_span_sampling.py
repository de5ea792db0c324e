"""A run no backend samples costs a flag check: nothing built, nothing encoded, no SDK call.

The span builder asks each target's sampler once per run, before anything of the run is
built. For the samplers ``OTEL_TRACES_SAMPLER`` names (and ``LANGFUSE_SAMPLE_RATE``'s ratio)
it decides without calling the SDK (:func:`~agentdock_plugins.otel.spans.fast_decision`):
these tests check that the decision is the SDK's, run after run, and that an unsampled run
reaches none of the building or encoding code.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import pytest
from agentdock_plugins.langfuse.attributes import LangfuseFlavor
from agentdock_plugins.otel import spans, wire
from agentdock_plugins.otel.spans import RunSpanBuilder, SpanTarget, fast_decision
from agentdock_runtime.events import envelope, new_span_id
from integration._probe_spec import PROBE_DOCUMENT
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    _KNOWN_SAMPLERS,
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    ParentBasedTraceIdRatio,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

_RATIO = 0.1
_BOUND = TraceIdRatioBased(_RATIO).bound


def _sdk_says(sampler: Sampler, trace_id: int, caller: int, sampled: bool) -> bool:
    """The SDK's decision, asked as the builder asked it before it decided by itself."""
    if caller:
        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        context = SpanContext(trace_id, caller, is_remote=True, trace_flags=flags)
        parent = trace.set_span_in_context(NonRecordingSpan(context))
    else:
        parent = Context()
    result = sampler.should_sample(parent, trace_id, "invoke_agent probe", SpanKind.SERVER)
    return result.decision is Decision.RECORD_AND_SAMPLE


def _env_samplers() -> list[Sampler]:
    """Every sampler ``OTEL_TRACES_SAMPLER`` names, as the SDK makes it."""
    out = []
    for made in _KNOWN_SAMPLERS.values():
        out.append(made(_RATIO) if isinstance(made, type) else made)
    return out


@pytest.mark.parametrize(
    "sampler",
    [
        *_env_samplers(),
        TraceIdRatioBased(0.0),
        TraceIdRatioBased(1.0),
        ParentBasedTraceIdRatio(0.5),
        ParentBased(
            ALWAYS_OFF, remote_parent_sampled=ALWAYS_OFF, remote_parent_not_sampled=ALWAYS_ON
        ),
        ParentBased(
            TraceIdRatioBased(0.3),
            remote_parent_sampled=TraceIdRatioBased(0.7),
            remote_parent_not_sampled=TraceIdRatioBased(0.2),
        ),
    ],
    ids=lambda sampler: str(sampler.get_description()),
)
def test_the_fast_decision_is_the_sdk_samplers_decision(sampler: Sampler) -> None:
    decide = fast_decision(sampler)
    assert decide is not None
    chance = random.Random(11)  # noqa: S311 - reproducible ids, not a secret
    for _ in range(3_000):
        trace_id = chance.getrandbits(128) or 1
        caller = chance.choice((0, chance.getrandbits(64) or 1))
        sampled = chance.random() < 0.5
        assert decide(trace_id, caller, sampled) is _sdk_says(sampler, trace_id, caller, sampled)


class _OwnRatio(TraceIdRatioBased):
    def should_sample(self, *args: Any, **kwargs: Any) -> Any:
        return ALWAYS_ON.should_sample(*args, **kwargs)


def test_a_sampler_of_its_own_is_always_asked() -> None:
    assert fast_decision(_OwnRatio(0.0)) is None
    assert fast_decision(ParentBased(_OwnRatio(0.0))) is None
    assert fast_decision(ParentBased(ParentBased(ALWAYS_ON))) is None  # nested: asked too
    target = SpanTarget("own", _Queue(), _OwnRatio(0.0))
    builder = RunSpanBuilder([target], head=wire.encode_head({}, "agentdock"))
    builder.add(_run(_trace_id(sampled=False)))
    assert builder.runs == 1  # its own decision (keep), not TraceIdRatioBased's


class _Queue:
    def __init__(self) -> None:
        self.runs: list[list[bytes]] = []

    def add_run(self, spans: list[bytes], events: int) -> None:
        self.runs.append(spans)


def _trace_id(*, sampled: bool) -> str:
    """A trace id a ratio of :data:`_RATIO` keeps (``sampled``) or drops."""
    while True:
        value = int.from_bytes(os.urandom(16), "big")
        if (value & (2**64 - 1) < _BOUND) is sampled:
            return f"{value:032x}"


def _run(trace_id: str, *, caller: str | None = None, caller_sampled: bool = True) -> list[Any]:
    """A run of every kind of event: a node, a tool, a model call, a policy decision."""
    span = new_span_id()

    def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
        return envelope(name, "probe", data, run_id=trace_id, trace_id=trace_id, span_id=span)

    step = {"status": "ok", "duration_ms": 1.0, "start_unix_nano": 1_700_000_000_000_000_000}
    end: dict[str, Any] = {
        "mode": "invoke",
        "status": "ok",
        "latency_ms": 5.0,
        "tokens_input": 12,
        "tokens_output": 7,
        "cost_usd": 0.001,
        "model": "gpt-4o-mini",
        "provider": "openai",
    }
    if caller is not None:
        end.update(parent_span_id=caller, parent_sampled=caller_sampled)
    return [
        event("node_event", {**step, "node": "upper", "span_id": new_span_id()}),
        event("tool_event", {**step, "tool": "lookup", "span_id": new_span_id()}),
        event("model_event", {**step, "model": "gpt-4o-mini", "span_id": new_span_id()}),
        event("policy_event", {"policy": "redact", "stage": "input", "action": "redact"}),
        event("run_end", end),
    ]


def test_an_unsampled_run_builds_encodes_and_asks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    collector, langfuse = _Queue(), _Queue()
    targets = [
        # The collector as docs/tracing.md recommends sampling it, LangFuse by its own rate.
        SpanTarget("otel", collector, ParentBasedTraceIdRatio(_RATIO)),
        SpanTarget("langfuse", langfuse, TraceIdRatioBased(_RATIO)),
    ]
    flavor = LangfuseFlavor(environment="test", release="1.0")
    builder = RunSpanBuilder(targets, head=wire.encode_head({}, "agentdock"), flavor=flavor)

    calls: list[str] = []

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return call

    # Everything that builds or encodes a span, and the SDK samplers' own decision.
    for module, name in (
        (spans, "join_span"),
        (spans, "span_tail"),
        (spans, "run_attributes"),
        (wire, "_key_value"),
        (wire, "_attributes"),
    ):
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    for name in ("_run_plan", "_step", "_child_plan", "_encode"):
        monkeypatch.setattr(RunSpanBuilder, name, counted(name, getattr(RunSpanBuilder, name)))
    for name in ("run", "child", "more_spans"):
        monkeypatch.setattr(LangfuseFlavor, name, counted(name, getattr(LangfuseFlavor, name)))
    monkeypatch.setattr(spans.SpanPlan, "__init__", counted("plan", spans.SpanPlan.__init__))
    for kind in (ParentBased, TraceIdRatioBased):
        monkeypatch.setattr(kind, "should_sample", counted("sampler", kind.should_sample))

    dropped = [_run(_trace_id(sampled=False)) for _ in range(20)]
    # A caller's unsampled trace: the collector follows it; LangFuse's ratio keeps nothing.
    dropped.append(_run(_trace_id(sampled=False), caller=new_span_id(), caller_sampled=False))
    for events in dropped:
        builder.add(events)
    assert calls == []
    assert builder.unsampled == len(dropped) and builder.runs == 0
    assert builder.waiting == 0  # the held events went with their run
    assert collector.runs == [] and langfuse.runs == []

    # The same code does build a sampled run: the counting above would see the work.
    builder.add(_run(_trace_id(sampled=True)))
    assert builder.runs == 1 and len(collector.runs) == len(langfuse.runs) == 1
    assert {"_run_plan", "_encode", "join_span", "run", "more_spans"} <= set(calls)
    assert "sampler" not in calls  # decided without the SDK's call, kept or not

    # A caller's sampled trace: kept by the parent-based collector, not by LangFuse's ratio.
    builder.add(_run(_trace_id(sampled=False), caller=new_span_id(), caller_sampled=True))
    assert builder.runs == 2 and len(collector.runs) == 2 and len(langfuse.runs) == 1


def test_span_ids_leave_the_process_wide_random_generator_alone() -> None:
    """An agent that seeds ``random`` for reproducible runs gets the same sequence with
    telemetry on: the ids the builder makes come from AgentDock's own generator."""
    queue = _Queue()
    builder = RunSpanBuilder([SpanTarget("otel", queue, ALWAYS_ON)], head=wire.encode_head({}, "x"))
    run = _run(_trace_id(sampled=True))
    for event in run:  # spans without ids of their own: the builder makes them
        event["data"].pop("span_id", None)
    random.seed(42)
    before = random.getstate()
    builder.add(run)
    assert queue.runs and random.getstate() == before


def test_the_private_generator_is_reseeded_in_a_forked_child() -> None:
    """Parent and child draw different ids after a fork (and so replicas forked from one
    warm process do not repeat each other's trace ids)."""
    from agentdock_plugins.privaterandom import RANDOM

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, RANDOM.getrandbits(64).to_bytes(8, "big"))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    drawn_in_child = int.from_bytes(os.read(read, 8), "big")
    os.close(read)
    assert drawn_in_child != RANDOM.getrandbits(64)


# -- runs no target samples are left out on the event loop ----------------------------------------


def _spec() -> Any:
    from agentdock import validate

    document = PROBE_DOCUMENT  # the telemetry sink tests' probe agent
    report = validate(document, skip_imports=True)
    assert report.ok
    return report.spec


class _Processor(_Queue):
    def shutdown(self) -> None:
        return None


def _pipeline() -> tuple[Any, _Processor, _Processor, Any]:
    """An OpenTelemetry sink sampled as docs/tracing.md recommends, with LangFuse's ratio
    attached to it (as ``langfuse_sink`` joins ``otel_sink``)."""
    from agentdock_plugins.otel.sink import OtelSink

    collector, langfuse = _Processor(), _Processor()
    carrier = OtelSink(_spec(), processor=collector, sampler=ParentBasedTraceIdRatio(_RATIO))
    attached = OtelSink(
        _spec(), processor=langfuse, sampler=TraceIdRatioBased(_RATIO), carrier=carrier
    )
    return carrier, collector, langfuse, attached


@pytest.mark.parametrize(
    "sampler",
    [
        ParentBasedTraceIdRatio(_RATIO),
        TraceIdRatioBased(_RATIO),
        ParentBased(ALWAYS_OFF),
        ALWAYS_OFF,
        ParentBased(
            TraceIdRatioBased(0.3),
            remote_parent_sampled=TraceIdRatioBased(0.7),
            remote_parent_not_sampled=TraceIdRatioBased(0.2),
        ),
    ],
    ids=lambda sampler: str(sampler.get_description()),
)
def test_samples_none_is_the_builders_own_decision(sampler: Sampler) -> None:
    chance = random.Random(5)  # noqa: S311 - reproducible ids, not a secret
    for _ in range(300):
        queue = _Queue()
        builder = RunSpanBuilder(
            [SpanTarget("otel", queue, sampler), SpanTarget("other", queue, sampler)],
            head=wire.encode_head({}, "agentdock"),
        )
        caller = chance.choice((None, new_span_id()))
        run = _run(
            f"{chance.getrandbits(128) or 1:032x}",
            caller=caller,
            caller_sampled=chance.random() < 0.5,
        )
        said = builder.samples_none(run[-1])
        builder.add(run)
        assert said is (builder.unsampled == 1)


def test_samples_none_says_no_when_it_cannot_tell() -> None:
    head = wire.encode_head({}, "agentdock")
    dropping = _run(_trace_id(sampled=False))
    assert RunSpanBuilder(
        [SpanTarget("a", _Queue(), TraceIdRatioBased(_RATIO))], head=head
    ).samples_none(dropping[-1])
    # A sampler of its own is asked on the builder thread; no sampler keeps every run.
    own = RunSpanBuilder([SpanTarget("own", _Queue(), _OwnRatio(0.0))], head=head)
    assert not own.samples_none(dropping[-1])
    every = RunSpanBuilder([SpanTarget("all", _Queue(), None)], head=head)
    assert not every.samples_none(dropping[-1])
    # No valid trace id: the builder draws one, so the decision waits for it.
    ratio = RunSpanBuilder([SpanTarget("a", _Queue(), ALWAYS_OFF)], head=head)
    end = {**dropping[-1], "trace_id": "not-a-trace-id"}
    assert not ratio.samples_none(end)


def test_an_unsampled_run_is_not_handed_to_the_builder_thread() -> None:
    carrier, collector, langfuse, attached = _pipeline()
    try:
        batch = [event for _ in range(10) for event in _run(_trace_id(sampled=False))]
        # A caller's unsampled trace: the collector follows it, LangFuse's ratio drops it.
        batch += _run(_trace_id(sampled=False), caller=new_span_id(), caller_sampled=False)
        asyncio.run(carrier.emit(batch))
        assert carrier._thread is None and not carrier._pending  # never woken, nothing queued
        assert carrier._put == 0
        for sink in (carrier, attached):
            stats = sink.stats
            assert stats["unsampled"] == 11 and stats["runs"] == 0
            assert stats["dropped"] == 0 and sink.dropped == 0  # not sampled is not lost
        assert collector.runs == [] and langfuse.runs == []
    finally:
        carrier.shutdown()
        attached.shutdown()


def test_sampled_runs_of_a_batch_are_still_built_and_a_sampled_caller_is_followed() -> None:
    carrier, collector, langfuse, attached = _pipeline()
    try:
        kept = _run(_trace_id(sampled=True))
        followed = _run(_trace_id(sampled=False), caller=new_span_id(), caller_sampled=True)
        dropped = _run(_trace_id(sampled=False))
        asyncio.run(carrier.emit([*dropped, *kept, *followed]))
        assert carrier.drain()
        assert carrier._put == len(kept) + len(followed)  # the unsampled run stayed out
        # The ratio keeps its run for both; the caller's sampled flag keeps the other for
        # the parent-based collector only (LangFuse's rate ignores the caller).
        assert len(collector.runs) == 2 and len(langfuse.runs) == 1
        assert carrier.stats["runs"] == 2 and carrier.stats["unsampled"] == 1
        assert carrier.dropped == 0 and carrier.builder.waiting == 0
    finally:
        carrier.shutdown()
        attached.shutdown()


def test_a_run_whose_events_came_earlier_is_ended_by_the_builder() -> None:
    """A run split over two batches: its first events wait in the builder, so its end
    goes there too (left out on the loop, the held events would wait for ever)."""
    carrier, collector, _, attached = _pipeline()
    try:
        run = _run(_trace_id(sampled=False))
        asyncio.run(carrier.emit(run[:2]))
        assert carrier.drain() and carrier.builder.waiting == 1
        asyncio.run(carrier.emit(run[2:]))
        assert carrier.drain()
        assert carrier.builder.waiting == 0 and carrier.stats["unsampled"] == 1
        assert carrier.dropped == 0 and collector.runs == []
    finally:
        carrier.shutdown()
        attached.shutdown()


def test_the_builder_is_woken_only_when_its_queue_was_empty() -> None:
    carrier, collector, _, attached = _pipeline()
    sets: list[int] = []
    real = carrier._wake.set

    def counted() -> None:
        sets.append(1)
        real()

    carrier._wake.set = counted  # type: ignore[method-assign]
    try:
        with carrier._lock:  # the builder cannot build: what is handed over waits
            for _ in range(5):
                carrier.put(_run(_trace_id(sampled=True)))
            time.sleep(0.05)
            waiting = len(carrier._pending)
        assert carrier.drain()
        # One wake-up for the first batch, one more if the builder took it before the
        # second came; none for a batch put while others waited.
        assert waiting >= 4 and len(sets) <= 2
        assert len(collector.runs) == 5
    finally:
        carrier.shutdown()
        attached.shutdown()


def test_the_runtime_hands_runs_to_the_carrier_only() -> None:
    from agentdock.capabilities import HandingOverSink
    from agentdock_runtime.telemetry import TelemetryQueues

    carrier, collector, langfuse, attached = _pipeline()
    assert isinstance(carrier, HandingOverSink) and attached.wants == frozenset()
    queues = TelemetryQueues(
        [carrier, attached],
        names=["otel", "langfuse"],
        queue_size=10,
        batch_size=64,
        sink_timeout=1,
    )
    try:

        async def main() -> None:
            queues.put(_run(_trace_id(sampled=True)))
            queues.put(_run(_trace_id(sampled=False)))
            await queues.aclose(1.0)

        asyncio.run(main())
        assert carrier.drain()
        assert len(collector.runs) == len(langfuse.runs) == 1  # built once, for both
        assert carrier.stats["unsampled"] == attached.stats["unsampled"] == 1
        assert queues.sink_drops() == {"otel": 0, "langfuse": 0}
    finally:
        carrier.shutdown()
        attached.shutdown()


def test_runs_left_unsampled_are_exported_per_sink_beside_its_losses() -> None:
    """``agentdock_telemetry_runs_unsampled_total{sink}``: each trace sink's ``unsampled``,
    read through the pipeline's queues when the metrics are read."""
    from agentdock_plugins.prometheus.sink import PrometheusSink
    from agentdock_runtime.telemetry import TelemetryQueues

    carrier, collector, langfuse, attached = _pipeline()
    metrics = PrometheusSink()
    queues = TelemetryQueues(
        [metrics, carrier, attached],
        names=["prometheus", "otel", "langfuse"],
        queue_size=10,
        batch_size=64,
        sink_timeout=1,
    )
    pipeline = type(
        "Pipeline",
        (),
        {
            "telemetry_stats": queues.stats,
            "telemetry_drops": queues.sink_drops,
            "telemetry_unsampled": queues.sink_unsampled,
        },
    )
    metrics.bind(pipeline)
    name = "agentdock_telemetry_runs_unsampled_total"
    try:
        # Only the sinks that sample have a series, from the start, at 0.
        assert metrics.registry.get_sample_value(name, {"sink": "otel"}) == 0
        assert metrics.registry.get_sample_value(name, {"sink": "prometheus"}) is None

        async def main() -> None:
            for _ in range(3):
                queues.put(_run(_trace_id(sampled=False)))
            queues.put(_run(_trace_id(sampled=True)))
            await queues.aclose(1.0)

        asyncio.run(main())
        assert carrier.drain()
        body = metrics.render_metrics()[0].decode()
        assert f'{name}{{sink="otel"}} 3.0' in body
        assert f'{name}{{sink="langfuse"}} 3.0' in body
        assert 'agentdock_telemetry_events_dropped_total{sink="otel"} 0.0' in body
        assert len(collector.runs) == len(langfuse.runs) == 1
        metrics.render_metrics()  # read again: nothing new counted twice
        assert metrics.registry.get_sample_value(name, {"sink": "langfuse"}) == 3
    finally:
        carrier.shutdown()
        attached.shutdown()
