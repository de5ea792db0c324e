"""The state schema ``assistants.get_schemas`` gives: one property per channel."""

from __future__ import annotations

from typing import Any, TypedDict

from agentdock_plugins.langgraph.stateschema import state_jsonschema
from langgraph.graph import START, StateGraph


class Opaque:
    """A type pydantic has no schema for."""


class State(TypedDict, total=False):
    text: str
    count: int
    handle: Opaque


def _graph() -> Any:
    graph = StateGraph(State)
    graph.add_node("step", lambda state: {})
    graph.add_edge(START, "step")
    return graph.compile()


def test_every_channel_is_a_property_typed_from_its_updates() -> None:
    schema = state_jsonschema(_graph())
    assert schema is not None
    assert schema["type"] == "object"
    properties = schema["properties"]
    assert set(properties) == {"text", "count", "handle"}
    assert properties["text"]["type"] == "string"
    assert properties["count"]["type"] == "integer"
    # A type pydantic cannot describe is any value, not a failure of the whole schema.
    assert "type" not in properties["handle"]


def test_something_that_is_not_a_graph_has_no_state_schema() -> None:
    assert state_jsonschema(object()) is None
