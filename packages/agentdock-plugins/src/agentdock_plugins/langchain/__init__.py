"""Built-in plugin: the ``langchain`` framework adapter.

The adapter module (and LangChain) is imported only when the adapter is built, never by
``agentdock validate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl
from agentdock.entrypoints import calls_builder

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.langchain.adapter import LangChainAdapter

__all__ = ["agentdock_register_adapters", "langchain_adapter"]


@calls_builder
def langchain_adapter(
    entry: Any, spec: DockSpec, *, project_dir: str | Path | None = None
) -> LangChainAdapter:
    """Build the adapter: see :class:`agentdock_plugins.langchain.adapter.LangChainAdapter`."""
    from agentdock_plugins.langchain.adapter import LangChainAdapter

    return LangChainAdapter(entry, spec, project_dir=project_dir)


@hookimpl
def agentdock_register_adapters(register: Any) -> None:
    register(
        "langchain",
        langchain_adapter,
        description="LangChain: any Runnable (LCEL), or a builder that returns one",
    )
