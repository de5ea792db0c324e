"""An offline chat model: answers without a network and reports token usage.

It lets the agent run, stream and be tested with no API key. To go live, build a hosted
chat model here instead (for example ``langchain_openai.ChatOpenAI``) from the Dockfile's
``model`` block; the rest of the agent does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

__all__ = ["OfflineChatModel", "count_tokens"]

DEFAULT_MODEL_NAME = "offline-fake"


def count_tokens(text: str) -> int:
    """A simple token count: whitespace-separated words."""
    return len(text.split())


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else str(p.get("text", "")) for p in content]
    return " ".join(parts)


class OfflineChatModel(BaseChatModel):
    """Replies ``You asked: <last user message>``; every reply carries ``usage_metadata``."""

    model_name: str = DEFAULT_MODEL_NAME
    max_tokens: int | None = None

    @classmethod
    def from_dockfile(cls, model: Any = None) -> OfflineChatModel:
        """Build from the Dockfile's ``model`` block (its ``name`` and ``max_tokens``)."""
        name = getattr(model, "name", None) or DEFAULT_MODEL_NAME
        return cls(model_name=name, max_tokens=getattr(model, "max_tokens", None))

    @property
    def _llm_type(self) -> str:
        return "offline-fake"

    def _reply(self, messages: Sequence[BaseMessage]) -> tuple[list[str], int]:
        """The reply as whitespace-keeping tokens, and the prompt's token count."""
        question = next((_text(m) for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        tokens = re.findall(r"\S+\s*", f"You asked: {question.strip()}")
        if self.max_tokens is not None:
            tokens = tokens[: self.max_tokens]
        prompt_tokens = sum(count_tokens(_text(m)) for m in messages)
        return tokens, prompt_tokens

    def _usage(self, input_tokens: int, output_tokens: int) -> UsageMetadata:
        return UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tokens, prompt_tokens = self._reply(messages)
        message = AIMessage(
            content="".join(tokens).rstrip(),
            usage_metadata=self._usage(prompt_tokens, len(tokens)),
            response_metadata={"model_name": self.model_name},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tokens, prompt_tokens = self._reply(messages)
        last = len(tokens) - 1
        for index, token in enumerate(tokens):
            # Usage adds up across chunks: the prompt is counted once, each token once.
            chunk = ChatGenerationChunk(
                message=AIMessageChunk(
                    content=token.rstrip() if index == last else token,
                    usage_metadata=self._usage(prompt_tokens if index == 0 else 0, 1),
                    response_metadata={"model_name": self.model_name} if index == 0 else {},
                )
            )
            if run_manager is not None:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
