"""The step timings a traced run's recorder keeps: which runnables become node events, and
what a graph run with the run's handlers reports."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import Any
from uuid import uuid4

import pytest
from agentdock.run import RunContext, ToolDenied
from agentdock_plugins.langchain_callbacks import RunTracker
from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

STEPS = frozenset({"node_event", "tool_event", "model_event"})


def tracked(steps: frozenset[str] = STEPS) -> tuple[RunTracker, list[tuple[str, dict[str, Any]]]]:
    """A run tracker made as an adapter makes it, with the events it reports."""
    events: list[tuple[str, dict[str, Any]]] = []
    context = RunContext(
        run_id="r", emit=lambda kind, data: events.append((kind, dict(data))), steps=steps
    )

    async def make() -> RunTracker:
        return RunTracker(context)

    return asyncio.run(make()), events


def test_only_the_node_itself_is_timed_not_the_graph_or_its_nested_runnables() -> None:
    tracker, events = tracked()
    (recorder,) = tracker.handlers
    assert recorder.ignore_chain is False
    graph, node, inner = uuid4(), uuid4(), uuid4()
    meta = {"langgraph_node": "upper", "langgraph_step": 1}
    recorder.on_chain_start(None, {}, run_id=graph, metadata={}, name="LangGraph")
    recorder.on_chain_start(None, {}, run_id=node, metadata=meta, name="upper")
    # A runnable inside the node carries the node's metadata under a name of its own.
    recorder.on_chain_start(None, {}, run_id=inner, metadata=meta, name="ChannelWrite")
    recorder.on_chain_end({}, run_id=inner)
    recorder.on_chain_end({}, run_id=node)
    recorder.on_chain_end({}, run_id=graph)
    assert [(kind, data["node"], data["status"]) for kind, data in events] == [
        ("node_event", "upper", "ok")
    ]
    (_, data) = events[0]
    assert set(data) == {"node", "status", "duration_ms", "start_unix_nano", "span_id"}
    assert data["duration_ms"] >= 0 and data["start_unix_nano"] > 0
    assert len(data["span_id"]) == 16


def test_a_node_that_fails_is_reported_failed_and_metadata_need_not_be_a_dict() -> None:
    tracker, events = tracked()
    (recorder,) = tracker.handlers
    node = uuid4()
    meta = MappingProxyType({"langgraph_node": "n"})
    recorder.on_chain_start(None, {}, run_id=node, metadata=meta, name="n")
    recorder.on_chain_error(RuntimeError("x"), run_id=node)
    # A second end of the same step, or the end of one never started, reports nothing.
    recorder.on_chain_end({}, run_id=node)
    recorder.on_chain_end({}, run_id=uuid4())
    assert [(kind, data["node"], data["status"]) for kind, data in events] == [
        ("node_event", "n", "error")
    ]


def test_without_node_events_chain_events_are_ignored_until_a_refusal() -> None:
    tracker, events = tracked(frozenset({"tool_event"}))
    (recorder,) = tracker.handlers
    assert recorder.ignore_chain is True
    denied = ToolDenied("t", "no")
    tracker.context.tools.refuse(denied)
    assert recorder.ignore_chain is False
    with pytest.raises(ToolDenied) as caught:
        recorder.on_chain_start(None, {}, run_id=uuid4(), metadata={}, name="next")
    assert caught.value is denied
    assert events == []


def test_a_timed_run_stops_at_the_next_runnable_after_a_refusal() -> None:
    tracker, _ = tracked()
    (recorder,) = tracker.handlers
    node = uuid4()
    recorder.on_chain_start(None, {}, run_id=node, metadata={"langgraph_node": "a"}, name="a")
    denied = ToolDenied("t", "no")
    tracker.context.tools.refuse(denied)
    with pytest.raises(ToolDenied) as caught:
        recorder.on_chain_start(None, {}, run_id=uuid4(), metadata={}, name="b")
    assert caught.value is denied


class State(TypedDict):
    text: str


def test_a_graph_run_reports_one_node_event_per_node_run() -> None:
    """The graph with the run's handlers in its config, a nested runnable inside a node."""
    inner = RunnableLambda(lambda text: text.upper(), name="inner")

    def upper(state: State) -> State:
        return {"text": inner.invoke(state["text"])}

    def bang(state: State) -> State:
        return {"text": state["text"] + "!"}

    builder = StateGraph(State)
    builder.add_node("upper", upper)
    builder.add_node("bang", bang)
    builder.add_edge(START, "upper")
    builder.add_edge("upper", "bang")
    builder.add_edge("bang", END)
    graph = builder.compile()
    tracker, events = tracked()
    assert graph.invoke({"text": "hi"}, {"callbacks": tracker.handlers}) == {"text": "HI!"}
    assert [(kind, data["node"], data["status"]) for kind, data in events] == [
        ("node_event", "upper", "ok"),
        ("node_event", "bang", "ok"),
    ]
    assert len({data["span_id"] for _, data in events}) == 2
