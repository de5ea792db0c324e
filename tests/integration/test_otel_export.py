"""OpenTelemetry export: GenAI span trees decoded from what an OTLP/HTTP receiver gets.

Events are fed two ways: hand-made in the runtime's envelope (every field under control,
children of all kinds), and through a real agent served in-process (the trace id must be
the one the caller saw in ``x-trace-id``; a caller's ``traceparent`` is continued; a
malformed one starts a new trace; a planted secret never leaves in a span).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import agentdock_plugins.otel
import pytest
from _otlp_receiver import Receiver, Span, stalled_collector
from _probe_spec import PROBE_DOCUMENT
from agentdock import make_plugin_manager, validate
from agentdock.testing import client
from agentdock_plugins.otel import otel_sink
from agentdock_plugins.otel.config import traces_endpoint
from agentdock_plugins.otel.sink import OtelSink
from agentdock_runtime.events import envelope, new_span_id
from hypothesis import example, given, settings
from hypothesis import strategies as st

SECRET = "sk-otel-planted-7f3a9c1e5b2d4680"
SERVER, INTERNAL, CLIENT = 2, 1, 3  # protobuf Span.SpanKind values
STATUS_ERROR = 2

DOCUMENT: dict[str, Any] = PROBE_DOCUMENT


_LANGGRAPH = make_plugin_manager(plugins=[("langgraph", agentdock_plugins.langgraph)])


def _spec(**observability: Any) -> Any:
    document = {**DOCUMENT, "observability": observability}
    report = validate(document, skip_imports=True, plugins=_LANGGRAPH)
    assert report.ok, [f.one_line() for f in report.errors]
    return report.spec


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def sink(receiver: Receiver) -> Iterator[OtelSink]:
    made = OtelSink(_spec(), endpoint=f"{receiver.url}/v1/traces")
    yield made
    made.shutdown()


def _deliver(sink: OtelSink, events: list[dict[str, Any]]) -> None:
    async def go() -> None:
        await sink.emit(events)
        await sink.flush()

    asyncio.run(go())


class Run:
    """The events of one run, as the runtime emits them."""

    def __init__(self, *, parent_span_id: str | None = None, trace_id: str | None = None):
        self.run_id = os.urandom(16).hex()
        self.trace_id = trace_id or self.run_id
        self.span_id = new_span_id()
        self.parent_span_id = parent_span_id
        self.start = time.time_ns()
        self.events: list[dict[str, Any]] = []

    def event(self, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        made = envelope(
            name,
            "probe",
            data,
            run_id=self.run_id,
            trace_id=self.trace_id,
            span_id=self.span_id,
        )
        self.events.append(made)
        return made

    def child(self, name: str, offset_ms: float, duration_ms: float, **data: Any) -> str:
        span_id = new_span_id()
        start = self.start + int(offset_ms * 1e6)
        self.event(
            name,
            {**data, "duration_ms": duration_ms, "start_unix_nano": start, "span_id": span_id},
        )
        return span_id

    def end(self, status: str = "ok", error_type: str | None = None, **extra: Any) -> None:
        self.event(
            "run_end",
            {
                "mode": "invoke",
                "status": status,
                "success": status == "ok",
                "error_type": error_type,
                "latency_ms": 40.0,
                "tokens_input": 12,
                "tokens_output": 7,
                "cost_usd": 0.00042,
                "role": "user",
                "subject": "alice",
                "thread_id": "thread-9",
                "retries": 0,
                "model": "gpt-4o-mini",
                "provider": "openai",
                "start_unix_nano": self.start,
                "end_unix_nano": self.start + 40_000_000,
                "parent_span_id": self.parent_span_id,
                **extra,
            },
        )


def _by_name(spans: list[Span]) -> dict[str, Span]:
    return {span.name: span for span in spans}


# -- the span tree from hand-made events ---------------------------------------------------------


def test_run_tree_names_ids_and_attributes(receiver: Receiver, sink: OtelSink) -> None:
    run = Run()
    run.event("run_start", {"mode": "invoke", "start_unix_nano": run.start})
    node = run.child("node_event", 1, 30, node="agent", status="ok")
    tool = run.child(
        "tool_event", 5, 10, tool="lookup_order", call_id="call-1", status="ok", parent_span_id=node
    )
    model = run.child(
        "model_event",
        2,
        3,
        model="gpt-4o-mini",
        provider="openai",
        tokens_input=12,
        tokens_output=7,
    )
    run.event(
        "policy_event",
        {
            "stage": "post",
            "policy": "redact",
            "action": "redact",
            "matches": 2,
            "duration_ms": 0.1,
            "kinds": ["email"],
        },
    )
    run.end()
    _deliver(sink, run.events)
    assert receiver.wait_for(lambda: len(receiver.spans) == 4)

    spans = _by_name(receiver.spans)
    assert set(spans) == {
        "invoke_agent probe",
        "node agent",
        "execute_tool lookup_order",
        "chat gpt-4o-mini",
    }
    root = spans["invoke_agent probe"]
    assert {span.trace_id for span in spans.values()} == {run.trace_id}
    assert root.span_id == run.span_id and root.parent_span_id == ""
    assert spans["node agent"].span_id == node
    assert spans["node agent"].parent_span_id == run.span_id
    assert spans["execute_tool lookup_order"].span_id == tool
    assert spans["execute_tool lookup_order"].parent_span_id == node
    assert spans["chat gpt-4o-mini"].span_id == model
    assert spans["chat gpt-4o-mini"].parent_span_id == run.span_id

    assert root.kind == SERVER
    assert root.start_ns == run.start and root.end_ns == run.start + 40_000_000
    assert root.attributes == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "probe",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.conversation.id": "thread-9",
        "agentdock.run_id": run.run_id,
        "agentdock.run.mode": "invoke",
        "agentdock.run.status": "ok",
        "agentdock.run.retries": 0,
        "agentdock.role": "user",
        "agentdock.subject": "alice",
        "agentdock.cost_usd": 0.00042,
    }
    assert root.events == [
        (
            "agentdock.policy",
            {
                "agentdock.policy.name": "redact",
                "agentdock.policy.stage": "post",
                "agentdock.policy.action": "redact",
                "agentdock.policy.matches": 2,
                "agentdock.policy.duration_ms": 0.1,
                "agentdock.policy.kinds": ["email"],
            },
        )
    ]
    assert root.resource["service.name"] == "probe"
    assert root.resource["service.version"] == "2.3.0"
    assert root.scope == "agentdock"

    tool_span = spans["execute_tool lookup_order"]
    assert tool_span.kind == INTERNAL
    assert tool_span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_span.attributes["gen_ai.tool.name"] == "lookup_order"
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call-1"
    assert tool_span.end_ns - tool_span.start_ns == 10_000_000
    chat = spans["chat gpt-4o-mini"]
    assert chat.kind == CLIENT
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12
    assert chat.attributes["gen_ai.provider.name"] == "openai"


def test_children_wait_for_their_run_across_batches(receiver: Receiver, sink: OtelSink) -> None:
    run = Run()
    run.child("tool_event", 1, 2, tool="search", status="ok")

    async def go() -> None:
        await sink.emit(run.events[:1])
        assert sink.drain()
        assert sink.stats["waiting"] == 1
        run.end()
        await sink.emit(run.events[1:])
        await sink.flush()

    asyncio.run(go())
    assert receiver.wait_for(lambda: len(receiver.spans) == 2)
    spans = _by_name(receiver.spans)
    assert spans["execute_tool search"].parent_span_id == run.span_id
    stats = sink.stats
    assert (stats["runs"], stats["waiting"], stats["exported_runs"]) == (1, 0, 1)
    assert stats["dropped"] == stats["lost_runs"] == 0


def test_failed_run_and_denied_tool_are_errors(receiver: Receiver, sink: OtelSink) -> None:
    run = Run()
    run.child("tool_event", 1, 1, tool="issue_refund", call_id="c2", status="denied")
    run.event(
        "error_event",
        {"error_type": "ToolDeniedError", "code": 403, "detail": "denied", "stage": "tool"},
    )
    run.end(status="error", error_type="ToolDeniedError")
    _deliver(sink, run.events)
    assert receiver.wait_for(lambda: len(receiver.spans) == 2)
    spans = _by_name(receiver.spans)
    root = spans["invoke_agent probe"]
    assert root.status_code == STATUS_ERROR
    assert root.attributes["error.type"] == "ToolDeniedError"
    assert root.events == [
        (
            "agentdock.error",
            {
                "error.type": "ToolDeniedError",
                "http.response.status_code": 403,
                "agentdock.stage": "tool",
            },
        )
    ]
    tool = spans["execute_tool issue_refund"]
    assert tool.status_code == STATUS_ERROR
    assert tool.attributes["error.type"] == "denied"


def test_caller_span_is_the_run_parent(receiver: Receiver, sink: OtelSink) -> None:
    caller_trace, caller_span = os.urandom(16).hex(), new_span_id()
    run = Run(parent_span_id=caller_span, trace_id=caller_trace)
    run.end(http_method="POST", http_route="/invoke", http_status_code=200)
    _deliver(sink, run.events)
    assert receiver.wait_for(lambda: len(receiver.spans) == 1)
    (root,) = receiver.spans
    assert root.trace_id == caller_trace
    assert root.parent_span_id == caller_span
    assert root.span_id == run.span_id
    assert root.attributes["http.request.method"] == "POST"
    assert root.attributes["http.route"] == "/invoke"
    assert root.attributes["http.response.status_code"] == 200


def test_pending_runs_are_bounded(receiver: Receiver) -> None:
    sink = OtelSink(_spec(), endpoint=f"{receiver.url}/v1/traces")
    sink.builder._max_runs = 3
    try:
        runs = [Run() for _ in range(5)]
        for run in runs:
            run.child("node_event", 1, 1, node="n", status="ok")
        asyncio.run(sink.emit([event for run in runs for event in run.events]))
        assert sink.drain()  # the builder thread has built them
        assert sink.stats["waiting"] == 3
        assert sink.stats["dropped"] == 2
        sink.builder._max_held = 4
        flood = Run()
        for _ in range(10):
            flood.child("node_event", 1, 1, node="n", status="ok")
        asyncio.run(sink.emit(flood.events))
        assert sink.drain()  # the builder thread has built them
        assert sink.builder._held_count <= 4
        # The three older runs go first, then the flood's own oldest events, four at a time.
        assert sink.stats["dropped"] == 2 + 3 + 8
    finally:
        sink.shutdown()


_hex = st.text("0123456789abcdef", min_size=1, max_size=40)
_field = st.one_of(st.none(), st.integers(-5, 10**19), st.floats(allow_nan=True), _hex, st.text())


@settings(max_examples=60, deadline=None)
@given(
    trace_id=st.one_of(st.none(), _hex, st.just("0" * 32)),
    span_id=st.one_of(st.none(), _hex, st.just("0" * 16)),
    data=st.dictionaries(
        st.sampled_from(
            [
                "start_unix_nano",
                "end_unix_nano",
                "latency_ms",
                "tokens_input",
                "status",
                "parent_span_id",
                "thread_id",
                "cost_usd",
                "model",
            ]
        ),
        _field,
    ),
    children=st.lists(
        st.tuples(
            st.sampled_from(["tool_event", "node_event", "model_event", "policy_event", "other"]),
            st.dictionaries(
                st.sampled_from(["span_id", "start_unix_nano", "duration_ms", "tool", "kinds"]),
                _field,
            ),
        ),
        max_size=4,
    ),
)
@example(trace_id=None, span_id=None, data={"latency_ms": float("inf")}, children=[])
# A run that ends 1 ns after the epoch and lasted 1 ms: its start is clamped, not negative.
@example(trace_id=None, span_id=None, data={"end_unix_nano": 1, "latency_ms": 1}, children=[])
@example(
    trace_id=None,
    span_id=None,
    data={"start_unix_nano": 10**19, "end_unix_nano": 10**19, "latency_ms": 1e300},
    children=[("tool_event", {"duration_ms": float("nan"), "start_unix_nano": 10**19})],
)
def test_any_event_shape_builds_without_raising(
    trace_id: Any, span_id: Any, data: dict[str, Any], children: list[tuple[str, Any]]
) -> None:
    queue = RecordingQueue()
    sink = OtelSink(_spec(), processor=queue)
    base = {"agent": "probe", "run_id": "r" * 32, "trace_id": trace_id, "span_id": span_id}
    events = [{**base, "event": name, "data": child} for name, child in children]
    events.append({**base, "event": "run_end", "data": data})
    asyncio.run(sink.emit(events))
    assert sink.drain()  # the builder thread has built them
    spans = queue.spans(sink)
    assert spans and spans[-1].name == "invoke_agent probe"
    root = spans[-1]
    valid_trace = isinstance(trace_id, str) and len(trace_id) == 32 and trace_id != "0" * 32
    if valid_trace:
        assert root.trace_id.hex() == trace_id
    if isinstance(span_id, str) and len(span_id) == 16 and span_id != "0" * 16:
        assert root.span_id.hex() == span_id
    assert all(span.trace_id == root.trace_id for span in spans)


class RecordingQueue:
    """A target queue that keeps each run's encoded spans, for decoding."""

    def __init__(self) -> None:
        self.runs: list[tuple[list[bytes], int]] = []

    def add_run(self, spans: list[bytes], events: int) -> None:
        self.runs.append((spans, events))

    def spans(self, sink: OtelSink) -> list[Any]:
        from agentdock_plugins.otel.wire import request
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        out = []
        for spans, _ in self.runs:
            decoded = ExportTraceServiceRequest.FromString(request(sink.head, spans))
            out.extend(decoded.resource_spans[0].scope_spans[0].spans)
        return out


