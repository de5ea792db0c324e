"""What LangChain's callbacks hand over, read: message text, token usage, a tool's name and
arguments.

Shared by the run's callback handlers (:mod:`~agentdock_plugins.langchain_callbacks`), the
step timings (:mod:`~agentdock_plugins.langchain_timings`) and the adapters, which read
message text the same way when they stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agentdock.run import Usage
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

__all__ = ["message_text", "tool_args", "tool_name", "usage_data", "usage_of"]


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                parts.append(str(part.get("text", "")))
        return "".join(parts)
    return ""


def usage_data(usage: Usage) -> dict[str, int]:
    """The ``data`` of a ``usage`` stream event."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def usage_of(response: LLMResult) -> Usage:
    """Tokens reported by a model response: its messages' ``usage_metadata``.

    Falls back to the provider's ``llm_output["token_usage"]`` for a response whose
    messages carry no usage metadata.
    """
    total = Usage()
    reported = False
    for generations in response.generations:
        for generation in generations:
            message = generation.message if isinstance(generation, ChatGeneration) else None
            # Only AI messages carry usage (AIMessageChunk is one).
            metadata = message.usage_metadata if isinstance(message, AIMessage) else None
            if metadata:
                reported = True
                total += Usage(
                    int(metadata.get("input_tokens", 0) or 0),
                    int(metadata.get("output_tokens", 0) or 0),
                )
    if not reported and isinstance(response.llm_output, Mapping):
        token_usage = response.llm_output.get("token_usage")
        if isinstance(token_usage, Mapping):
            total += Usage(
                int(token_usage.get("prompt_tokens", 0) or 0),
                int(token_usage.get("completion_tokens", 0) or 0),
            )
    return total


def tool_args(input_str: str, inputs: Any) -> dict[str, Any]:
    if isinstance(inputs, Mapping):
        return dict(inputs)
    try:
        parsed = json.loads(input_str)
    except (TypeError, ValueError):
        return {"input": input_str}
    return dict(parsed) if isinstance(parsed, Mapping) else {"input": parsed}


def tool_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str:
    return str((serialized or {}).get("name") or kwargs.get("name") or "")
