"""An offline tool-calling chat model: a scripted ReAct turn, with token usage.

For each question it replies, in order: a ``lookup_order`` call for the order the question
names, an ``issue_refund`` call for the amount the lookup returned, then a one-line answer,
exactly as a tool-calling model would, so the graph, the tool policy and token metering run
end to end with no network. To go live, build a hosted chat model from the Dockfile's
``model`` block instead and ``bind_tools(TOOLS)`` on it; the graph does not change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable

__all__ = ["ScriptedToolModel", "count_tokens"]

_ORDER_ID = re.compile(r"\b[A-Z]-\d+\b")


def count_tokens(text: str) -> int:
    """A simple token count: whitespace-separated words."""
    return len(text.split())


def _amount(result: str | None) -> float:
    """The amount a lookup returned; 0 when it returned no order (a notice that a policy
    put in place of the result, say)."""
    try:
        order = json.loads(result) if result is not None else {}
    except ValueError:
        return 0.0
    return float(order.get("amount", 0.0)) if isinstance(order, dict) else 0.0


class ScriptedToolModel(BaseChatModel):
    """Replies with the next step of a lookup-then-refund script; reports ``usage_metadata``."""

    model_name: str = "offline-react"

    @classmethod
    def from_dockfile(cls, model: Any = None) -> ScriptedToolModel:
        """Build from the Dockfile's ``model`` block (its ``name``)."""
        return cls(model_name=getattr(model, "name", None) or "offline-react")

    @property
    def _llm_type(self) -> str:
        return "offline-react"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # The script knows its tools by name; binding only records them.
        return self.bind(tools=[getattr(t, "name", str(t)) for t in tools], **kwargs)

    def script(self, messages: Sequence[BaseMessage]) -> list[AIMessage]:
        """The replies for the conversation's last question, in order."""
        start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        question = str(messages[start].content) if start >= 0 else ""
        match = _ORDER_ID.search(question)
        order_id = match.group(0) if match else "unknown"
        results = {
            m.name: str(m.content) for m in messages[start + 1 :] if isinstance(m, ToolMessage)
        }
        amount = _amount(results.get("lookup_order"))
        return [
            _call("lookup_order", {"order_id": order_id}, f"call_lookup_{order_id}"),
            _call(
                "issue_refund", {"order_id": order_id, "amount": amount}, f"call_refund_{order_id}"
            ),
            AIMessage(content=results.get("issue_refund", "no refund was issued") + "."),
        ]

    def _next(self, messages: Sequence[BaseMessage]) -> AIMessage:
        start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        step = sum(1 for m in messages[start + 1 :] if isinstance(m, AIMessage))
        script = self.script(messages)
        reply = script[min(step, len(script) - 1)]
        prompt = sum(count_tokens(str(m.content)) for m in messages)
        output = count_tokens(str(reply.content)) + sum(
            count_tokens(json.dumps(c["args"])) for c in reply.tool_calls
        )
        reply.usage_metadata = UsageMetadata(
            input_tokens=prompt, output_tokens=output, total_tokens=prompt + output
        )
        reply.response_metadata = {"model_name": self.model_name}
        return reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next(messages)
        if reply.tool_calls:
            # A tool call arrives whole, in one chunk.
            chunks = [
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i
                        )
                        for i, c in enumerate(reply.tool_calls)
                    ],
                )
            ]
        else:
            words = re.findall(r"\S+\s*", str(reply.content))
            chunks = [AIMessageChunk(content=word) for word in words]
        # The usage rides on the first chunk; merged chunks add up to the reply's usage.
        chunks[0].usage_metadata = reply.usage_metadata
        chunks[0].response_metadata = dict(reply.response_metadata)
        for chunk in chunks:
            yield ChatGenerationChunk(message=chunk)


def _call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )
