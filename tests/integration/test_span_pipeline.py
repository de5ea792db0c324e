"""One span pipeline for OpenTelemetry and LangFuse: each run built and encoded once, the same
span bytes at both endpoints, and every loss counted where it happened.

The sinks are built as the runtime builds them (``otel_sink``, then ``langfuse_sink`` with
what was built). Both endpoints are the in-process OTLP/HTTP receiver of the other trace
tests (it decodes with the official protobuf classes); no OTLP collector ships as a Python
wheel, so none is started here. The encoder itself is checked field by field against the
official ``trace_service_pb2`` classes by a decode round trip.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock_plugins.langgraph
import pytest
from _otlp_receiver import Receiver, Span
from _probe_spec import PROBE_DOCUMENT
from agentdock import make_plugin_manager, validate
from agentdock_plugins.langfuse import langfuse_sink
from agentdock_plugins.langfuse.exporter import BATCH_ID_HEADER, TRACES_PATH
from agentdock_plugins.langfuse.sink import LangfuseSink
from agentdock_plugins.otel import otel_sink
from agentdock_plugins.otel.sink import OtelSink
from agentdock_plugins.otel.wire import encode_head, request, span_bytes
from agentdock_runtime.events import envelope, new_span_id
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PUBLIC = "pk-lf-pipeline-0a1b2c3d"
SECRET = "sk-lf-pipeline-planted-4e5f6a7b"
_LANGGRAPH = make_plugin_manager(plugins=[("langgraph", agentdock_plugins.langgraph)])

DOCUMENT: dict[str, Any] = {
    **PROBE_DOCUMENT,
    "observability": {"langfuse": {"public_key": PUBLIC, "secret_key": SECRET}},
}


@pytest.fixture
def collector() -> Iterator[Receiver]:
    server = Receiver(path="/v1/traces").start()
    yield server
    server.stop()


@pytest.fixture
def langfuse() -> Iterator[Receiver]:
    server = Receiver(path=TRACES_PATH, basic_auth=(PUBLIC, SECRET)).start()
    yield server
    server.stop()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGENTDOCK_LANGFUSE_BUFFER", str(tmp_path / "buffer.db"))
    monkeypatch.setenv("AGENTDOCK_LANGFUSE_BACKOFF_BASE", "0.02")
    monkeypatch.setenv("AGENTDOCK_LANGFUSE_BACKOFF_MAX", "0.1")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    monkeypatch.setenv("LANGFUSE_FLUSH_INTERVAL", "0.05")
    return monkeypatch


def _sinks(
    collector: Receiver,
    langfuse: Receiver,
    env: pytest.MonkeyPatch,
    *,
    langfuse_first: bool = False,
) -> list[Any]:
    """The two sinks as the runtime builds them: ``[otel, langfuse]``, whichever factory the
    plugin manager calls first (the second joins the first's pipeline)."""
    env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    env.setenv("LANGFUSE_HOST", langfuse.url)
    report = validate(DOCUMENT, skip_imports=True, plugins=_LANGGRAPH)
    assert report.ok, [f.one_line() for f in report.errors]
    if langfuse_first:
        carried = langfuse_sink(report.spec)
        otel = otel_sink(report.spec)
        assert isinstance(otel, OtelSink) and isinstance(carried, LangfuseSink)
        assert otel.carrier is carried and carried.carrier is None
    else:
        otel = otel_sink(report.spec)
        carried = langfuse_sink(report.spec)
        assert isinstance(otel, OtelSink) and isinstance(carried, LangfuseSink)
        assert carried.carrier is otel and otel.carrier is None
    return [otel, carried]


def _run(*, tool: bool = True) -> tuple[str, list[Any]]:
    run_id = os.urandom(16).hex()
    span_id = new_span_id()
    start = time.time_ns()
    events: list[Any] = []

    def add(name: str, data: dict[str, Any]) -> None:
        events.append(
            envelope(name, "probe", data, run_id=run_id, trace_id=run_id, span_id=span_id)
        )

    if tool:
        add(
            "tool_event",
            {
                "tool": "lookup",
                "status": "ok",
                "duration_ms": 2.0,
                "start_unix_nano": start + 1_000,
                "span_id": new_span_id(),
            },
        )
    add(
        "model_event",
        {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "tokens_input": 30,
            "tokens_output": 10,
            "duration_ms": 5.0,
            "start_unix_nano": start + 5_000,
            "span_id": new_span_id(),
        },
    )
    add("policy_event", {"stage": "pre", "policy": "redact", "action": "redact", "matches": 1})
    add(
        "run_end",
        {
            "mode": "invoke",
            "status": "ok",
            "latency_ms": 20.0,
            "tokens_input": 30,
            "tokens_output": 10,
            "cost_usd": 0.0004,
            "subject": "alice",
            "thread_id": "thread-42",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "start_unix_nano": start,
            "end_unix_nano": start + 20_000_000,
        },
    )
    return span_id, events


def _emit(sinks: list[Any], *runs: list[Any]) -> None:
    async def go() -> None:
        for events in runs:
            for sink in sinks:  # the runtime hands every sink the same events
                await sink.emit(events)
        for sink in sinks:
            await sink.flush()

    asyncio.run(go())


def _shutdown(sinks: list[Any]) -> None:
    for sink in sinks:
        sink.shutdown()


def _key(span: Span) -> tuple[Any, ...]:
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.name,
        span.kind,
        span.start_ns,
        span.end_ns,
        tuple(sorted((k, repr(v)) for k, v in span.attributes.items())),
        repr(span.events),
        span.status_code,
        span.status_message,
        tuple(sorted(span.resource.items())),
    )


