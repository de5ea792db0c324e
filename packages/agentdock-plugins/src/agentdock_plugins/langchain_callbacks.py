"""What the adapters share about one run: callbacks for tools and usage, and the event channel.

One :class:`RunTracker` is made per run. Its callback handlers ride along in the
runnable's config (and so reach every nested model and tool):

* before every tool call, the run's :class:`~agentdock.run.ToolGate` (``context.tools``) is
  asked with ``check(call)``; when the call is allowed it is recorded and a ``tool`` event
  emitted. A :class:`~agentdock.run.ToolDenied` raised there propagates out of the tool
  before it runs; the gate keeps the refusal, so a graph that swallows tool errors is
  stopped at its next step and the run still ends with the denial;
* when the spec has ``tool_output`` policies, each tool's result is handed to
  ``context.check_tool_output`` in the tool's thread as the tool returns, before the agent
  reads it; a denial there is kept by the gate as well;
* the *recorder* sums the ``usage_metadata`` of every model message and, when asked, emits
  each chat-model chunk as a ``token`` event; when a telemetry sink uses step events it
  also hands the run's step timings (:mod:`~agentdock_plugins.langchain_timings`) the
  nodes, tool calls and model calls to time, so a traced run has no extra handler for
  LangChain to call on each streamed token.

A gate that decides inline (it asks no policy, or only synchronous ones) is asked by the
recorder itself, in the thread that makes the tool call. A gate that must wait for the
event loop is asked from a handler of its own that is not inline; such a handler costs
every callback event of the run (each node's start and end) a task on the loop, so it is
kept to the runs whose gate needs it. Should ``context.tools`` be replaced while the run is
still going, later tool calls go to the new gate.

Handlers are called from the event loop's thread (async runnables) or from worker threads
(synchronous graphs and nodes); both are handled.

The readers of what callbacks hand over are :mod:`~agentdock_plugins.langchain_messages`,
the event channel :mod:`~agentdock_plugins.event_channel`; the adapters' names are
exported here too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from agentdock.run import ReplaceToolOutput, RunContext, StreamEvent, ToolCall, ToolDenied, Usage
from agentdock_runtime.events import new_span_id
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.outputs import LLMResult

from agentdock_plugins.event_channel import EventChannel
from agentdock_plugins.langchain_messages import (
    message_text,
    tool_args,
    tool_name,
    usage_data,
    usage_of,
)
from agentdock_plugins.langchain_timings import StepTimings

__all__ = ["EventChannel", "RunTracker", "message_text", "usage_data"]


class _QuietDenials(logging.Filter):
    """Drops LangChain's warning about a callback error when the error is a denial.

    A denial is how the run is meant to stop, not a fault of the callback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(arg, str) and arg.startswith("ToolDenied(") for arg in args)


logging.getLogger("langchain_core.callbacks.manager").addFilter(_QuietDenials())


