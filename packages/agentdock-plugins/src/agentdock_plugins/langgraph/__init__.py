"""Built-in plugin: the ``langgraph`` framework adapter."""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_adapters"]


@hookimpl
def agentdock_register_adapters(register: Any) -> None:
    from agentdock_plugins.langgraph.adapter import LangGraphAdapter

    register(
        "langgraph",
        LangGraphAdapter,
        description="LangGraph: a compiled graph, or a builder that returns one",
    )
