"""An offline stand-in for the Dockfile's gpt-4o: plans the tool calls, reports token usage.

It calls ``extract_invoice`` on the document, then ``summarize_invoice`` on the fields, then
answers with the summary, exactly as a tool-calling model would, so the graph, the tool
policy and token metering run end to end with no network. To go live, build the hosted
model from the Dockfile's ``model`` block instead (e.g. ``langchain_openai.AzureChatOpenAI``
with ``azure_endpoint=model.endpoint``) and ``bind_tools(TOOLS)`` on it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable

__all__ = ["OfflineInvoiceModel"]


def _count(text: str) -> int:
    return len(text.split())


class OfflineInvoiceModel(BaseChatModel):
    """A scripted tool-calling chat model; every reply carries ``usage_metadata``."""

    model_name: str = "offline-gpt-4o"

    @classmethod
    def from_dockfile(cls, model: Any = None) -> OfflineInvoiceModel:
        name = getattr(model, "name", None)
        return cls(model_name=f"offline-{name}" if name else "offline-gpt-4o")

    @property
    def _llm_type(self) -> str:
        return "offline-invoice"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # The script knows its tools by name; binding only records them.
        return self.bind(tools=[getattr(t, "name", str(t)) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        results = {m.name: m for m in messages if isinstance(m, ToolMessage)}
        calls = sum(1 for m in messages if isinstance(m, AIMessage) and m.tool_calls)
        if "extract_invoice" not in results:
            document = next(
                (str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), ""
            )
            reply = self._call("extract_invoice", {"document": document}, calls)
        elif "summarize_invoice" not in results:
            fields = json.loads(str(results["extract_invoice"].content))
            reply = self._call("summarize_invoice", fields, calls)
        else:
            reply = AIMessage(content=str(results["summarize_invoice"].content))
        prompt = sum(_count(str(m.content)) for m in messages)
        output = _count(str(reply.content)) + sum(
            _count(json.dumps(c["args"])) for c in reply.tool_calls
        )
        reply.usage_metadata = UsageMetadata(
            input_tokens=prompt, output_tokens=output, total_tokens=prompt + output
        )
        reply.response_metadata = {"model_name": self.model_name}
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @staticmethod
    def _call(name: str, args: dict[str, Any], index: int) -> AIMessage:
        return AIMessage(
            content="",
            tool_calls=[{"name": name, "args": args, "id": f"call_{index}", "type": "tool_call"}],
        )
