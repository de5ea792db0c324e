"""Built-in plugin: the ``langgraph`` framework adapter.

The adapter module (and LangGraph) is imported only when the adapter is built, never by
``agentdock validate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl
from agentdock.entrypoints import calls_builder

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.langgraph.adapter import LangGraphAdapter

__all__ = ["agentdock_register_adapters", "langgraph_adapter"]


@calls_builder
def langgraph_adapter(
    entry: Any, spec: DockSpec, *, project_dir: str | Path | None = None
) -> LangGraphAdapter:
    """Build the adapter: see :class:`agentdock_plugins.langgraph.adapter.LangGraphAdapter`."""
    from agentdock_plugins.langgraph.adapter import LangGraphAdapter

    return LangGraphAdapter(entry, spec, project_dir=project_dir)


@hookimpl
def agentdock_register_adapters(register: Any) -> None:
    register(
        "langgraph",
        langgraph_adapter,
        description="LangGraph: a compiled graph, or a builder that returns one",
    )
