"""The chat agent: a one-node LangGraph graph around a chat model.

``build_graph`` is the Dockfile's entrypoint. AgentDock calls it once at start-up with the
Dockfile's ``model`` block and serves the compiled graph it returns.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.model import OfflineChatModel

__all__ = ["build_graph"]

SYSTEM_PROMPT = "You are a concise, helpful assistant."


class Input(TypedDict):
    """The request body (the Dockfile's io_schema.input)."""

    question: str


class Output(TypedDict):
    """The response body (the Dockfile's io_schema.output)."""

    answer: str


class State(Input, Output):
    """Everything the graph's nodes read and write."""


def build_graph(model: Any = None) -> CompiledStateGraph[State, None, Input, Output]:
    """Compile the graph; ``model`` is the Dockfile's model block (or None in tests)."""
    llm = OfflineChatModel.from_dockfile(model)

    def respond(state: State, config: RunnableConfig) -> dict[str, str]:
        messages = [SystemMessage(SYSTEM_PROMPT), HumanMessage(state["question"])]
        reply = llm.invoke(messages, config)
        return {"answer": str(reply.content)}

    graph = StateGraph(State, input_schema=Input, output_schema=Output)
    graph.add_node("respond", respond)
    graph.add_edge(START, "respond")
    graph.add_edge("respond", END)
    return graph.compile()
