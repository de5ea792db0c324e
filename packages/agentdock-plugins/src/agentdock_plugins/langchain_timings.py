"""Per-step timings of a run for telemetry: every node, tool call and model call as a span.

A callback handler of its own, added to a run only when a telemetry sink uses step events
(``RunContext.steps``), so runs nobody traces pay nothing for it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from agentdock.run import RunContext
from agentdock_runtime.events import new_span_id
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from agentdock_plugins.langchain_messages import tool_name, usage_of

__all__ = ["StepTimings"]


class StepTimings(BaseCallbackHandler):
    """Times every node, tool call and model call of a run for telemetry.

    Present only when a telemetry sink uses step events (``RunContext.steps``); each
    finished step of a kind some sink uses becomes one ``node_event``, ``tool_event`` or
    ``model_event`` with its own span id. Kinds nobody uses are not even called back.
    """

    run_inline = True

    def __init__(self, context: RunContext) -> None:
        self.emit = context.emit
        steps = context.steps
        self._nodes = "node_event" in steps
        self._models = "model_event" in steps
        self.tools = "tool_event" in steps
        self._open: dict[UUID, tuple[str, dict[str, Any], int, int]] = {}

    # LangChain skips a handler for the kinds of callback it ignores.
    @property
    def ignore_chain(self) -> bool:
        return not self._nodes

    @property
    def ignore_llm(self) -> bool:
        return not self._models

    @property
    def ignore_chat_model(self) -> bool:
        return not self._models

    def _start(self, run_id: UUID, kind: str, data: dict[str, Any]) -> None:
        self._open[run_id] = (kind, data, time.time_ns(), time.perf_counter_ns())

    def _end(self, run_id: UUID, status: str, extra: Mapping[str, Any] | None = None) -> None:
        opened = self._open.pop(run_id, None)
        if opened is None:
            return
        kind, data, start_ns, started = opened
        data.update(
            status=status,
            duration_ms=(time.perf_counter_ns() - started) / 1e6,
            start_unix_nano=start_ns,
            span_id=new_span_id(),
        )
        if extra:
            data.update(extra)
        self.emit(kind, data)

    def on_chain_start(
        self, serialized: Any, inputs: Any, *, run_id: UUID, metadata: Any = None, **kwargs: Any
    ) -> None:
        node = metadata.get("langgraph_node") if isinstance(metadata, Mapping) else None
        if node is not None and kwargs.get("name") == node:
            self._start(run_id, "node_event", {"node": str(node)})

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, "ok")

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, "error")

    def on_tool_start(
        self,
        serialized: Any,
        input_str: str,
        *,
        run_id: UUID,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.tools:
            return
        name = tool_name(serialized, kwargs)
        self._start(run_id, "tool_event", {"tool": name, "call_id": tool_call_id})

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, "ok")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, "error")

    def _model_start(self, serialized: Any, run_id: UUID, kwargs: Mapping[str, Any]) -> None:
        metadata = kwargs.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        params = kwargs.get("invocation_params")
        params = params if isinstance(params, Mapping) else {}
        model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
        provider = metadata.get("ls_provider")
        self._start(
            run_id,
            "model_event",
            {"model": str(model) if model else None, "provider": provider},
        )

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._model_start(serialized, run_id, kwargs)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._model_start(serialized, run_id, kwargs)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        usage = usage_of(response)
        self._end(
            run_id,
            "ok",
            {"tokens_input": usage.input_tokens, "tokens_output": usage.output_tokens},
        )

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, "error", {"tokens_input": 0, "tokens_output": 0})