# -- one pipeline, the same bytes ----------------------------------------------------------------


@pytest.mark.parametrize("langfuse_first", [False, True], ids=["otel-first", "langfuse-first"])
def test_each_run_is_built_once_and_both_endpoints_get_the_same_spans(
    collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch, langfuse_first: bool
) -> None:
    sinks = _sinks(collector, langfuse, env, langfuse_first=langfuse_first)
    otel, carried = sinks
    try:
        roots = []
        for _ in range(5):
            root, events = _run()
            roots.append(root)
            _emit(sinks, events)
        assert collector.wait_for(lambda: len(collector.spans) >= 15)
        assert langfuse.wait_for(lambda: len(langfuse.spans) >= 15)
        assert otel.builder is carried.builder and otel.builder.runs == 5  # built once each
        assert otel.dropped == carried.dropped == 0
    finally:
        _shutdown(sinks)
    sent_otel = sorted(_key(span) for span in collector.spans)
    sent_langfuse = sorted(_key(span) for span in langfuse.spans)
    assert sent_otel == sent_langfuse  # the same spans, attribute for attribute
    by_name = Counter(span.name for span in collector.spans)
    assert by_name == {"invoke_agent probe": 5, "execute_tool lookup": 5, "chat gpt-4o-mini": 5}
    root = next(s for s in collector.spans if s.name == "invoke_agent probe")
    chat = next(s for s in collector.spans if s.name == "chat gpt-4o-mini")
    # GenAI semantic conventions and LangFuse's own attributes on the same span.
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["langfuse.observation.type"] == "agent"
    assert root.attributes["langfuse.trace.name"] == "probe"
    assert root.attributes["user.id"] == "alice"
    assert root.attributes["session.id"] == "thread-42"
    assert "agent:probe" in root.attributes["langfuse.trace.tags"]
    assert "redact" in root.attributes["langfuse.trace.metadata.policy_events"]
    assert chat.attributes["gen_ai.usage.input_tokens"] == 30
    assert chat.attributes["langfuse.observation.type"] == "generation"
    assert chat.attributes["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert '"total":40' in chat.attributes["langfuse.observation.usage_details"]
    assert '"total":0.0004' in chat.attributes["langfuse.observation.cost_details"]
    assert {s.span_id for s in collector.spans if s.name == "invoke_agent probe"} == set(roots)
    # Both compressed; only LangFuse gets the Basic credentials.
    assert all(r.headers.get("content-encoding") == "gzip" for r in collector.received)
    assert all(r.headers.get("content-encoding") == "gzip" for r in langfuse.received)
    assert all("authorization" not in r.headers for r in collector.received)
    assert langfuse.unauthorized == 0


def test_langfuse_down_gets_every_trace_once_while_the_collector_gets_them_live(
    collector: Receiver, env: pytest.MonkeyPatch
) -> None:
    down = Receiver(path=TRACES_PATH, basic_auth=(PUBLIC, SECRET)).start()
    down.stop()  # its port is known; nothing listens yet
    sinks = _sinks(collector, down, env)
    otel, carried = sinks
    try:
        expected = []
        for _ in range(6):
            root, events = _run()
            expected.append(root)
            _emit(sinks, events)
        assert collector.wait_for(lambda: len(collector.spans) >= 18)
        assert carried.stats["spooled"] >= 1 and carried.stats["sent"] == 0
        down.start()  # LangFuse is back
        assert down.wait_for(
            lambda: (
                Counter(s.span_id for s in down.spans if s.name == "invoke_agent probe")
                == Counter(expected)
            )
        )
        assert carried.exporter.buffer is not None
        assert down.wait_for(lambda: carried.exporter.buffer.pending() == 0)  # type: ignore[union-attr]
    finally:
        _shutdown(sinks)
        down.stop()
    batches = [item.headers[BATCH_ID_HEADER] for item in down.received]
    assert len(batches) == len(set(batches))  # each batch once: exactly once after the outage
    roots = Counter(s.span_id for s in down.spans if s.name == "invoke_agent probe")
    assert roots == Counter(expected)
    assert Counter(s.span_id for s in collector.spans if s.name == "invoke_agent probe") == Counter(
        expected
    )
    assert otel.dropped == 0 and carried.dropped == 0


def test_a_dead_collector_is_counted_on_its_sink_and_langfuse_still_gets_every_run(
    langfuse: Receiver, env: pytest.MonkeyPatch
) -> None:
    dead = Receiver(path="/v1/traces").start()
    dead.stop()
    env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    sinks = _sinks(dead, langfuse, env)
    otel, carried = sinks
    try:
        runs = [_run() for _ in range(3)]
        _emit(sinks, *(events for _, events in runs))
        assert langfuse.wait_for(lambda: len(langfuse.spans) >= 9)
    finally:
        _shutdown(sinks)
    assert otel.dropped == sum(len(events) for _, events in runs)  # every event, counted
    assert otel.stats["dropped_export"] == otel.dropped
    assert carried.dropped == 0


def test_a_planted_secret_reaches_no_span_row_or_log(
    collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    sinks = _sinks(collector, langfuse, env)
    otel, carried = sinks
    try:
        _, events = _run()
        _emit(sinks, events)
        assert collector.wait_for(lambda: len(collector.spans) >= 3)
        assert langfuse.wait_for(lambda: len(langfuse.spans) >= 3)
    finally:
        _shutdown(sinks)
    for item in [*collector.received, *langfuse.received]:
        assert SECRET.encode() not in item.body
    assert SECRET not in caplog.text
    assert SECRET not in repr(otel) + repr(carried) + repr(carried.stats)
    assert carried.exporter.buffer is not None
    rows = sqlite3.connect(carried.exporter.buffer.path).execute("SELECT * FROM batches")
    assert all(SECRET.encode() not in repr(row).encode() for row in rows)


# -- sampling ------------------------------------------------------------------------------------


def test_unsampled_runs_are_never_built_and_sampled_ones_reach_both(
    collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    env.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    env.setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
    env.setenv("LANGFUSE_SAMPLE_RATE", "0.1")
    sinks = _sinks(collector, langfuse, env)
    otel, _ = sinks
    bound = TraceIdRatioBased(0.1).bound
    try:
        runs = [_run(tool=False) for _ in range(200)]
        _emit(sinks, *(events for _, events in runs))
        kept = {root for root, events in runs if int(events[-1]["trace_id"], 16) % 2**64 < bound}
        assert collector.wait_for(lambda: len(collector.spans) >= 2 * len(kept))
        assert langfuse.wait_for(lambda: len(langfuse.spans) >= 2 * len(kept))
    finally:
        _shutdown(sinks)
    assert 0 < len(kept) < 60
    assert otel.stats["runs"] == len(kept)  # only these were built
    assert otel.stats["unsampled"] == 200 - len(kept)
    for receiver in (collector, langfuse):
        assert {s.span_id for s in receiver.spans if s.name == "invoke_agent probe"} == kept


# -- the encoder against the official protobuf classes -------------------------------------------

_values = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
)


def _decoded(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_decoded(v) for v in value.array_value.values]
    return getattr(value, which)


@settings(max_examples=150, deadline=None)
@given(
    trace_id=st.binary(min_size=16, max_size=16),
    span_id=st.integers(1, 2**64 - 1),
    parent=st.integers(0, 2**64 - 1),
    remote=st.booleans(),
    name=st.text(max_size=30),
    kind=st.integers(1, 5),
    times=st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    attributes=st.dictionaries(st.text(min_size=1, max_size=12), _values, max_size=8),
    events=st.lists(
        st.tuples(
            st.text(max_size=8),
            st.dictionaries(st.text(max_size=8), _values, max_size=3),
            st.integers(0, 2**64 - 1),
        ),
        max_size=3,
    ),
    status=st.sampled_from([(0, None), (1, None), (2, None), (2, "TimeoutError")]),
    resource=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3),
    spans=st.integers(1, 3),
)
def test_the_encoder_round_trips_through_the_official_classes(
    trace_id: bytes,
    span_id: int,
    parent: int,
    remote: bool,
    name: str,
    kind: int,
    times: tuple[int, int],
    attributes: dict[str, Any],
    events: list[tuple[str, dict[str, Any], int]],
    status: tuple[int, str | None],
    resource: dict[str, Any],
    spans: int,
) -> None:
    encoded = span_bytes(
        trace_id,
        span_id,
        parent,
        parent_remote=remote,
        name=name,
        kind=kind,
        start_ns=times[0],
        end_ns=times[1],
        attributes=attributes,
        events=events,
        status_code=status[0],
        status_message=status[1],
    )
    head = encode_head(resource, "agentdock", "1.0")
    decoded = ExportTraceServiceRequest.FromString(request(head, [encoded] * spans))
    (resource_spans,) = decoded.resource_spans
    assert {kv.key: _decoded(kv.value) for kv in resource_spans.resource.attributes} == resource
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("agentdock", "1.0")
    assert len(scope_spans.spans) == spans
    span = scope_spans.spans[0]
    assert span.trace_id == trace_id
    assert span.span_id == span_id.to_bytes(8, "big")
    assert span.parent_span_id == (parent.to_bytes(8, "big") if parent else b"")
    assert span.name == name and span.kind == kind
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == times
    assert {kv.key: _decoded(kv.value) for kv in span.attributes} == attributes
    assert [
        (e.name, {kv.key: _decoded(kv.value) for kv in e.attributes}, e.time_unix_nano)
        for e in span.events
    ] == events
    assert span.status.code == status[0] and span.status.message == (status[1] or "")
    assert span.flags == 0x100 | (0x200 if parent and remote else 0)


# -- the hand-over to the builder thread ---------------------------------------------------------


def test_emit_never_blocks_and_counts_what_the_builder_cannot_take(
    collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch
) -> None:
    """While the builder is stuck, ``emit`` returns at once; past the bound of waiting
    events each new batch is dropped and counted on the carrier, and what was taken is
    built and sent once the builder moves again."""
    env.setattr("agentdock_plugins.otel.sink.MAX_PENDING_EVENTS", 8)
    sinks = _sinks(collector, langfuse, env)
    otel, carried = sinks
    runs = [_run() for _ in range(4)]  # four events each
    try:
        with otel._lock:  # the builder thread waits here
            for _, events in runs:
                _emit_only(sinks, events)
            assert not otel.drain(timeout_s=0.05)
        assert otel.drain()
        _emit(sinks)  # flush both
        assert collector.wait_for(lambda: len(collector.spans) >= 6)
        assert langfuse.wait_for(lambda: len(langfuse.spans) >= 6)
    finally:
        _shutdown(sinks)
    assert otel.dropped == 8 and otel.stats["dropped_bounds"] == 8  # the last two runs
    assert carried.dropped == 0  # counted once, on the carrier
    sent = {s.span_id for s in collector.spans if s.name == "invoke_agent probe"}
    assert sent == {root for root, _ in runs[:2]}
    assert {s.span_id for s in langfuse.spans if s.name == "invoke_agent probe"} == sent


def _emit_only(sinks: list[Any], events: list[Any]) -> None:
    async def go() -> None:
        for sink in sinks:
            await sink.emit(events)

    asyncio.run(go())


# -- through the real runtime --------------------------------------------------------------------

#: The reference agent of examples/echo (one node that upper-cases ``text``).
ECHO_PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "echo" / "echo"


def test_the_runtime_builds_one_pipeline_for_both_backends(
    tmp_path: Path, collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch
) -> None:
    """Served through the runtime with both backends configured: each response's trace is
    at the collector and at LangFuse, the same spans at both, and nothing of the input."""
    import agentdock_plugins.langfuse
    import agentdock_plugins.litestar
    import agentdock_plugins.otel
    import yaml
    from agentdock.testing import client

    shutil.copytree(ECHO_PACKAGE, tmp_path / "echo", ignore=shutil.ignore_patterns("__pycache__"))
    document = {
        **DOCUMENT,
        "observability": {
            "otlp_endpoint": collector.url,
            "langfuse": {"public_key": PUBLIC, "secret_key": SECRET, "host": langfuse.url},
        },
    }
    path = tmp_path / "Dockfile.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    manager = make_plugin_manager(
        plugins=[
            ("langgraph", agentdock_plugins.langgraph),
            ("litestar", agentdock_plugins.litestar),
            ("otel", agentdock_plugins.otel),
            ("langfuse", agentdock_plugins.langfuse),
        ]
    )
    planted = "sk-input-planted-77aa88bb"
    with client(path, insecure_no_auth=True, plugins=manager) as http:
        responses = [http.post("/invoke", json={"text": f"hi {planted}"}) for _ in range(3)]
    assert all(response.status_code == 200 for response in responses)
    traces = {response.headers["x-trace-id"] for response in responses}

    def roots(receiver: Receiver) -> set[str]:
        return {s.trace_id for s in receiver.spans if s.name == "invoke_agent probe"}

    assert collector.wait_for(lambda: roots(collector) == traces)
    assert langfuse.wait_for(lambda: roots(langfuse) == traces)
    assert sorted(_key(s) for s in collector.spans) == sorted(_key(s) for s in langfuse.spans)
    root = next(s for s in collector.spans if s.name == "invoke_agent probe")
    assert root.attributes["langfuse.observation.type"] == "agent"
    for item in [*collector.received, *langfuse.received]:
        assert planted.encode() not in item.body and SECRET.encode() not in item.body


