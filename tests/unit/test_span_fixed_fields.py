"""Span attributes encoded once and reused (``otel/fixed.py``): each span still carries every
attribute exactly once, with the type of this run's value, decoded by the official classes."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from agentdock_plugins.langfuse.attributes import LangfuseFlavor
from agentdock_plugins.otel.spans import RunSpanBuilder, SpanTarget
from agentdock_plugins.otel.wire import encode_head, request
from agentdock_runtime.events import envelope, new_span_id
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

HEAD = encode_head({"service.name": "probe"}, "agentdock")


class Queue:
    def __init__(self) -> None:
        self.spans: list[bytes] = []

    def add_run(self, spans: list[bytes], events: int) -> None:
        self.spans.extend(spans)


def _value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which)


def _spans(queue: Queue) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Each span's name and its attributes as a list (a repeated key would show twice)."""
    decoded = ExportTraceServiceRequest.FromString(request(HEAD, queue.spans))
    (scope,) = decoded.resource_spans[0].scope_spans
    return [(s.name, [(kv.key, _value(kv.value)) for kv in s.attributes]) for s in scope.spans]


def _run(**end: Any) -> list[dict[str, Any]]:
    run_id = os.urandom(16).hex()
    span = new_span_id()
    start = time.time_ns()

    def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
        return envelope(name, "probe", data, run_id=run_id, trace_id=run_id, span_id=span)

    step = {"duration_ms": 1.0, "start_unix_nano": start}
    return [
        event("node_event", {**step, "node": "plan", "status": "ok", "span_id": new_span_id()}),
        event(
            "tool_event", {**step, "tool": "search", "status": "error", "span_id": new_span_id()}
        ),
        event("model_event", {**step, "model": "m", "tokens_input": 3, "span_id": new_span_id()}),
        event(
            "run_end",
            {
                "mode": "invoke",
                "status": "ok",
                "model": "m",
                "provider": "openai",
                "start_unix_nano": start,
                "end_unix_nano": start + 5_000_000,
                **end,
            },
        ),
    ]


def _build(*runs: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, Any]]]]:
    queue = Queue()
    flavor = LangfuseFlavor(environment="production", release="1.2.0")
    builder = RunSpanBuilder([SpanTarget("probe", queue)], head=HEAD, flavor=flavor)
    for events in runs:
        builder.add(events)
    assert builder.dropped == 0
    return _spans(queue)


def test_every_attribute_is_on_its_span_once() -> None:
    spans = _build(*(_run(role="admin", retries=1, http_status_code=200) for _ in range(3)))
    assert len(spans) == 12
    for name, attributes in spans:
        repeated = [key for key, count in Counter(k for k, _ in attributes).items() if count > 1]
        assert not repeated, (name, repeated)
    root = dict(next(attrs for name, attrs in spans if name == "invoke_agent probe"))
    assert root["gen_ai.operation.name"] == "invoke_agent"
    assert root["gen_ai.request.model"] == "m" and root["gen_ai.provider.name"] == "openai"
    assert root["agentdock.role"] == "admin" and root["http.response.status_code"] == 200
    assert root["langfuse.trace.metadata.retries"] == "1"
    assert "role:admin" in root["langfuse.trace.tags"]
    tool = dict(next(attrs for name, attrs in spans if name == "execute_tool search"))
    assert tool["agentdock.tool.status"] == "error" and tool["error.type"] == "error"
    assert tool["langfuse.observation.type"] == "tool"


def test_equal_values_of_other_types_keep_their_own_type() -> None:
    """``1``, ``1.0`` and ``True`` are one dict key but three different attributes."""
    spans = _build(
        _run(http_status_code=200, retries=1),
        _run(http_status_code=200.0, retries=True),
        _run(http_status_code=200, retries=1),
    )
    roots = [dict(attrs) for name, attrs in spans if name == "invoke_agent probe"]
    codes = [root["http.response.status_code"] for root in roots]
    assert [type(code) for code in codes] == [int, float, int]
    assert [root["langfuse.trace.metadata.retries"] for root in roots] == ["1", "true", "1"]


def test_a_role_that_is_not_a_string_still_becomes_spans() -> None:
    """A role the runtime did not make a string (a list) is written as its text, not lost
    with the rest of its batch."""
    spans = _build(_run(role=["admin", "ops"]))
    root = dict(next(attrs for name, attrs in spans if name == "invoke_agent probe"))
    assert root["agentdock.role"] == "['admin', 'ops']"
    assert "role:['admin', 'ops']" in root["langfuse.trace.tags"]
    assert root["langfuse.trace.metadata.role"] == '["admin","ops"]'


