"""The Prometheus sink's cheaper event path exports what the reference sink exported.

The reference (``prometheus_reference_sink``) is the sink as it was before: every event
through ``.labels(...).inc()`` and ``observe``, the pipeline's counters read after every
batch. Both are fed the same batches, with the pipeline's counters moving between them, and
their whole ``/metrics`` text must be equal (``_created`` timestamps and the process
collectors aside), in one process and with ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from agentdock_plugins.prometheus.sink import PrometheusSink
from agentdock_runtime.telemetry import TelemetryQueues
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_reference_sink import ReferencePrometheusSink
from test_prometheus_sink import FakePipeline, event, make_spec, run_end

Batch = Sequence[Mapping[str, Any]]


def exported(sink: Any) -> list[str]:
    """The agentdock lines of the sink's ``/metrics`` text, ``_created`` samples left out."""
    body = sink.render_metrics()[0].decode()
    return [
        line
        for line in body.splitlines()
        if "agentdock_" in line and "_created" not in line.split("{")[0].split(" ")[0]
    ]


def emit(sink: Any, batch: Batch) -> None:
    asyncio.run(sink.emit(list(batch)))


#: Every handler, known and unknown label values, errors, malformed events.
BATCHES: list[list[dict[str, Any]]] = [
    [run_end(), event("node_event", node="upper", status="ok", duration_ms=1.0)],
    [
        run_end(mode="stream", latency_ms=2500.0, cost_usd=0.0),
        run_end(status="error", error_type="ValueError", tokens_input=0),
        run_end(status="cancelled", latency_ms=None, tokens_output=None),
        run_end(mode="batch", status="odd", latency_ms=0.0),
        run_end(mode=["unhashable"], status={"x": 1}),
        run_end(status="error", error_type=None, latency_ms=float("nan")),
    ],
    [
        event("tool_event", tool="lookup_order", status="ok", duration_ms=2.0),
        event("tool_event", tool="issue_refund", status="denied", duration_ms=0.0),
        event("tool_event", tool="not_allowed", status="error", duration_ms=float("inf")),
        event("tool_event", tool=None, status=42, duration_ms=-1.0),
        event("tool_event", tool="lookup_order", status="ok", duration_ms=60_000_000),
    ],
    [
        event("policy_event", stage="post", policy="redact_output", action="redact", matches=2),
        event("policy_event", stage="pre", policy="deny_shell", action="block", matches=0),
        event("policy_event", stage="elsewhere", policy=None, action="shout", matches=True),
        event("auth_event", outcome="failure", reason="rate_limited"),
        event("auth_event", outcome="failure", reason="made_up"),
        event("auth_event", outcome="success", reason="invalid"),
        event("error_event", error_type="TimeoutError", stage="agent"),
        event("error_event", error_type=None, stage="nowhere"),
    ],
    [
        {"event": "run_end"},
        {"no": "name"},
        event("run_end", mode="invoke", status="ok", latency_ms="slow", tokens_input=-5),
        event("run_end", mode="invoke", status="ok", latency_ms=10**400),
        event("run_end", mode="invoke", status="ok", tokens_input=3, tokens_output=10**400),
        event("tool_event", tool="lookup_order", status="ok", duration_ms=10**400),
        run_end(tokens_input=True, tokens_output=4.5, cost_usd=-1.0),
    ],
]


def _move(pipeline: FakePipeline, step: int) -> None:
    """The pipeline's counters between two batches (what the queues would have counted)."""
    stats = pipeline.telemetry_stats
    stats.queued += 3 * step
    stats.delivered += 2 * step
    stats.sink_errors += step % 2
    stats.sink_timeouts += 1 if step == 3 else 0
    pipeline.drops["langfuse"] += step
    if step == 2:
        pipeline.drops["otel"] = 5  # a sink the pipeline names only now


