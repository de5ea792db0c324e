"""Runs of the LangGraph Platform API, each one through the agent's pipeline.

Every run, waited for, streamed or in the background, is one call of the pipeline
(``invoke`` for ``/runs/wait``, ``stream`` otherwise): auth, roles and rate limits, the
input checks, the policies, the adapter, the output checks and the telemetry event are
those of ``/invoke``. What the Platform adds (a ``command``, the stream modes, the
caller's ``config``) reaches the adapter through
:data:`~agentdock_plugins.langgraph.platformrun.PLATFORM_RUN`, set in the context of the
task that runs the pipeline.

A run is a task of its own, so that a background run outlives its request, ``cancel``
reaches it, and ``join``/``join_stream`` follow it. Its SSE frames are kept while it runs
and a while after (the latest :data:`MAX_FRAMES`; :data:`MAX_FINISHED` finished runs),
numbered by ``id:`` so that ``Last-Event-ID`` resumes a ``join_stream``. With
:attr:`~agentdock_plugins.litestar.platform.records.Records.shared` records, a run also
beats while it lasts (every :data:`BEAT_SEC`): its new frames go to the store and a
cancel asked on another replica is read back; its result is stored when it ends, so
``join`` and ``join_stream`` on any replica follow it.

Runs on one thread take turns (a lock per thread). A run asked for while another is
pending or running on its thread follows ``multitask_strategy``: ``reject`` answers 409,
``enqueue`` waits its turn, ``interrupt`` cancels the others first; ``rollback``
(cancelling and deleting the others' checkpoints) is not built and answers 501.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

from agentdock_runtime import Pipeline, RuntimeHTTPError
from agentdock_runtime.events import new_run_id, parse_traceparent

from agentdock_plugins.langgraph.platformrun import PLATFORM_RUN, PlatformRun
from agentdock_plugins.litestar.platform.encoding import HEARTBEAT, encode, sse_event
from agentdock_plugins.litestar.platform.records import Records, RunRecord, ThreadRecord

__all__ = [
    "BEAT_SEC",
    "MAX_FINISHED",
    "MAX_FRAMES",
    "RunHandle",
    "Runs",
    "error_body",
    "stored_error",
]

log = logging.getLogger("agentdock.server")

#: SSE frames kept per run (the latest).
MAX_FRAMES = 4096
#: Finished runs whose frames and result are kept for ``join`` and ``join_stream``.
MAX_FINISHED = 1024
#: Seconds between a shared run's beats (frames written, a cancel from elsewhere read).
BEAT_SEC = 0.25


def error_body(error: RuntimeHTTPError) -> dict[str, str]:
    """The Platform's ``{"error", "message"}`` for an error (its name and caller-safe
    detail, never a traceback)."""
    return {"error": error.name, "message": error.detail}


def stored_error(stored: Mapping[str, Any]) -> RuntimeHTTPError:
    """The error a run of another replica ended with, as its row keeps it."""
    return RuntimeHTTPError(
        int(stored.get("status", 500)),
        str(stored.get("name", "InternalError")),
        str(stored.get("detail", "the run failed")),
    )


class RunHandle:
    """One run in this process: its record, task, frames and result."""

    def __init__(self, record: RunRecord, thread: ThreadRecord | None) -> None:
        self.record = record
        self.thread = thread
        self.task: asyncio.Task[None] | None = None
        self.frames: deque[bytes] = deque(maxlen=MAX_FRAMES)
        #: Frames sent so far (the ``id:`` of the last one).
        self.sent = 0
        self.changed = asyncio.Event()
        self.done = asyncio.Event()
        loop = asyncio.get_running_loop()
        #: Resolved once the pipeline admitted the run (or failed with the refusal).
        self.started: asyncio.Future[None] = loop.create_future()
        self.started.add_done_callback(_retrieve)
        self.output: Any = None
        self.error: RuntimeHTTPError | None = None
        #: The pipeline's own run id (``x-run-id``, telemetry), chosen before the run
        #: starts, so that a run's first answer names it even while the run waits its turn.
        self.pipeline_run_id: str | None = None
        #: The run's W3C trace id (``x-trace-id``), set with ``pipeline_run_id``.
        self.trace_id: str | None = None
        self.cancel_on_disconnect = True
        #: The id of the last frame written to shared records.
        self.flushed = 0

    def add(self, event: str, data: Any) -> None:
        self.sent += 1
        self.frames.append(sse_event(event, data, self.sent))
        self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def follow(self, after: int, heartbeat: float) -> AsyncIterator[bytes]:
        """The frames after ``after``, then live ones until the run ends; heartbeats while
        idle."""
        sent = after
        while True:
            first = self.sent - len(self.frames) + 1  # the id of the oldest frame held
            for offset, frame in enumerate(list(self.frames)):
                if first + offset > sent:
                    sent = first + offset
                    yield frame
            if self.done.is_set() and sent >= self.sent:
                return
            changed = self.changed
            if self.sent > sent:
                continue
            try:
                await asyncio.wait_for(changed.wait(), timeout=heartbeat)
            except TimeoutError:
                yield HEARTBEAT


def _retrieve(future: asyncio.Future[None]) -> None:
    # A background run's refusal is read from its record; never "exception not retrieved".
    if not future.cancelled():
        future.exception()


class Runs:
    """The runs of one agent: started, taken in turn per thread, followed and cancelled."""

    def __init__(self, pipeline: Pipeline, records: Records, graph: Any) -> None:
        self._pipeline = pipeline
        self._records = records
        #: The graph with its checkpointer (the thread's status after a run), or None.
        self._graph = graph
        self._locks: dict[str, asyncio.Lock] = {}
        #: Pending and running runs per thread.
        self._active: dict[str, list[RunHandle]] = {}
        self._handles: dict[str, RunHandle] = {}
        #: The runs held in ``_handles`` that ended, oldest first.
        self._finished: deque[str] = deque()

    def handle(self, run_id: str) -> RunHandle | None:
        return self._handles.get(run_id)

    def busy(self, thread_id: str) -> bool:
        return bool(self._active.get(thread_id))

    async def start(
        self,
        record: RunRecord,
        thread: ThreadRecord | None,
        run: PlatformRun,
        payload: Mapping[str, Any],
        headers: Mapping[str, str],
        *,
        wait: bool,
    ) -> RunHandle:
        """Start a run as a task, after the multitask check (409 when its thread is busy
        under ``reject``); it runs once the runs before it on its thread are done."""
        handle = RunHandle(record, thread)
        # The ids the pipeline runs it under (it takes the run id; the trace is the
        # caller's ``traceparent``, else the run id, as the pipeline decides it).
        handle.pipeline_run_id = pipeline_run_id = new_run_id()
        caller = parse_traceparent(headers.get("traceparent"))
        handle.trace_id = caller.trace_id if caller is not None else pipeline_run_id
        if thread is not None:
            active = self._active.setdefault(thread.thread_id, [])
            strategy = record.multitask_strategy
            if active and strategy == "reject":
                raise RuntimeHTTPError(
                    409,
                    "ThreadBusy",
                    f"thread {thread.thread_id} has a run in progress; "
                    "send multitask_strategy enqueue or interrupt to run after it",
                    path="multitask_strategy",
                )
            if strategy == "interrupt":
                for other in active:
                    other.cancel()
            active.append(handle)
        self._remember(handle)
        try:
            if thread is not None:
                await self._records.put_thread(_with_status(thread, "busy"))
            await self._records.put_run(record)
        except BaseException:
            # Not recorded, not started: the thread is not left busy with it.
            self._handles.pop(record.run_id, None)
            if thread is not None:
                others = self._active.get(thread.thread_id, [])
                if handle in others:
                    others.remove(handle)
                if not others:
                    self._active.pop(thread.thread_id, None)
            raise
        context = contextvars.copy_context()
        context.run(PLATFORM_RUN.set, run)
        # The payload is the command (:func:`run_payload`), or no input on a thread: the
        # thread goes on from where it stopped (LangGraph's way past a breakpoint). Neither
        # is an input, so the input schema does not check it.
        resume = run.command is not None or (thread is not None and not payload)
        body = (
            self._invoke(handle, payload, headers, resume)
            if wait
            else self._stream(handle, payload, headers, resume)
        )
        handle.task = asyncio.get_running_loop().create_task(
            self._turn(handle, body), context=context
        )
        return handle

    def _remember(self, handle: RunHandle) -> None:
        self._handles[handle.record.run_id] = handle

    def _ended(self, handle: RunHandle) -> None:
        """``handle`` ended: kept for ``join`` and ``join_stream`` among the latest
        :data:`MAX_FINISHED` ended runs, the oldest past the bound forgotten. Counted as
        runs end, so that starting a run reads none of the ended ones."""
        self._finished.append(handle.record.run_id)
        while len(self._finished) > MAX_FINISHED:
            self._handles.pop(self._finished.popleft(), None)

    async def _turn(self, handle: RunHandle, body: Any) -> None:
        """Run ``body`` when the thread's earlier runs are done; record how it ended."""
        thread = handle.thread
        record = handle.record
        status = "error"
        beats = (
            asyncio.get_running_loop().create_task(self._beats(handle))
            if self._records.shared and thread is not None
            else None
        )
        try:
            if thread is not None:
                lock = self._locks.setdefault(thread.thread_id, asyncio.Lock())
                async with lock:
                    record.status = "running"
                    await self._records.put_run(record)
                    status = await body
            else:
                record.status = "running"
                status = await body
        except asyncio.CancelledError:
            status = "interrupted"
            if not handle.started.done():
                handle.started.set_exception(
                    RuntimeHTTPError(409, "RunCancelled", f"run {record.run_id} was cancelled")
                )
            raise
        finally:
            body.close()  # a run cancelled before its turn never started its coroutine
            record.status = status
            # A store that fails here is logged: the thread still settles, and those who
            # wait on the run in this process still learn that it ended.
            try:
                try:
                    if beats is not None:
                        beats.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await beats
                        await self._beat(handle)  # the last frames, before the result
                    shared = self._records.shared
                    await self._records.finish_run(record, _result(handle) if shared else {})
                except Exception as exc:
                    log.warning("a run's end was not stored (%s)", type(exc).__name__)
                if thread is not None:
                    await self._settle(thread, handle, status)
            except Exception as exc:
                log.warning("a thread's status was not stored (%s)", type(exc).__name__)
            finally:
                handle.done.set()
                handle._wake()
                self._ended(handle)

    async def _beats(self, handle: RunHandle) -> None:
        while True:
            await asyncio.sleep(BEAT_SEC)
            if await self._beat(handle):
                handle.cancel()
                return

    async def _beat(self, handle: RunHandle) -> bool:
        """Write the frames not yet stored; whether another replica asked for a cancel.
        A store that fails is logged and the run goes on (its frames stay in-process)."""
        oldest = handle.sent - len(handle.frames) + 1  # the id of the oldest frame held
        first = max(handle.flushed + 1, oldest)
        frames = list(handle.frames)[first - oldest :]
        batch = [(first + i, f.decode("utf-8", "replace")) for i, f in enumerate(frames)]
        try:
            cancel = await self._records.beat(handle.record.run_id, batch)
        except Exception as exc:
            log.warning("a run's beat was not stored (%s)", type(exc).__name__)
            return False
        handle.flushed = handle.sent if not batch else batch[-1][0]
        return cancel

    async def _settle(self, thread: ThreadRecord, handle: RunHandle, status: str) -> None:
        """The thread's status once ``handle`` ended: ``busy`` while others wait, else
        ``error``, ``interrupted`` (a node waits: an ``interrupt()``, an interrupt point)
        or ``idle``."""
        active = self._active.get(thread.thread_id, [])
        if handle in active:
            active.remove(handle)
        if active:
            return
        self._active.pop(thread.thread_id, None)
        self._locks.pop(thread.thread_id, None)
        current = await self._records.get_thread(thread.thread_id)
        if current is None or current.created_at != thread.created_at:
            return  # deleted meanwhile (and perhaps made again: not this run's thread)
        new = "error" if status == "error" else "idle"
        if new == "idle" and self._graph is not None:
            try:
                config = {"configurable": {"thread_id": thread.thread_id}}
                snapshot = await asyncio.shield(self._graph.aget_state(config))
                if snapshot.next:
                    new = "interrupted"
            except Exception as exc:  # the status stays idle; the run's outcome stands
                log.warning("thread state unreadable after a run (%s)", type(exc).__name__)
        await self._records.put_thread(_with_status(current, new))

    async def _invoke(
        self,
        handle: RunHandle,
        payload: Mapping[str, Any],
        headers: Mapping[str, str],
        resume: bool,
    ) -> str:
        """``/runs/wait``: one ``Pipeline.invoke``; its output is the run's result."""
        thread_id = handle.thread.thread_id if handle.thread is not None else None
        try:
            result = await self._pipeline.invoke(
                payload,
                headers=headers,
                thread_id=thread_id,
                own_thread=True,
                resume=resume,
                run_id=handle.pipeline_run_id,
            )
        except RuntimeHTTPError as exc:
            handle.error = exc
            handle.pipeline_run_id, handle.trace_id = exc.run_id, exc.trace_id
            if not handle.started.done():
                handle.started.set_exception(exc)
            return "error"
        handle.pipeline_run_id, handle.trace_id = result.run_id, result.trace_id
        handle.output = result.output
        if not handle.started.done():
            handle.started.set_result(None)
        return "success"

    async def _stream(
        self,
        handle: RunHandle,
        payload: Mapping[str, Any],
        headers: Mapping[str, str],
        resume: bool,
    ) -> str:
        """Streams and background runs: ``Pipeline.stream``, its items as Platform frames
        (``metadata`` first, one event per requested mode, ``error`` on failure)."""
        thread_id = handle.thread.thread_id if handle.thread is not None else None
        # The thread was found to be the caller's (its owner checked): used as it is.
        items = self._pipeline.stream(
            payload,
            headers=headers,
            thread_id=thread_id,
            own_thread=True,
            resume=resume,
            run_id=handle.pipeline_run_id,
        )
        try:
            try:
                first = await anext(items)
            except RuntimeHTTPError as exc:
                handle.error = exc
                handle.pipeline_run_id, handle.trace_id = exc.run_id, exc.trace_id
                handle.started.set_exception(exc)
                return "error"
            handle.pipeline_run_id = str(first.data.get("run_id") or "") or None
            handle.trace_id = str(first.data.get("trace_id") or "") or None
            handle.add("metadata", {"run_id": handle.record.run_id, "attempt": 1})
            handle.started.set_result(None)
            modes = handle.record.kwargs.get("stream_mode") or ()
            messages = "messages" in modes or "messages-tuple" in modes
            #: The ``events`` mode's last model event, around which its text is sent.
            envelope: Mapping[str, Any] | None = None
            async for item in items:
                data = item.data
                if item.event == "event" and "event" in data and "data" in data:
                    handle.add(str(data["event"]), data["data"])
                elif item.event == "token" and data.get("text"):
                    # A model's text, through the post policies as /stream's tokens are.
                    envelope = data.get("events", envelope)
                    add_text(handle, data, envelope, messages)
                elif item.event == "end":
                    handle.output = data.get("output")
                elif item.event == "error":
                    handle.error = RuntimeHTTPError(
                        int(data.get("code", 500)),
                        str(data.get("error", "InternalError")),
                        str(data.get("detail", "the run failed")),
                    )
                    handle.add("error", error_body(handle.error))
                    return "error"
            return "success"
        finally:
            await items.aclose()  # type: ignore[attr-defined]


