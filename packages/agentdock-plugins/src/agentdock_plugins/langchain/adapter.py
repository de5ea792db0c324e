"""The LangChain adapter: runs any Runnable (LCEL chain) or the one a builder returns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from agentdock_plugins._runnable import resolve_runnable

__all__ = ["LangChainAdapter"]


class LangChainAdapter:
    """Invokes and streams a LangChain Runnable; built once, at start-up."""

    def __init__(self, entry: Any, spec: Any) -> None:
        self.runnable = resolve_runnable(entry, spec)

    async def invoke(self, payload: Mapping[str, Any], config: Mapping[str, Any]) -> Any:
        return await self.runnable.ainvoke(dict(payload), config=dict(config) or None)

    async def stream(
        self, payload: Mapping[str, Any], config: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any]]:
        async for chunk in self.runnable.astream(dict(payload), config=dict(config) or None):
            text = getattr(chunk, "content", chunk if isinstance(chunk, str) else None)
            if text:
                yield {"event": "token", "data": {"text": text}}
            elif text is None:
                yield {"event": "event", "data": {"chunk": chunk}}
