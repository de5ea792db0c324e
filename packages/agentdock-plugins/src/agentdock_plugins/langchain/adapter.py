"""The LangChain adapter: runs any Runnable (LCEL chain) or the one a builder returns.

Runs go through ``ainvoke``/``astream`` (LCEL runs synchronous steps in worker threads).
Streaming yields each chat-model chunk as a ``token``, each output chunk that is not text
as an ``event`` ({"chunk": ...}), a ``tool`` event before every tool call, then the run's
``output`` (the chunks added up, as LangChain's own ``invoke`` of a stream does) and its
``usage``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.run import RunContext, RunResult, StreamEvent
from langchain_core.messages import BaseMessageChunk
from langchain_core.runnables import RunnableConfig

from agentdock_plugins._runnable import resolve_runnable, tracked_result
from agentdock_plugins.langchain_callbacks import EventChannel, RunTracker, message_text

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["LangChainAdapter"]


class LangChainAdapter:
    """Invokes and streams a LangChain Runnable; built once, at start-up.

    :param entry: a Runnable, or a builder called once with whichever of ``model``,
        ``arguments`` and ``spec`` it accepts.
    :param spec: the validated Dockfile.
    :param project_dir: the Dockfile's directory (accepted for symmetry with the LangGraph
        adapter; a chain keeps no state).
    """

    def __init__(
        self, entry: Any, spec: DockSpec, *, project_dir: str | Path | None = None
    ) -> None:
        self.runnable: Any = resolve_runnable(entry, spec)
        self.project_dir = Path(project_dir) if project_dir is not None else Path.cwd()

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        tracker = RunTracker(context)
        return await tracked_result(
            tracker, self.runnable.ainvoke(dict(payload), _config(context, tracker))
        )

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        channel = EventChannel()
        tracker = RunTracker(context, emit=channel.put, tokens=True)
        config = _config(context, tracker)

        async def produce() -> None:
            output: Any = None
            started = False
            async for chunk in self.runnable.astream(dict(payload), config):
                output = _add(output, chunk) if started else chunk
                started = True
                if isinstance(chunk, str | BaseMessageChunk):
                    # Text the chain outputs: already streamed when it came from a chat model.
                    text = chunk if isinstance(chunk, str) else message_text(chunk.content)
                    if text and not tracker.streamed_tokens:
                        channel.put(StreamEvent("token", {"text": text}))
                else:
                    channel.put(StreamEvent("event", {"chunk": chunk}))
            channel.put(StreamEvent("output", {"output": output}))

        async for event in channel.run(produce, tracker):
            yield event


def _add(total: Any, chunk: Any) -> Any:
    """``total + chunk`` where the chunks add up (text, message chunks, LCEL's dict chunks),
    else the newest chunk: how ``Runnable.transform`` folds a stream into one output."""
    try:
        return total + chunk
    except TypeError:
        return chunk


def _config(context: RunContext, tracker: RunTracker) -> RunnableConfig:
    return {"callbacks": tracker.handlers}
