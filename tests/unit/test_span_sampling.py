"""A run no backend samples costs a flag check: nothing built, nothing encoded, no SDK call.

The span builder asks each target's sampler once per run, before anything of the run is
built. For the samplers ``OTEL_TRACES_SAMPLER`` names (and ``LANGFUSE_SAMPLE_RATE``'s ratio)
it decides without calling the SDK (:func:`~agentdock_plugins.otel.spans.fast_decision`):
these tests check that the decision is the SDK's, run after run, and that an unsampled run
reaches none of the building or encoding code.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from agentdock_plugins.langfuse.attributes import LangfuseFlavor
from agentdock_plugins.otel import spans, wire
from agentdock_plugins.otel.spans import RunSpanBuilder, SpanTarget, fast_decision
from agentdock_runtime.events import envelope, new_span_id
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
