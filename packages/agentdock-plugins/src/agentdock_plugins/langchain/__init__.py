"""Built-in plugin: the ``langchain`` framework adapter."""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_adapters"]


@hookimpl
def agentdock_register_adapters(register: Any) -> None:
    from agentdock_plugins.langchain.adapter import LangChainAdapter

    register(
        "langchain",
        LangChainAdapter,
        description="LangChain: any Runnable (LCEL), or a builder that returns one",
    )
