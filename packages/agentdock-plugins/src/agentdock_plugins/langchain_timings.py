"""Per-step timings of a run for telemetry: every node, tool call and model call as a span.

Not a callback handler of its own: the run's recorder
(:mod:`~agentdock_plugins.langchain_callbacks`) hands it the callbacks it already receives.
LangChain calls every handler of a run for every model token (``ignore_llm`` covers a
model's start, tokens and end alike), so a second handler cost a streamed model run one more
dispatch per token (about 50 a reply); the recorder is called for those anyway, for usage.
Made only when a telemetry sink uses step events (``RunContext.steps``), so runs nobody
traces pay nothing for it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from agentdock.run import RunContext, Usage
from agentdock_runtime.events import new_span_id

__all__ = ["StepTimings"]


class StepTimings:
    """Times every node, tool call and model call of a run for telemetry.

    Each finished step of a kind some sink uses becomes one ``node_event``, ``tool_event``
    or ``model_event`` with its own span id; the flags say which kinds the caller should
    hand over at all.
    """

    __slots__ = ("_open", "emit", "models", "nodes", "tools")

    def __init__(self, context: RunContext) -> None:
        self.emit = context.emit
        steps = context.steps
        #: Whether node, model and tool steps are timed.
        self.nodes = "node_event" in steps
        self.models = "model_event" in steps
        self.tools = "tool_event" in steps
        self._open: dict[int, tuple[str, dict[str, Any], int, int]] = {}

    # Open steps are keyed by ``run_id.int``: a ``UUID`` hashes in Python (``UUID.__hash__``),
    # its ``int`` in C, and every chain end (the graph's own included) looks one up.

    def _start(self, run_id: UUID, kind: str, data: dict[str, Any]) -> None:
        self._open[run_id.int] = (kind, data, time.time_ns(), time.perf_counter_ns())

    def end(self, run_id: UUID, status: str, extra: Mapping[str, Any] | None = None) -> None:
        """The step ``run_id`` ended with ``status``: its event, if it was timed."""
        if not self._open:
            return
        opened = self._open.pop(run_id.int, None)
        if opened is None:
            return
        kind, data, start_ns, started = opened
        data["status"] = status
        data["duration_ms"] = (time.perf_counter_ns() - started) / 1e6
        data["start_unix_nano"] = start_ns
        data["span_id"] = new_span_id()
        if extra:
            data.update(extra)
        self.emit(kind, data)

    def chain_start(self, run_id: UUID, metadata: Any, name: Any) -> None:
        """A runnable started: timed when it is a graph node (LangGraph names the node in
        ``metadata``; the node's nested runnables carry the same metadata, other names)."""
        if metadata.__class__ is not dict and not isinstance(metadata, Mapping):
            return
        node = metadata.get("langgraph_node")
        if node is not None and name == node:
            self._open[run_id.int] = (
                "node_event",
                {"node": str(node)},
                time.time_ns(),
                time.perf_counter_ns(),
            )

    def tool_start(self, run_id: UUID, name: str, call_id: str | None) -> None:
        self._start(run_id, "tool_event", {"tool": name, "call_id": call_id})

    def model_start(self, run_id: UUID, kwargs: Mapping[str, Any]) -> None:
        """A model call started (``kwargs``: the callback's, with its metadata and
        invocation parameters, where the model's name is)."""
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

    def model_end(self, run_id: UUID, usage: Usage | None) -> None:
        """A model call ended; ``usage`` is ``None`` when it failed."""
        if usage is None:
            self.end(run_id, "error", {"tokens_input": 0, "tokens_output": 0})
        else:
            self.end(
                run_id,
                "ok",
                {"tokens_input": usage.input_tokens, "tokens_output": usage.output_tokens},
            )