def test_a_run_without_a_model_call_gets_its_generation_from_run_end() -> None:
    """The generation LangFuse needs for usage and cost, made from ``run_end`` alone, the
    same run after run except its tokens and cost."""
    runs = [
        [
            event
            for event in _run(tokens_input=tokens, tokens_output=2, cost_usd=0.5)
            if event["event"] != "model_event"
        ]
        for tokens in (3, 5)
    ]
    spans = _build(*runs)
    chats = [dict(attrs) for name, attrs in spans if name == "chat m"]
    assert len(chats) == 2
    for chat, tokens in zip(chats, (3, 5), strict=True):
        assert chat["gen_ai.operation.name"] == "chat"
        assert chat["gen_ai.request.model"] == "m" and chat["gen_ai.provider.name"] == "openai"
        assert chat["langfuse.observation.type"] == "generation"
        assert chat["langfuse.observation.model.name"] == "m"
        assert chat["gen_ai.usage.input_tokens"] == tokens
        usage = f'{{"input":{tokens},"output":2,"total":{tokens + 2}}}'
        assert chat["langfuse.observation.usage_details"] == usage
        assert chat["langfuse.observation.cost_details"] == '{"total":0.5}'
    for name, attributes in spans:
        assert len({k for k, _ in attributes}) == len(attributes), name


class _EveryStepPlanned(LangfuseFlavor):
    steps_repeat = False


def _decoded(queue: Queue) -> list[tuple[Any, ...]]:
    decoded = ExportTraceServiceRequest.FromString(request(HEAD, queue.spans))
    (scope,) = decoded.resource_spans[0].scope_spans
    return [
        (
            s.name,
            s.kind,
            s.trace_id,
            s.span_id,
            s.parent_span_id,
            s.start_time_unix_nano,
            s.end_time_unix_nano,
            sorted((kv.key, repr(_value(kv.value))) for kv in s.attributes),
            s.status.code,
            s.status.message,
            s.flags,
        )
        for s in scope.spans
    ]


def test_steps_made_once_are_the_spans_each_step_planned_makes() -> None:
    """Node and tool spans reused from a kept tail decode exactly as when every step goes
    through the plan and the flavor: errors, denials, call ids and nested steps included."""
    runs = []
    for index in range(4):
        run = _run(role="admin")
        start = run[-1]["data"]["start_unix_nano"]
        outer = new_span_id()

        def step(
            name: str, data: dict[str, Any], like: dict[str, Any] = run[0], start: int = start
        ) -> Any:
            return envelope(
                name,
                "probe",
                {"duration_ms": 2.0, "start_unix_nano": start + 10, **data},
                run_id=like["run_id"],
                trace_id=like["trace_id"],
                span_id=like["span_id"],
            )

        run[:0] = [
            step("node_event", {"node": "outer", "status": "ok", "span_id": outer}),
            step(
                "tool_event",
                {
                    "tool": "fetch",
                    "status": "error" if index % 2 else "ok",
                    "error_type": "TimeoutError",
                    "call_id": f"call-{index}",
                    "span_id": new_span_id(),
                    "parent_span_id": outer,
                },
            ),
            step("tool_event", {"tool": "rm", "status": "denied", "span_id": new_span_id()}),
            step("node_event", {"node": "late", "status": "error", "span_id": new_span_id()}),
        ]
        runs.append(run)
    outputs = []
    for flavor_type in (LangfuseFlavor, _EveryStepPlanned):
        queue = Queue()
        flavor = flavor_type(environment="production", release="1.2.0")
        builder = RunSpanBuilder([SpanTarget("probe", queue)], head=HEAD, flavor=flavor)
        for events in runs:
            builder.add(events)
        outputs.append(_decoded(queue))
    reused, planned = outputs
    assert len(reused) == 4 * 8
    assert reused == planned
    nested = [span for span in reused if span[0] == "execute_tool fetch"]
    outer_ids = {span[3] for span in reused if span[0] == "node outer"}
    assert {span[4] for span in nested} <= outer_ids  # under its node, not the run


def _provider_of(spans: list[tuple[str, list[tuple[str, Any]]]], title: str) -> Any:
    (attributes,) = [dict(a) for name, a in spans if name == title]
    return attributes.get("gen_ai.provider.name")


def test_the_agents_own_model_span_names_the_dockfiles_provider() -> None:
    """A model span of the Dockfile's model says the Dockfile's provider, as the run span
    does, not the model class LangChain names when it does not know the class; a span of
    another model keeps the provider LangChain reports."""
    events = _run()
    model = next(e for e in events if e["event"] == "model_event")
    model["data"]["provider"] = "offlinechatmodel"
    other = {
        **model,
        "data": {
            **model["data"],
            "model": "small",
            "provider": "anthropic",
            "span_id": new_span_id(),
        },
    }
    events.insert(-1, other)
    spans = _build(events)
    assert _provider_of(spans, "chat m") == "openai"
    assert _provider_of(spans, "chat small") == "anthropic"
    run_span = next(a for name, a in spans if name.startswith("invoke_agent"))
    assert dict(run_span)["gen_ai.provider.name"] == "openai"
