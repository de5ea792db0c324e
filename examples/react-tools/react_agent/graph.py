"""The ReAct agent: the model calls tools until it can answer.

``build_graph`` is the Dockfile's entrypoint. AgentDock calls it once at start-up with the
Dockfile's ``model`` block and serves the compiled graph. Each request adds its question to
the conversation (kept per thread id when the request carries one); the model then calls
``lookup_order`` and ``issue_refund`` (the tools ``policies.tools.allowed`` permits) and the
last node returns its answer.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from react_agent.model import ScriptedToolModel
from react_agent.tools import TOOLS

__all__ = ["build_graph"]

SYSTEM_PROMPT = (
    "You handle refunds. Look the order up with lookup_order, refund its amount with "
    "issue_refund, then answer with the refund's reference."
)


class Input(TypedDict):
    """The request body (the Dockfile's io_schema.input)."""

    question: str


class Output(TypedDict):
    """The response body (the Dockfile's io_schema.output)."""

    answer: str


class State(TypedDict, total=False):
    """The question, the conversation so far, and the answer."""

    question: str
    messages: Annotated[list[AnyMessage], add_messages]
    answer: str


def build_graph(model: Any = None) -> CompiledStateGraph[State, None, Input, Output]:
    """Compile the graph; ``model`` is the Dockfile's model block (or None in tests)."""
    llm = ScriptedToolModel.from_dockfile(model).bind_tools(TOOLS)

    def ask(state: State) -> dict[str, Any]:
        return {"messages": [HumanMessage(state["question"])]}

    def agent(state: State, config: RunnableConfig) -> dict[str, Any]:
        reply = llm.invoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]], config)
        return {"messages": [reply]}

    def answer(state: State) -> dict[str, Any]:
        return {"answer": str(state["messages"][-1].content)}

    graph = StateGraph(State, input_schema=Input, output_schema=Output)
    graph.add_node("ask", ask)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(TOOLS))
    graph.add_node("answer", answer)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: "answer"})
    graph.add_edge("tools", "agent")
    graph.add_edge("answer", END)
    return graph.compile()
