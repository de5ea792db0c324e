"""The echo agent: a one-node LangGraph graph that upper-cases ``text``."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

__all__ = ["build_graph"]


class EchoState(TypedDict):
    """Input, output and state alike: ``{"text": ...}``."""

    text: str


def shout(state: EchoState) -> EchoState:
    """Upper-case the text."""
    return {"text": state["text"].upper()}


def build_graph() -> CompiledStateGraph[EchoState, None, EchoState, EchoState]:
    """The Dockfile's entrypoint: compile the graph once, at start-up."""
    graph = StateGraph(EchoState)
    graph.add_node("shout", shout)
    graph.add_edge(START, "shout")
    graph.add_edge("shout", END)
    return graph.compile()
