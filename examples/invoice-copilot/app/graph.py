"""The invoice copilot: a tool-calling LangGraph agent.

``build_graph`` is the Dockfile's entrypoint. AgentDock calls it once at start-up with the
Dockfile's ``model`` block and serves the compiled graph: the model calls
``extract_invoice`` and ``summarize_invoice`` (the tools ``policies.tools.allowed`` permits),
and the last node shapes the answer as ``InvoiceOutput``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from app.llm import OfflineInvoiceModel
from app.schemas import InvoiceFields, InvoiceInput, InvoiceOutput
from app.tools import TOOLS

__all__ = ["build_graph"]

SYSTEM_PROMPT = (
    "You read invoices. Call extract_invoice on the document, then summarize_invoice on the "
    "fields it returns, then answer with the summary."
)


class State(TypedDict, total=False):
    """The request, the conversation with the model, and the answer's fields."""

    document: str
    messages: Annotated[list[AnyMessage], add_messages]
    invoice_number: str | None
    vendor: str | None
    invoice_date: str | None
    currency: str | None
    total: float | None
    summary: str


def build_graph(model: Any = None) -> CompiledStateGraph[State, None, InvoiceInput, InvoiceOutput]:
    """Compile the graph; ``model`` is the Dockfile's model block (or None in tests)."""
    llm = OfflineInvoiceModel.from_dockfile(model).bind_tools(TOOLS)

    def agent(state: State, config: RunnableConfig) -> dict[str, Any]:
        # The prompt is rebuilt each turn; only the model's and the tools' messages are kept
        # in the state (and streamed), never the document itself.
        prompt = [SystemMessage(SYSTEM_PROMPT), HumanMessage(state["document"])]
        reply = llm.invoke([*prompt, *state.get("messages", [])], config)
        return {"messages": [reply]}

    def answer(state: State) -> dict[str, Any]:
        messages = state.get("messages", [])
        extracted = next(
            (m for m in messages if isinstance(m, ToolMessage) and m.name == "extract_invoice"),
            None,
        )
        fields = InvoiceFields.model_validate(
            json.loads(str(extracted.content)) if extracted else {}
        )
        summary = str(messages[-1].content) if messages else ""
        return InvoiceOutput(**fields.model_dump(), summary=summary).model_dump()

    graph = StateGraph(State, input_schema=InvoiceInput, output_schema=InvoiceOutput)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(TOOLS))
    graph.add_node("answer", answer)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: "answer"})
    graph.add_edge("tools", "agent")
    graph.add_edge("answer", END)
    return graph.compile()
