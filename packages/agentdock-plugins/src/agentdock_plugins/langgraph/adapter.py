"""The LangGraph adapter: runs a compiled graph (or the graph a builder returns)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from agentdock_plugins._runnable import resolve_runnable

__all__ = ["LangGraphAdapter"]


class LangGraphAdapter:
    """Invokes and streams a LangGraph graph; the graph is built once, at start-up."""

    def __init__(self, entry: Any, spec: Any) -> None:
        self.graph = resolve_runnable(entry, spec)

    async def invoke(self, payload: Mapping[str, Any], config: Mapping[str, Any]) -> Any:
        return await self.graph.ainvoke(dict(payload), config=dict(config) or None)

    async def stream(
        self, payload: Mapping[str, Any], config: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any]]:
        async for mode, chunk in self.graph.astream(
            dict(payload), config=dict(config) or None, stream_mode=["messages", "updates"]
        ):
            if mode == "messages":
                message, meta = chunk
                text = getattr(message, "content", "")
                if text:
                    yield {
                        "event": "token",
                        "data": {"text": text, "node": meta.get("langgraph_node")},
                    }
            else:
                for node, update in chunk.items():
                    yield {"event": "event", "data": {"node": node, "update": update}}