# -- configuration -------------------------------------------------------------------------------


def test_endpoint_resolution() -> None:
    spec = _spec()
    assert traces_endpoint(spec, {}) is None
    assert traces_endpoint(spec, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == (
        "http://c:4318/v1/traces"
    )
    both = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4318/custom",
    }
    assert traces_endpoint(spec, both) == "http://t:4318/custom"
    named = _spec(otlp_endpoint="http://file:4318")
    assert traces_endpoint(named, {}) == "http://file:4318/v1/traces"
    assert traces_endpoint(named, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:1"}) == (
        "http://env:1/v1/traces"
    )
    assert traces_endpoint(_spec(otlp_endpoint="http://f:1", tracing=False), {}) is None
    assert traces_endpoint(named, {"OTEL_SDK_DISABLED": "true"}) is None
    assert traces_endpoint(named, {"OTEL_TRACES_EXPORTER": "none"}) is None
    assert traces_endpoint(named, {"OTEL_TRACES_EXPORTER": "console,otlp"}) is not None


def test_dockfile_endpoint_must_be_http() -> None:
    document = {**DOCUMENT, "observability": {"otlp_endpoint": "collector:4318"}}
    report = validate(document, skip_imports=True, plugins=_LANGGRAPH)
    assert not report.ok
    assert any("observability.otlp_endpoint" in f.one_line() for f in report.errors)
    v10 = {**DOCUMENT, "version": "1.0", "observability": {"otlp_endpoint": "http://c:1"}}
    v10["auth"] = {"mode": "api_key", "api_keys": {"enabled": True}}
    assert not validate(v10, skip_imports=True, plugins=_LANGGRAPH).ok


