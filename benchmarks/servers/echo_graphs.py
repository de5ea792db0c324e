"""The graphs every server in the HTTP benchmark runs: the same code for all of them."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict):
    text: str


def upper(state: State) -> State:
    return {"text": state["text"].upper()}


async def upper_async(state: State) -> State:
    return {"text": state["text"].upper()}


def build_graph():  # type: ignore[no-untyped-def]
    """One synchronous node that upper-cases ``text`` (the graph of DESIGN.md §10)."""
    builder = StateGraph(State)
    builder.add_node("upper", upper)
    builder.add_edge(START, "upper")
    builder.add_edge("upper", END)
    return builder.compile()


def build_async_graph():  # type: ignore[no-untyped-def]
    """The same graph with an async node."""
    builder = StateGraph(State)
    builder.add_node("upper", upper_async)
    builder.add_edge(START, "upper")
    builder.add_edge("upper", END)
    return builder.compile()