@pytest.mark.parametrize(
    "observability",
    [{}, {"metrics": {"latency": False}}, {"metrics": {"tokens": False, "cost": False}}, None],
    ids=["all", "no-latency", "no-tokens-cost", "no-spec"],
)
def test_same_metrics_as_the_reference_batch_by_batch(observability: Any) -> None:
    spec = make_spec(**observability) if observability is not None else None
    sinks = [PrometheusSink(spec), ReferencePrometheusSink(spec)]
    pipelines = [FakePipeline(), FakePipeline()]
    for sink, pipeline in zip(sinks, pipelines, strict=True):
        sink.bind(pipeline)
    assert exported(sinks[0]) == exported(sinks[1])
    for step, batch in enumerate(BATCHES, 1):
        for sink, pipeline in zip(sinks, pipelines, strict=True):
            _move(pipeline, step)
            emit(sink, batch)
        new, old = exported(sinks[0]), exported(sinks[1])
        assert new == old
    assert any(line.startswith("agentdock_runs_total") for line in new)
    assert any(line.startswith("agentdock_telemetry_events_queued_total 45") for line in new)


def test_same_metrics_as_the_reference_read_from_the_registry() -> None:
    """A read of the registry itself (not ``render_metrics``) sees the pipeline's counters."""
    sink, reference = PrometheusSink(make_spec()), ReferencePrometheusSink(make_spec())
    pipelines = [FakePipeline(), FakePipeline()]
    sink.bind(pipelines[0])
    reference.bind(pipelines[1])
    for pipeline in pipelines:
        pipeline.telemetry_stats.queued = 7
        pipeline.drops["langfuse"] = 4
    emit(sink, BATCHES[0])
    emit(reference, BATCHES[0])
    for name, labels in [
        ("agentdock_telemetry_events_queued_total", {}),
        ("agentdock_telemetry_events_dropped_total", {"sink": "langfuse"}),
        ("agentdock_runs_total", {"mode": "invoke", "status": "ok"}),
        ("agentdock_run_duration_seconds_bucket", {"mode": "invoke", "le": "0.25"}),
    ]:
        got = sink.registry.get_sample_value(name, labels)
        assert got == reference.registry.get_sample_value(name, labels)
        assert got


def _served(sink: Any, queue_size: int) -> tuple[list[str], TelemetryQueues]:
    """The runtime's queues give ``sink`` the runs, two or three per turn of the loop."""
    queues = TelemetryQueues(
        [sink], queue_size=queue_size, batch_size=4, sink_timeout=5.0, names=["prometheus"]
    )
    sink.bind(
        type("P", (), {"telemetry_stats": queues.stats, "telemetry_drops": queues.sink_drops})
    )

    async def go() -> None:
        for turn, batch in enumerate(BATCHES * 2):
            for _ in range(2 + turn % 2):
                queues.put(batch)
            await asyncio.sleep(0)
        await queues.aclose(5.0)

    asyncio.run(go())
    return exported(sink), queues


def test_same_metrics_as_the_reference_through_the_telemetry_queues() -> None:
    """As served: the sink is handed each run (no drain task, no ``emit``), the reference
    is fed by its queue and drain; the same metrics, the queues' counters included."""
    new, queues = _served(PrometheusSink(make_spec()), queue_size=100)
    old, reference_queues = _served(ReferencePrometheusSink(make_spec()), queue_size=100)
    assert new == old
    assert 'agentdock_runs_total{mode="invoke",status="ok"} 25.0' in new
    assert queues.stats.queued == queues.stats.delivered == reference_queues.stats.delivered


def test_handed_runs_are_counted_in_the_loops_next_turn_and_never_dropped() -> None:
    from agentdock.capabilities import HandingOverSink

    sink = PrometheusSink(make_spec())
    assert isinstance(sink, HandingOverSink)
    # A queue of one run: the reference's drain drops what one turn brings beyond it.
    new, queues = _served(sink, queue_size=1)
    old, reference_queues = _served(ReferencePrometheusSink(make_spec()), queue_size=1)
    assert queues.stats.dropped == 0 and reference_queues.stats.dropped > 0
    assert 'agentdock_runs_total{mode="invoke",status="ok"} 25.0' in new
    assert 'agentdock_runs_total{mode="invoke",status="ok"} 25.0' not in old

    counted = PrometheusSink(make_spec())
    runs = "agentdock_runs_total"

    async def turns() -> list[float | None]:
        seen = []
        for _ in range(3):
            counted.hand_over([run_end()])
        seen.append(counted.registry.get_sample_value(runs, {"mode": "invoke", "status": "ok"}))
        await asyncio.sleep(0)  # one callback counts the three
        seen.append(counted.registry.get_sample_value(runs, {"mode": "invoke", "status": "ok"}))
        counted.hand_over([run_end()])
        await counted.flush()  # what is left is counted at shutdown
        seen.append(counted.registry.get_sample_value(runs, {"mode": "invoke", "status": "ok"}))
        return seen

    assert asyncio.run(turns()) == [None, 3.0, 4.0]
    counted.hand_over([run_end(), {"event": "run_end"}])  # no loop running: counted at once
    assert counted.registry.get_sample_value(runs, {"mode": "invoke", "status": "ok"}) == 5.0
    assert counted.registry.get_sample_value("agentdock_telemetry_invalid_events_total") == 1.0