def test_a_sink_joins_only_a_pipeline_built_for_it(
    collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch
) -> None:
    """Built again for the same spec object, a sink never joins a pipeline another sink
    joined already or one that was flushed for shutdown."""
    env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    env.setenv("LANGFUSE_HOST", langfuse.url)
    spec = validate(DOCUMENT, skip_imports=True, plugins=_LANGGRAPH).spec
    first_otel, first_langfuse = otel_sink(spec), langfuse_sink(spec)
    assert first_langfuse is not None and first_langfuse.carrier is first_otel
    alone = otel_sink(spec)  # the first pair is complete: this one builds for itself
    assert alone is not None and alone.carrier is None
    asyncio.run(alone.flush())  # flushed for shutdown: nobody joins it any more
    late = langfuse_sink(spec)
    assert late is not None and late.carrier is None
    _shutdown([first_otel, first_langfuse, alone, late])


def _echo_run(tokens: tuple[int, int], *, error: str | None = None) -> tuple[str, list[Any]]:
    run_id = os.urandom(16).hex()
    span_id = new_span_id()
    start = time.time_ns()

    def event(name: str, data: dict[str, Any]) -> Any:
        return envelope(name, "probe", data, run_id=run_id, trace_id=run_id, span_id=span_id)

    end: dict[str, Any] = {
        "mode": "invoke",
        "status": "error" if error else "ok",
        "latency_ms": 2.0,
        "tokens_input": tokens[0],
        "tokens_output": tokens[1],
        "model": "gpt-4o-mini",
        "provider": "openai",
        "start_unix_nano": start,
        "end_unix_nano": start + 2_000_000,
    }
    if error:
        end["error_type"] = error
    node = {"node": "upper", "status": "ok", "duration_ms": 1.0, "start_unix_nano": start}
    return run_id, [event("node_event", {**node, "span_id": new_span_id()}), event("run_end", end)]