class RunTracker:
    """The per-run state the callbacks fill: usage and the tool calls made."""

    def __init__(
        self,
        context: RunContext,
        *,
        emit: Callable[[StreamEvent], None] | None = None,
        tokens: bool = False,
    ) -> None:
        self.context = context
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._emit = emit
        self._lock = threading.Lock()
        self.usage = Usage()
        self.tools: list[ToolCall] = []
        #: Whether any chat-model chunk was emitted as a token.
        self.streamed_tokens = False
        stream_tokens = tokens and emit is not None
        timings = StepTimings(context) if context.steps else None
        self.handlers: list[BaseCallbackHandler]
        if context.tools.inline:
            self.handlers = [_ToolRecorder(self, tokens=stream_tokens, timings=timings)]
        else:
            self.handlers = [
                _Recorder(self, tokens=stream_tokens, timings=timings),
                _ToolCheck(self),
            ]
        if context.check_tool_output is not None:
            self.handlers.append(_ToolOutputCheck(self, context.check_tool_output))

    # -- called by the handlers, from any thread --------------------------------------------

    def emit(self, event: StreamEvent) -> None:
        if self._emit is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._emit(event)
        else:
            self.loop.call_soon_threadsafe(self._emit, event)

    def add_usage(self, usage: Usage) -> None:
        with self._lock:
            self.usage += usage

    def stop_if_refused(self) -> None:
        """Raise the run's refusal, if a tool call was refused."""
        self.context.tools.raise_refusal()

    def gate(self, call: ToolCall) -> None:
        """Ask the run's tool gate about ``call`` from this thread; record it when allowed.

        A call after an earlier refusal is stopped with it, and not reported again."""
        tools = self.context.tools
        tools.raise_refusal()
        try:
            tools.check(call)
        except ToolDenied:
            self._report_denial(call)
            raise
        self.record(call)

    def refuse_output(self, call: ToolCall, denied: ToolDenied) -> None:
        """What ``call`` returned was refused (the ``tool_output`` policies): the denial is
        kept as the run's refusal, unless the gate kept one already, and reported."""
        self.context.tools.refuse(denied)
        self._report_denial(call)

    def _report_denial(self, call: ToolCall) -> None:
        if "tool_event" in self.context.steps:
            self.context.emit(
                "tool_event",
                {
                    "tool": call.name,
                    "call_id": call.call_id,
                    "status": "denied",
                    "duration_ms": 0.0,
                    "start_unix_nano": time.time_ns(),
                    "span_id": new_span_id(),
                },
            )

    def record(self, call: ToolCall) -> None:
        """Keep an allowed tool call and emit its ``tool`` event."""
        with self._lock:
            self.tools.append(call)
        self.emit(
            StreamEvent("tool", {"name": call.name, "args": dict(call.args), "id": call.call_id})
        )

    # -- called by the adapters -------------------------------------------------------------

    def finish(self, error: BaseException | None = None) -> None:
        """End of the run: a refusal of the gate wins over whatever error the run ended with."""
        refusal = self.context.tools.refusal
        if refusal is not None and refusal is not error:
            raise refusal from error