_LABELISH = st.sampled_from(
    [
        "invoke",
        "stream",
        "ok",
        "error",
        "cancelled",
        "denied",
        "pre",
        "post",
        "tool",
        "agent",
        "redact",
        "block",
        "failure",
        "rate_limited",
        "invalid",
        "lookup_order",
        "issue_refund",
        "other",
        "ValueError",
        "",
    ]
)
_VALUES = st.one_of(
    _LABELISH,
    st.text(max_size=4),
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=10**6),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=1),
)
_KEYS = st.sampled_from(
    [
        "mode",
        "status",
        "error_type",
        "latency_ms",
        "tokens_input",
        "tokens_output",
        "cost_usd",
        "tool",
        "duration_ms",
        "stage",
        "policy",
        "action",
        "matches",
        "outcome",
        "reason",
    ]
)
_EVENTS = st.builds(
    event,
    st.sampled_from(
        ["run_end", "tool_event", "policy_event", "auth_event", "error_event", "node_event"]
    ),
).flatmap(
    lambda base: st.dictionaries(_KEYS, _VALUES, max_size=8).map(
        lambda data: {**base, "data": data}
    )
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_EVENTS, max_size=6), min_size=1, max_size=5))
def test_same_metrics_as_the_reference_for_any_events(batches: list[list[Any]]) -> None:
    sink, reference = PrometheusSink(make_spec()), ReferencePrometheusSink(make_spec())
    for batch in batches:
        emit(sink, batch)
        emit(reference, batch)
    assert exported(sink) == exported(reference)


WORKER = """
import asyncio, sys
import prometheus_reference_sink, test_prometheus_sink as t, test_prometheus_identity as i
from agentdock_plugins.prometheus.sink import PrometheusSink
new = sys.argv[1] == "sink"
sink = (PrometheusSink if new else prometheus_reference_sink.ReferencePrometheusSink)(t.make_spec())
assert sink.multiprocess_dir is not None
pipeline = t.FakePipeline()
unsampled = {"otel": 0}
pipeline.telemetry_unsampled = lambda: dict(unsampled)
sink.bind(pipeline)

async def main():
    for step, batch in enumerate(i.BATCHES, 1):
        i._move(pipeline, step)
        unsampled["otel"] += step
        if new:  # as served: handed over, counted in the loop's next turn
            sink.hand_over(batch)
            await asyncio.sleep(0)
        else:
            await sink.emit(batch)
    await asyncio.sleep(1.2)  # idle, no flush: the last unsampled read still comes

asyncio.run(main())
"""

SCRAPE = """
import sys
from agentdock_plugins.prometheus.sink import PrometheusSink
sys.stdout.write(PrometheusSink().render_metrics()[0].decode())
"""


def _python(code: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_same_merged_metrics_as_the_reference_in_multiprocess_mode(tmp_path: Path) -> None:
    """Each worker writes its samples (the pipeline's counters too) to its file per batch,
    with no scrape of its own and no flush: another process's scrape sees them all (the
    trace sinks' unsampled runs, read at most once a second, a second after the batch)."""
    tests = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join([tests, str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    bodies = []
    for which in ("sink", "reference"):
        directory = tmp_path / which
        directory.mkdir()
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": path}
        _python(WORKER, which, env=env)
        _python(WORKER, which, env=env)
        body = _python(SCRAPE, env=env)
        bodies.append(sorted(line for line in body.splitlines() if "agentdock_" in line))
    unsampled = [line for line in bodies[0] if "runs_unsampled" in line]
    assert 'agentdock_telemetry_runs_unsampled_total{sink="otel"} 30.0' in unsampled
    assert [line for line in bodies[0] if line not in unsampled] == bodies[1]
    assert "agentdock_telemetry_events_queued_total 90.0" in bodies[0]
    assert 'agentdock_runs_total{mode="invoke",status="ok"} 10.0' in bodies[0]
