"""Offline tests of the chat agent: no network and no API key needed."""

from __future__ import annotations

import asyncio

from agent.graph import build_graph
from agent.model import OfflineChatModel, count_tokens
from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import BaseMessage

QUESTION = "What does AgentDock do?"


def test_answers_the_question() -> None:
    result = build_graph().invoke({"question": QUESTION})
    assert result == {"answer": f"You asked: {QUESTION}"}


def test_reports_token_usage() -> None:
    usage = UsageMetadataCallbackHandler()
    build_graph().invoke({"question": QUESTION}, config={"callbacks": [usage]})
    totals = usage.usage_metadata["offline-fake"]
    assert totals["input_tokens"] > 0
    assert totals["output_tokens"] == len(f"You asked: {QUESTION}".split())
    assert totals["total_tokens"] == totals["input_tokens"] + totals["output_tokens"]


def test_streams_tokens_with_usage() -> None:
    async def collect() -> list[str]:
        graph = build_graph()
        tokens: list[str] = []
        async for chunk, _meta in graph.astream({"question": QUESTION}, stream_mode="messages"):
            if isinstance(chunk, BaseMessage):
                tokens.append(str(chunk.content))
        return tokens

    tokens = asyncio.run(collect())
    assert len(tokens) > 1
    assert "".join(tokens) == f"You asked: {QUESTION}"

    chunks = list(OfflineChatModel().stream(QUESTION))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.usage_metadata == {
        "input_tokens": count_tokens(QUESTION),
        "output_tokens": count_tokens(str(merged.content)),
        "total_tokens": count_tokens(QUESTION) + count_tokens(str(merged.content)),
    }


def test_uses_the_dockfile_model_block() -> None:
    class ModelBlock:
        name = "offline-small"
        max_tokens = 2

    result = build_graph(ModelBlock()).invoke({"question": QUESTION})
    assert result == {"answer": "You asked:"}