class _Recorder(BaseCallbackHandler):
    """Sums model usage, streams chat-model chunks, stops the run after a refusal, and
    hands the run's :class:`StepTimings` (if any) the steps it times.

    The timings ride here rather than in a handler of their own: LangChain calls every
    handler that takes model events for each streamed token, and this one takes them
    anyway (for usage).
    """

    raise_error = True
    run_inline = True

    def __init__(
        self, tracker: RunTracker, *, tokens: bool, timings: StepTimings | None = None
    ) -> None:
        self.tracker = tracker
        self.tokens = tokens
        self._nodes = timings if timings is not None and timings.nodes else None
        self._models = timings if timings is not None and timings.models else None
        self._tools = timings if timings is not None and timings.tools else None

    # Chain starts matter only to time nodes and to stop a run after a refusal: unless
    # nodes are timed, LangChain skips this handler for them until a refusal happens
    # (every node and nested runnable starts one).
    @property
    def ignore_chain(self) -> bool:
        return self._nodes is None and self.tracker.context.tools.refusal is None

    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        metadata: Any = None,
        name: Any = None,
        **kwargs: Any,
    ) -> None:
        # Called for every runnable of a traced run (the graph itself, each node): the
        # refusal is looked at here rather than through ``stop_if_refused``.
        if self.tracker.context.tools.refusal is not None:
            self.tracker.stop_if_refused()
        if self._nodes is not None:
            self._nodes.chain_start(run_id, metadata, name)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if self._nodes is not None:
            self._nodes.end(run_id, "ok")

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self._nodes is not None:
            self._nodes.end(run_id, "error")

    def on_tool_start(
        self,
        serialized: Any,
        input_str: str,
        *,
        run_id: UUID,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if self._tools is not None:
            self._tools.tool_start(run_id, tool_name(serialized, kwargs), tool_call_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if self._tools is not None:
            self._tools.end(run_id, "ok")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self._tools is not None:
            self._tools.end(run_id, "error")

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.tracker.stop_if_refused()
        if self._models is not None:
            self._models.model_start(run_id, kwargs)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.tracker.stop_if_refused()
        if self._models is not None:
            self._models.model_start(run_id, kwargs)

    def on_llm_new_token(
        self, token: str | list[str | dict[str, Any]], *, chunk: Any = None, **kwargs: Any
    ) -> None:
        if not self.tokens:
            return
        message = getattr(chunk, "message", None)
        text = message_text(message.content if message is not None else token)
        if text:
            self.tracker.streamed_tokens = True
            self.tracker.emit(StreamEvent("token", {"text": text}))

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        usage = usage_of(response)
        self.tracker.add_usage(usage)
        if self._models is not None:
            self._models.model_end(run_id, usage)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self._models is not None:
            self._models.model_end(run_id, None)


class _ToolRecorder(_Recorder):
    """The recorder of a run whose gate decides inline: it asks the gate about each tool
    call, in the thread that makes it, records it, and times it once allowed."""

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        inputs: dict[str, Any] | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        call = ToolCall(tool_name(serialized, kwargs), tool_args(input_str, inputs), tool_call_id)
        self.tracker.gate(call)
        if self._tools is not None:
            self._tools.tool_start(run_id, call.name, tool_call_id)


class _ToolCheck(BaseCallbackHandler):
    """Asks a gate that waits for the event loop before every tool call (an exception
    stops it); sees tool events only.

    It is synchronous and not inline, so an async callback manager runs it in a worker
    thread while the loop stays free to run the check, and a synchronous one runs it in the
    tool's own thread; either way an exception stops the tool.
    """

    raise_error = True
    run_inline = False
    # Tool events only: every other kind of callback skips this handler.
    ignore_llm = ignore_chain = ignore_retriever = ignore_chat_model = True
    ignore_retry = ignore_custom_event = True

    def __init__(self, tracker: RunTracker) -> None:
        self.tracker = tracker

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        inputs: dict[str, Any] | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        call = ToolCall(tool_name(serialized, kwargs), tool_args(input_str, inputs), tool_call_id)
        self.tracker.gate(call)


class _ToolOutputCheck(BaseCallbackHandler):
    """Hands every tool's result to ``RunContext.check_tool_output`` as the tool returns,
    in its own thread, before the agent reads it. A :class:`~agentdock.run.ToolDenied`
    raised there fails the tool call (the agent gets an error, not the result) and is kept
    by the run's tool gate, so the run stops at its next step with the denial.

    A :class:`~agentdock.run.ReplaceToolOutput` returned there is put in place of the
    result: LangChain hands this handler the very message the tool call returns (a
    ``ToolMessage`` when the call came from a model's tool call, as LangGraph's ``ToolNode``
    makes it), so its content is replaced before the agent reads it. A result that is no
    message (a tool invoked with bare arguments returns its value as is) cannot be replaced
    from here: the call is refused instead, so the result still never reaches the agent."""

    raise_error = True
    run_inline = True
    ignore_llm = ignore_chain = ignore_retriever = ignore_chat_model = True
    ignore_retry = ignore_custom_event = True

    def __init__(
        self, tracker: RunTracker, check: Callable[[ToolCall, Any], ReplaceToolOutput | None]
    ) -> None:
        self.tracker = tracker
        self.check = check
        self.calls: dict[UUID, ToolCall] = {}

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        inputs: dict[str, Any] | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        name = tool_name(serialized, kwargs)
        self.calls[run_id] = ToolCall(name, tool_args(input_str, inputs), tool_call_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.pop(run_id, None)
        if call is None:
            return
        try:
            replaced = self.check(call, output)
            if replaced is not None and not _replace_content(output, replaced.content):
                raise ToolDenied(call.name, replaced.reason)
        except ToolDenied as denied:
            self.tracker.refuse_output(call, denied)
            raise

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.calls.pop(run_id, None)


def _replace_content(output: Any, content: str) -> bool:
    """Put ``content`` in place of what tool message ``output`` holds; whether it could."""
    if not isinstance(output, ToolMessage):
        return False
    output.content = content
    output.artifact = None  # what the tool returned besides its content goes too
    return True