def add_text(
    handle: RunHandle,
    token: Mapping[str, Any],
    envelope: Mapping[str, Any] | None,
    messages: bool,
) -> None:
    """A model's text the post policies released: a ``messages`` event (when that mode is
    streamed, or the run streams no ``events``) and, in ``events`` mode, the model's
    ``on_chat_model_stream`` event rebuilt around it (``envelope``)."""
    chunk = message_chunk(token)
    if envelope is not None:
        data = envelope.get("data")
        handle.add("events", {**envelope, "data": {**(data or {}), "chunk": chunk}})
    if envelope is None or messages:
        name = "|".join(("messages", *(token.get("ns") or ())))
        handle.add(name, [chunk, token.get("metadata") or {}])


def message_chunk(token: Mapping[str, Any]) -> dict[str, Any]:
    """The ``AIMessageChunk`` a ``messages`` event carries, rebuilt around the text the
    policies released (which may hold a few chunks' text, or a redaction)."""
    return {
        "type": "AIMessageChunk",
        "content": token.get("text", ""),
        "id": token.get("message_id"),
        "name": None,
        "additional_kwargs": {},
        "response_metadata": {},
        "tool_calls": [],
        "tool_call_chunks": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
    }


def _result(handle: RunHandle) -> dict[str, Any]:
    """How a run ended, as shared records keep it (JSON, as its clients get it)."""
    if handle.error is not None:
        error = handle.error
        return {"error": {"status": error.status, "name": error.name, "detail": error.detail}}
    return {"output": json.loads(encode(handle.output))}


def _with_status(thread: ThreadRecord, status: str) -> ThreadRecord:
    thread.status = status
    return thread


def new_id() -> str:
    """A fresh run or thread id (a UUID, as the Platform's clients expect)."""
    return str(uuid.uuid4())