def test_factory_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    assert otel_sink(_spec()) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    made = otel_sink(_spec())
    assert isinstance(made, OtelSink)
    assert made.endpoint == "http://127.0.0.1:9/v1/traces"
    made.shutdown()
    manager = make_plugin_manager(plugins=[("otel", agentdock_plugins.otel)])
    assert "otel" in manager.registrations("telemetry_sinks")


def test_service_name_and_resource_from_the_environment(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "billing-agent")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=ml")
    sink = OtelSink(_spec(), endpoint=f"{receiver.url}/v1/traces")
    try:
        run = Run()
        run.end()
        _deliver(sink, run.events)
        assert receiver.wait_for(lambda: len(receiver.spans) == 1)
        resource = receiver.spans[0].resource
        assert resource["service.name"] == "billing-agent"
        assert resource["deployment.environment.name"] == "staging"
        assert resource["team"] == "ml"
    finally:
        sink.shutdown()


def test_sampler_from_the_environment_drops_whole_runs(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    sink = OtelSink(_spec(), endpoint=f"{receiver.url}/v1/traces")
    try:
        run = Run()
        run.child("tool_event", 1, 1, tool="search", status="ok")
        run.end()
        _deliver(sink, run.events)  # flush returns once the processor has exported
        assert receiver.received == []
        assert sink.stats["runs"] == 0 and sink.stats["unsampled"] == 1  # never built
    finally:
        sink.shutdown()


def test_dead_collector_neither_raises_nor_hangs_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")
    dead = Receiver().start()
    url = dead.url
    dead.stop()
    sink = OtelSink(_spec(), endpoint=f"{url}/v1/traces")
    run = Run()
    run.end()
    _deliver(sink, run.events)  # a refused connection is the exporter's problem, not ours
    assert sink.stats["runs"] == 1
    sink.shutdown()


def test_a_stalled_collector_loses_only_counted_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collector that takes requests and answers none while 300 runs arrive, then restarts
    (the stalled requests are cut off): the sink has no buffer, so runs are lost, but each
    lost run is counted, and each run that arrives arrives whole and once."""
    stalled = stalled_collector(monkeypatch)
    sink = OtelSink(_spec(), endpoint=f"{stalled.url}/v1/traces")
    expected: list[str] = []

    async def flood() -> None:
        for _ in range(20):
            batch: list[dict[str, Any]] = []
            for _ in range(15):
                run = Run()
                run.child("tool_event", 1, 1, tool="search", status="ok")
                run.end()
                expected.append(run.trace_id)
                batch.extend(run.events)
            await sink.emit(batch)

    try:
        asyncio.run(flood())
        assert stalled.wait_for(lambda: stalled.stalled >= 1)
        assert stalled.wait_for(lambda: sink.stats["dropped"] > 0)
        stalled.release(land=False)

        def settled() -> bool:
            arrived = {span.trace_id for span in stalled.spans}
            return len(arrived) + sink.stats["dropped"] // 2 >= len(expected)

        asyncio.run(sink.flush())
        assert stalled.wait_for(settled), sink.stats
    finally:
        sink.shutdown()
        stalled.stop()
    names: dict[str, list[str]] = {}
    for span in stalled.spans:
        names.setdefault(span.trace_id, []).append(span.name)
    assert set(names) <= set(expected)
    assert all(sorted(n) == ["execute_tool search", "invoke_agent probe"] for n in names.values())
    missing = set(expected) - set(names)
    assert missing, "the stall cost some runs"
    assert len(missing) * 2 == sink.stats["dropped"]  # two events per run: tool, run_end
    assert sink.dropped == sink.stats["dropped"]


# -- through the real runtime --------------------------------------------------------------------

#: The reference agent of examples/echo (one node that upper-cases ``text``).
ECHO_PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "echo" / "echo"


def _project(tmp_path: Path, endpoint: str, redact: bool) -> Path:
    import yaml

    shutil.copytree(ECHO_PACKAGE, tmp_path / "echo", ignore=shutil.ignore_patterns("__pycache__"))
    document = {**DOCUMENT, "observability": {"otlp_endpoint": endpoint}}
    if redact:
        document["policies"] = {"safety": {"redact_patterns": ["sk-otel-[a-z0-9-]+"]}}
    path = tmp_path / "Dockfile.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _manager() -> Any:
    import agentdock_plugins.policies

    return make_plugin_manager(
        plugins=[
            ("langgraph", agentdock_plugins.langgraph),
            ("litestar", agentdock_plugins.litestar),
            ("policies", agentdock_plugins.policies),
            ("otel", agentdock_plugins.otel),
        ]
    )


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_otel_env")
@pytest.mark.parametrize("redact", [True, False], ids=["redaction", "no-redaction"])
def test_runtime_trace_matches_x_trace_id_and_keeps_secrets(
    tmp_path: Path, receiver: Receiver, redact: bool
) -> None:
    path = _project(tmp_path, receiver.url, redact)
    caller_trace, caller_span = os.urandom(16).hex(), new_span_id()
    with client(path, insecure_no_auth=True, plugins=_manager()) as http:
        plain = http.post("/invoke", json={"text": f"hello {SECRET}"})
        continued = http.post(
            "/invoke",
            json={"text": f"again {SECRET}"},
            headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"},
        )
        malformed = http.post(
            "/invoke",
            json={"text": "third"},
            headers={"traceparent": f"00-{caller_trace.upper()}-zz-01"},
        )
    for response in (plain, continued, malformed):
        assert response.status_code == 200, response.text
    assert receiver.wait_for(lambda: len(receiver.spans) >= 3)

    roots = {span.trace_id: span for span in receiver.spans if span.name == "invoke_agent probe"}
    assert set(roots) >= {
        plain.headers["x-trace-id"],
        continued.headers["x-trace-id"],
        malformed.headers["x-trace-id"],
    }
    assert continued.headers["x-trace-id"] == caller_trace
    assert roots[caller_trace].parent_span_id == caller_span
    assert malformed.headers["x-trace-id"] != caller_trace
    assert roots[malformed.headers["x-trace-id"]].parent_span_id == ""
    assert roots[plain.headers["x-trace-id"]].parent_span_id == ""
    plain_root = roots[plain.headers["x-trace-id"]]
    assert plain_root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert plain_root.attributes["gen_ai.agent.name"] == "probe"
    assert plain_root.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert plain_root.attributes["gen_ai.provider.name"] == "openai"
    assert plain_root.attributes["agentdock.run_id"] == plain.headers["x-run-id"]

    for item in receiver.received:
        assert SECRET.encode() not in item.body
        assert SECRET.upper().encode() not in item.body
        assert b"sk-otel" not in item.body.lower()


@pytest.mark.usefixtures("no_otel_env")
def test_failed_run_is_an_error_span_under_its_x_trace_id(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = _project(tmp_path, receiver.url, redact=False)
    with client(path, insecure_no_auth=True, plugins=_manager()) as http:
        failed = http.post("/invoke", json={"text": 5})
    assert failed.status_code == 422, failed.text
    trace_id = failed.headers["x-trace-id"]
    assert receiver.wait_for(lambda: any(s.trace_id == trace_id for s in receiver.spans))
    (root,) = [s for s in receiver.spans if s.trace_id == trace_id]
    assert root.status_code == STATUS_ERROR
    assert root.attributes["error.type"] == failed.json()["error"]
    assert root.events[0][0] == "agentdock.error"


# -- the wire encoder agrees with the SDK's --------------------------------------------------------

_attribute_values = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
)


@settings(max_examples=100, deadline=None)
@given(
    attributes=st.dictionaries(st.text(min_size=1, max_size=12), _attribute_values, max_size=6),
    event_attributes=st.dictionaries(st.text(max_size=8), _attribute_values, max_size=3),
    kind=st.sampled_from([0, 1, 2, 3, 4]),
    error=st.one_of(st.none(), st.text(max_size=10)),
    remote_parent=st.booleans(),
    ids=st.tuples(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.integers(1, 2**64 - 1)),
)
def test_wire_encoding_matches_the_sdk_encoder(
    attributes: dict[str, Any],
    event_attributes: dict[str, Any],
    kind: int,
    error: str | None,
    remote_parent: bool,
    ids: tuple[int, int, int],
) -> None:
    from agentdock_plugins.otel.wire import encode_request
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    trace_id, span_id, parent_id = ids
    flags = TraceFlags(TraceFlags.SAMPLED)
    resource = Resource({"service.name": "probe", "n": 3})
    scope = InstrumentationScope("agentdock")
    spans = [
        ReadableSpan(
            "span",
            context=SpanContext(trace_id, span_id, False, flags),
            parent=SpanContext(trace_id, parent_id, remote_parent, flags),
            resource=resource,
            attributes=attributes,
            events=[Event("e", event_attributes, 7)],
            kind=SpanKind(kind),
            status=Status(StatusCode.ERROR, error) if error is not None else Status(),
            start_time=1,
            end_time=2**63,
            instrumentation_scope=scope,
        ),
        ReadableSpan(
            "root",
            context=SpanContext(trace_id, parent_id, False, flags),
            resource=resource,
            start_time=5,
            end_time=6,
            instrumentation_scope=scope,
        ),
    ]
    ours = ExportTraceServiceRequest()
    ours.ParseFromString(encode_request(spans))
    assert ours == encode_spans(spans)
