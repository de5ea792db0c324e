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
  each chat-model chunk as a ``token`` event.

A gate that decides inline (it asks no policy, or only synchronous ones) is asked by the
recorder itself, in the thread that makes the tool call. A gate that must wait for the
event loop is asked from a handler of its own that is not inline; such a handler costs
every callback event of the run (each node's start and end) a task on the loop, so it is
kept to the runs whose gate needs it. Should ``context.tools`` be replaced while the run is
still going, later tool calls go to the new gate.

Handlers are called from the event loop's thread (async runnables) or from worker threads
(synchronous graphs and nodes); both are handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

from agentdock.run import RunContext, StreamEvent, ToolCall, ToolDenied, Usage
from agentdock_runtime.events import new_span_id
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

__all__ = ["EventChannel", "RunTracker", "message_text", "usage_data"]


class _QuietDenials(logging.Filter):
    """Drops LangChain's warning about a callback error when the error is a denial.

    A denial is how the run is meant to stop, not a fault of the callback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(arg, str) and arg.startswith("ToolDenied(") for arg in args)


logging.getLogger("langchain_core.callbacks.manager").addFilter(_QuietDenials())


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


def _usage_of(response: LLMResult) -> Usage:
    """Tokens reported by a model response: its messages' ``usage_metadata``.

    Falls back to the provider's ``llm_output["token_usage"]`` for a response whose
    messages carry no usage metadata.
    """
    total = Usage()
    reported = False
    for generations in response.generations:
        for generation in generations:
            metadata = getattr(getattr(generation, "message", None), "usage_metadata", None)
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


def _tool_args(input_str: str, inputs: Any) -> dict[str, Any]:
    if isinstance(inputs, Mapping):
        return dict(inputs)
    try:
        parsed = json.loads(input_str)
    except (TypeError, ValueError):
        return {"input": input_str}
    return dict(parsed) if isinstance(parsed, Mapping) else {"input": parsed}


def _tool_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str:
    return str((serialized or {}).get("name") or kwargs.get("name") or "")


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
        self.handlers: list[BaseCallbackHandler]
        if context.tools.inline:
            self.handlers = [_ToolRecorder(self, tokens=stream_tokens)]
        else:
            self.handlers = [_Recorder(self, tokens=stream_tokens), _ToolCheck(self)]
        if context.check_tool_output is not None:
            self.handlers.append(_ToolOutputCheck(self, context.check_tool_output))
        if context.steps:
            self.handlers.append(_Timings(context))

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
    """Sums model usage, streams chat-model chunks, stops the run after a refusal."""

    raise_error = True
    run_inline = True

    def __init__(self, tracker: RunTracker, *, tokens: bool) -> None:
        self.tracker = tracker
        self.tokens = tokens

    # Chain starts matter only to stop a run after a refusal: until one happens, LangChain
    # skips this handler for them (every node and nested runnable starts one).
    @property
    def ignore_chain(self) -> bool:
        return self.tracker.context.tools.refusal is None

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.tracker.stop_if_refused()

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.tracker.stop_if_refused()

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.tracker.stop_if_refused()

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
        self.tracker.add_usage(_usage_of(response))


class _AsksTheGate:
    """``on_tool_start``: asks the run's tool gate about the call (an exception stops it)."""

    tracker: RunTracker

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        inputs: dict[str, Any] | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        call = ToolCall(_tool_name(serialized, kwargs), _tool_args(input_str, inputs), tool_call_id)
        self.tracker.gate(call)


class _ToolRecorder(_AsksTheGate, _Recorder):
    """The recorder of a run whose gate decides inline: it asks the gate about each tool
    call, in the thread that makes it, and records it."""


class _ToolCheck(_AsksTheGate, BaseCallbackHandler):
    """Asks a gate that waits for the event loop before every tool call; sees tool events
    only.

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


class _ToolOutputCheck(BaseCallbackHandler):
    """Hands every tool's result to ``RunContext.check_tool_output`` as the tool returns,
    in its own thread, before the agent reads it. A :class:`~agentdock.run.ToolDenied`
    raised there fails the tool call (the agent gets an error, not the result) and is kept
    by the run's tool gate, so the run stops at its next step with the denial."""

    raise_error = True
    run_inline = True
    ignore_llm = ignore_chain = ignore_retriever = ignore_chat_model = True
    ignore_retry = ignore_custom_event = True

    def __init__(self, tracker: RunTracker, check: Callable[[ToolCall, Any], None]) -> None:
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
        name = _tool_name(serialized, kwargs)
        self.calls[run_id] = ToolCall(name, _tool_args(input_str, inputs), tool_call_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.pop(run_id, None)
        if call is None:
            return
        try:
            self.check(call, output)
        except ToolDenied as denied:
            self.tracker.refuse_output(call, denied)
            raise

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.calls.pop(run_id, None)


class _Timings(BaseCallbackHandler):
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
        name = _tool_name(serialized, kwargs)
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
        usage = _usage_of(response)
        self._end(
            run_id,
            "ok",
            {"tokens_input": usage.input_tokens, "tokens_output": usage.output_tokens},
        )

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, "error", {"tokens_input": 0, "tokens_output": 0})


class _End:
    """The producer finished (``error`` is ``None``) or failed."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class EventChannel:
    """Carries a run's events from its producer (a task or a thread) to the consumer."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[StreamEvent | _End] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        #: Set when the consumer stopped listening; a thread producer checks it.
        self.closed = threading.Event()

    def put(self, event: StreamEvent) -> None:
        """Enqueue from the loop's thread."""
        self._queue.put_nowait(event)

    def put_threadsafe(self, event: StreamEvent | _End) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def run(
        self,
        produce: Callable[[], Awaitable[None]],
        tracker: RunTracker,
    ) -> AsyncIterator[StreamEvent]:
        """Run ``produce`` as a task and yield what it and the callbacks emit, then usage."""

        async def producer() -> None:
            try:
                await produce()
            except Exception as error:  # handed to the consumer, which raises it
                self._queue.put_nowait(_End(error))
            else:
                self._queue.put_nowait(_End())

        task = asyncio.create_task(producer())
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        tracker.finish(item.error)
                        raise item.error
                    break
                yield item
            tracker.finish()
            yield StreamEvent("usage", usage_data(tracker.usage))
        finally:
            self.closed.set()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
