"""The "model takes 20 ms and streams 50 tokens" agent of the HTTP benchmark, offline.

A fake chat model waits 20 ms (the model's time to answer) and then streams 50 tokens,
reporting usage on the last chunk as a provider does; the graph's one node streams it and
returns the text. What the runtime does per run (callbacks per token, a model event with
usage, the spans built from it) is what a real model costs AgentDock, without a network.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

#: The model's time to answer, and the tokens it streams.
DELAY_S = 0.020
TOKENS = 50


class SlowStreamingModel(BaseChatModel):
    """Answers after ``DELAY_S`` with ``TOKENS`` streamed tokens."""

    @property
    def _llm_type(self) -> str:
        return "bench-slow-streaming"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(f"t{i} " for i in range(TOKENS))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError("the benchmark graph streams asynchronously")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        await asyncio.sleep(DELAY_S)
        for index in range(TOKENS):
            usage = None
            if index == TOKENS - 1:
                usage = {"input_tokens": 12, "output_tokens": TOKENS, "total_tokens": 12 + TOKENS}
            chunk = AIMessageChunk(content=f"t{index} ", usage_metadata=usage)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=None)
            yield ChatGenerationChunk(message=chunk)


class State(TypedDict):
    text: str


_model = SlowStreamingModel()


async def respond(state: State) -> State:
    parts = [chunk.text async for chunk in _model.astream(state["text"])]
    return {"text": "".join(parts)}


def build_graph():  # type: ignore[no-untyped-def]
    """One async node that streams the slow model's answer."""
    builder = StateGraph(State)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile()