def test_reused_span_fields_never_carry_another_runs_values(
    collector: Receiver, langfuse: Receiver, env: pytest.MonkeyPatch
) -> None:
    """A run span's and a generation's repeating fields are kept between runs: each run's
    own ids, token counts and status still reach its spans, and no other run's."""
    sinks = _sinks(collector, langfuse, env)
    runs = [_echo_run((12, 7)), _echo_run((3, 4), error="Boom"), _echo_run((5, 6))]
    try:
        _emit(sinks, *(events for _, events in runs))
    finally:
        _shutdown(sinks)
    for receiver in (collector, langfuse):
        by_trace: dict[str, list[Span]] = {}
        for span in receiver.spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        assert set(by_trace) == {run_id for run_id, _ in runs}
        for (run_id, _), tokens, error in zip(
            runs, [(12, 7), (3, 4), (5, 6)], [None, "Boom", None], strict=True
        ):
            spans = {span.name: span for span in by_trace[run_id]}
            assert set(spans) == {"invoke_agent probe", "node upper", "chat gpt-4o-mini"}
            root = spans["invoke_agent probe"]
            assert root.attributes["agentdock.run_id"] == run_id
            assert root.attributes["langfuse.trace.metadata.run_id"] == f'"{run_id}"'
            assert root.attributes["gen_ai.usage.input_tokens"] == tokens[0]
            assert root.attributes["gen_ai.usage.output_tokens"] == tokens[1]
            assert root.status_code == (2 if error else 0)
            assert root.attributes.get("error.type") == error
            assert root.attributes.get("langfuse.observation.level") == ("ERROR" if error else None)
            generation = spans["chat gpt-4o-mini"]
            assert generation.parent_span_id == root.span_id
            assert generation.status_code == 0
            assert generation.attributes["langfuse.observation.usage_details"] == (
                f'{{"input":{tokens[0]},"output":{tokens[1]},"total":{sum(tokens)}}}'
            )
            assert generation.attributes["langfuse.observation.type"] == "generation"
            node = spans["node upper"]
            assert node.parent_span_id == root.span_id and node.status_code == 0
