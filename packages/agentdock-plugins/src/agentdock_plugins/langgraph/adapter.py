"""The LangGraph adapter: runs a compiled graph (or the graph a builder returns).

Built once at start-up. It decides there how the graph runs: a graph whose nodes and
routing functions are all synchronous runs with ``graph.invoke``/``graph.stream`` in a
dedicated pool of worker threads, so a slow node never holds the event loop; any other
graph runs with ``ainvoke``/``astream`` on the loop.

The Dockfile's ``arguments`` it reads:

``worker_threads`` (int, default 64)
    Most synchronous runs in flight at once. The pool keeps a few threads busy while runs
    finish quickly and lets more in when they wait (a model call of several seconds): see
    :mod:`agentdock_plugins.langgraph.workers`.
``worker_threads_core`` (int, default ``$AGENTDOCK_WORKER_THREADS`` (set by the hardware
    profile), else two per CPU core plus two; at most ``worker_threads``)
    Runs in flight while runs finish quickly.
``checkpointer`` (``memory`` | ``sqlite`` | ``postgres`` | ``redis`` | ``none``, default ``memory``)
    Where a conversation is kept when a request carries a thread id.
``checkpoint_path`` (path, default ``.agentdock/checkpoints.db``)
    The SQLite file for ``checkpointer: sqlite``, relative to the Dockfile's directory.
``store`` (``memory`` | ``sqlite`` | ``postgres``, default: as ``checkpointer``) and
``store_path``
    The LangGraph store the graph's nodes get as ``store`` and the Platform API serves
    (see :mod:`agentdock_plugins.langgraph.store`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.httperrors import InputValidationError
from agentdock.run import RunContext, RunResult, StreamEvent
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import EmptyInputError
from langgraph.graph.state import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from agentdock_plugins._runnable import resolve_runnable, tracked_result
from agentdock_plugins.langchain_callbacks import EventChannel, RunTracker, message_text
from agentdock_plugins.langgraph.checkpoint import make_checkpointer
from agentdock_plugins.langgraph.platformevents import model_text, stream_events
from agentdock_plugins.langgraph.platformrun import PLATFORM_RUN, PlatformRun, graph_modes
from agentdock_plugins.langgraph.store import make_store
from agentdock_plugins.langgraph.storescope import USER_ID, caller_label
from agentdock_plugins.langgraph.workers import WorkerPool

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["DEFAULT_WORKER_THREADS", "LangGraphAdapter", "is_synchronous"]

#: The key under which LangGraph reports a run's interrupts (in ``invoke``'s output and in
#: ``updates`` chunks).
INTERRUPT = "__interrupt__"

DEFAULT_WORKER_THREADS = 64
WORKER_THREADS_ENV = "AGENTDOCK_WORKER_THREADS"
#: ``values``: the state after each step; the last one is what ``invoke`` returns, sent as
#: the run's ``output`` event when the stream ends.
_STREAM_MODES = ["messages", "updates", "values"]
#: No ``values`` chunk came: the run reports no output.
_NO_VALUES: Any = object()
#: ``max_concurrency`` of a synchronous run: the size ``ThreadPoolExecutor`` picks by
#: default, computed once. LangGraph builds a thread pool for every synchronous run from
#: the config's ``max_concurrency``, and without one the pool calls ``os.cpu_count()`` (a
#: read of sysfs) each run; given the same number, the limit is the same and the read gone.
#: Asynchronous runs get none: on the loop it would put a semaphore around every task.
SYNC_MAX_CONCURRENCY = min(32, (os.cpu_count() or 1) + 4)


class LangGraphAdapter:
    """Invokes and streams a LangGraph graph; the graph is built once, at start-up.

    :param entry: a compiled graph, or a builder called once with whichever of ``model``,
        ``arguments`` and ``spec`` it accepts.
    :param spec: the validated Dockfile (its ``model`` and ``arguments`` are read).
    :param project_dir: the Dockfile's directory; relative paths in ``arguments`` are
        resolved against it (default: the working directory).
    """

    def __init__(
        self, entry: Any, spec: DockSpec, *, project_dir: str | Path | None = None
    ) -> None:
        self.graph: Any = resolve_runnable(entry, spec)
        arguments: Mapping[str, Any] = dict(getattr(spec, "arguments", None) or {})
        self.project_dir = Path(project_dir) if project_dir is not None else Path.cwd()
        #: Whether runs go through ``invoke`` in worker threads (else ``ainvoke``).
        self.synchronous = is_synchronous(self.graph)
        workers = int(arguments.get("worker_threads", DEFAULT_WORKER_THREADS))
        if workers < 1:
            raise ValueError(f"arguments.worker_threads must be at least 1, not {workers}")
        # The hardware profile's tuned value (AGENTDOCK_WORKER_THREADS) when the Dockfile
        # says nothing.
        core = arguments.get("worker_threads_core", os.environ.get(WORKER_THREADS_ENV) or None)
        if core is not None and int(core) < 1:
            raise ValueError(f"arguments.worker_threads_core must be at least 1, not {core}")
        self._workers = (
            WorkerPool(workers, core=int(core) if core is not None else None)
            if self.synchronous
            else None
        )
        #: The store the graph's nodes get as ``store`` and the Platform API serves.
        self.store: BaseStore | None = getattr(self.graph, "store", None)
        if not isinstance(self.store, BaseStore) and isinstance(self.graph, Pregel):
            self.store = make_store(arguments, self.project_dir)
            self.graph = self.graph.copy(update={"store": self.store})
        self.checkpointer: BaseCheckpointSaver[Any] | None = None
        self._stateful: Any = None
        own = getattr(self.graph, "checkpointer", None)
        if isinstance(own, BaseCheckpointSaver):
            # The graph brought its own checkpointer: it keeps every conversation.
            self._stateful = self.graph
        elif isinstance(self.graph, Pregel):
            self.checkpointer = make_checkpointer(arguments, self.project_dir)
            if self.checkpointer is not None:
                self._stateful = self.graph.copy(update={"checkpointer": self.checkpointer})
        #: The graph was compiled with breakpoints (``interrupt_before``/``after``): a run
        #: may stop at one, which ``invoke`` does not say (it returns the state so
        #: far, with no ``__interrupt__``), so such runs are streamed and the stop noticed.
        self._breakpoints = bool(
            getattr(self.graph, "interrupt_before_nodes", None)
            or getattr(self.graph, "interrupt_after_nodes", None)
        )
        #: A run outside the Platform API is LangGraph's own ``invoke``/``ainvoke`` folded
        #: here from the ``values`` chunks alone (:func:`_invoke_values`): those ask for
        #: ``updates`` too, only to collect the run's interrupts, which the ``values``
        #: chunks carry as well; one stream mode less is about 50 calls a run (echo graph). A
        #: graph class whose ``invoke``/``ainvoke`` are not Pregel's keeps them.
        self._values_only = (
            isinstance(self.graph, Pregel)
            and type(self.graph).invoke is Pregel.invoke
            and type(self.graph).ainvoke is Pregel.ainvoke
        )

    # -- the Adapter protocol -------------------------------------------------------------------

    @property
    def stateful_graph(self) -> Any:
        """The graph with its checkpointer (the one thread runs use), or ``None`` when the
        agent keeps no threads."""
        return self._stateful

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        tracker = RunTracker(context)
        graph, config = self._prepare(context, tracker)
        platform = PLATFORM_RUN.get()
        if platform is None and self._breakpoints:
            platform = _AT_BREAKPOINTS
        if platform is not None:
            try:
                return await tracked_result(
                    tracker, self._platform_invoke(graph, payload, config, platform)
                )
            except EmptyInputError as exc:
                raise _nothing_to_run(exc) from None
        if self._values_only:
            if self._workers is not None:
                return await tracked_result(
                    tracker, self._workers.run(_invoke_values, graph, dict(payload), config)
                )
            return await tracked_result(tracker, _ainvoke_values(graph, dict(payload), config))
        if self._workers is not None:
            return await tracked_result(
                tracker, self._workers.run(graph.invoke, dict(payload), config)
            )
        return await tracked_result(tracker, graph.ainvoke(dict(payload), config))

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        channel = EventChannel()
        tracker = RunTracker(context, emit=channel.put)
        graph, config = self._prepare(context, tracker)
        workers = self._workers
        platform = PLATFORM_RUN.get()
        if platform is not None:
            try:
                async for event in channel.run(
                    lambda: self._platform_stream(graph, payload, config, platform, channel),
                    tracker,
                ):
                    yield event
            except EmptyInputError as exc:
                raise _nothing_to_run(exc) from None
            return

        async def produce() -> None:
            output: Any = _NO_VALUES
            # The run stopped at an interrupt: an ``updates`` chunk of them, which is all a
            # breakpoint leaves (``interrupt()`` also puts them in the last ``values``).
            stopped = False
            if workers is not None:

                def pump() -> Any:
                    nonlocal stopped
                    last: Any = _NO_VALUES
                    for mode, chunk in graph.stream(
                        dict(payload), config, stream_mode=_STREAM_MODES
                    ):
                        if mode == "values":
                            last = chunk
                            continue
                        if mode == "updates" and INTERRUPT in chunk:
                            stopped = True
                        for event in _events(mode, chunk):
                            channel.put_threadsafe(event)
                        if channel.closed.is_set():
                            break
                    return last

                output = await workers.run(pump)
            else:
                async for mode, chunk in graph.astream(
                    dict(payload), config, stream_mode=_STREAM_MODES
                ):
                    if mode == "values":
                        output = chunk
                        continue
                    if mode == "updates" and INTERRUPT in chunk:
                        stopped = True
                    for event in _events(mode, chunk):
                        channel.put(event)
            if output is not _NO_VALUES:
                answer = _with_stop(_output_of(graph, output), stopped)
                channel.put(StreamEvent("output", {"output": answer}))

        async for event in channel.run(produce, tracker):
            yield event

    async def _platform_invoke(
        self, graph: Any, payload: Mapping[str, Any], config: RunnableConfig, run: PlatformRun
    ) -> Any:
        """A Platform run to its end: the graph given a ``Command`` or the input, with the
        caller's config, context and interrupt points."""
        value = run.graph_input(payload)
        config = run.merge_config(config)
        await _refuse_nothing_to_resume(graph, config, run)
        kwargs = run.graph_kwargs()
        if self._workers is None:
            outcome = _Outcome()
            async for mode, chunk in graph.astream(
                value, config, stream_mode=["values", "updates"], **kwargs
            ):
                outcome.take(mode, chunk)
            return outcome.output(graph, run)
        stop = threading.Event()

        def steps() -> Any:
            # ``invoke`` step by step, so that a cancelled run stops at its next step.
            outcome = _Outcome()
            for mode, chunk in graph.stream(
                value, config, stream_mode=["values", "updates"], **kwargs
            ):
                outcome.take(mode, chunk)
                if stop.is_set():
                    break
            return outcome.output(graph, run)

        # A cancelled run stops at its next step and is waited for, so that it writes no
        # checkpoint after it is reported over (the thread's next run starts only then).
        return await self._workers.run(steps, stop=stop)

    async def _platform_stream(
        self,
        graph: Any,
        payload: Mapping[str, Any],
        config: RunnableConfig,
        platform: PlatformRun,
        channel: EventChannel,
    ) -> None:
        """Stream a Platform run's modes as ``event`` items (see :mod:`.platformrun`)."""
        value = platform.graph_input(payload)
        config = platform.merge_config(config)
        await _refuse_nothing_to_resume(graph, config, platform)
        kwargs = platform.graph_kwargs()
        modes = graph_modes(platform.stream_modes)
        if self._breakpoints or platform.interrupt_before or platform.interrupt_after:
            # A stop at a breakpoint shows only in ``updates`` (see :func:`_with_stop`).
            modes = sorted({*modes, "updates"})
        wanted = {m: m for m in platform.stream_modes}
        forward = {"messages" if m == "messages-tuple" else m for m in wanted}
        output: Any = _NO_VALUES
        stopped: list[bool] = []

        def events(ns: tuple[str, ...], mode: str, chunk: Any) -> Iterable[StreamEvent]:
            if mode == "updates" and not ns and isinstance(chunk, Mapping) and INTERRUPT in chunk:
                stopped.append(True)
            if mode not in forward or (ns and not platform.subgraphs):
                return ()
            if mode == "messages":
                token = _message_token(ns, chunk)
                if token is not None:
                    return (token,)
            name = mode if not ns else "|".join((mode, *ns))
            return (StreamEvent("event", {"event": name, "data": chunk}),)

        if "events" in wanted:  # astream_events, on the loop (see :mod:`.platformevents`)
            output = await stream_events(
                graph, value, config, modes, kwargs, events, channel.put, _NO_VALUES
            )
        elif self._workers is not None:
            stop = threading.Event()

            def pump() -> Any:
                last: Any = _NO_VALUES
                for ns, mode, chunk in graph.stream(
                    value, config, stream_mode=modes, subgraphs=True, **kwargs
                ):
                    if mode == "values" and not ns:
                        last = chunk
                    for event in events(ns, mode, chunk):
                        channel.put_threadsafe(event)
                    if channel.closed.is_set() or stop.is_set():
                        break
                return last

            output = await self._workers.run(pump, stop=stop)
        else:
            async for ns, mode, chunk in graph.astream(
                value, config, stream_mode=modes, subgraphs=True, **kwargs
            ):
                if mode == "values" and not ns:
                    output = chunk
                for event in events(ns, mode, chunk):
                    channel.put(event)
        if output is not _NO_VALUES:
            answer = _with_stop(_output_of(graph, output), bool(stopped))
            channel.put(StreamEvent("output", {"output": answer}))

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the worker threads and close the checkpointer's and the store's file or
        pool, if any."""
        if self._workers is not None:
            self._workers.shutdown()
        for held in (self.checkpointer, self.store):
            close = getattr(held, "close", None)
            if callable(close):
                close()

    # -- internals ------------------------------------------------------------------------------

    def _prepare(self, context: RunContext, tracker: RunTracker) -> tuple[Any, RunnableConfig]:
        # No run metadata in the config: LangChain merges it into every nested runnable's
        # config (about 80 calls a run on a one-node graph); the run id reaches telemetry
        # through the runtime's own events.
        config: RunnableConfig = (
            {"callbacks": tracker.handlers, "max_concurrency": SYNC_MAX_CONCURRENCY}
            if self._workers is not None
            else {"callbacks": tracker.handlers}
        )
        graph = self.graph
        if context.thread_id is not None:
            if self._stateful is None:
                raise ValueError(
                    "this agent is stateless (arguments.checkpointer: none, or not a graph): "
                    "it takes no thread id"
                )
            graph = self._stateful
            config["configurable"] = {"thread_id": context.thread_id}
        elif graph is self._stateful:
            # A graph with its own checkpointer still needs a thread: one per run.
            config["configurable"] = {"thread_id": context.run_id}
        if context.subject is not None:
            # Who calls, as LangGraph Platform tells a graph: the label its store items
            # go under (see :mod:`.storescope`).
            configurable = config.setdefault("configurable", {})
            configurable[USER_ID] = caller_label(context.subject)
        return graph, config


#: How a run on a graph compiled with breakpoints is run outside the Platform API: as a
#: Platform run of no options, answering what ``graph.invoke`` returns plus the stop.
_AT_BREAKPOINTS = PlatformRun(whole_state=False)


def _nothing_to_run(_exc: EmptyInputError) -> InputValidationError:
    """A Platform run LangGraph found nothing to do for: the caller's mistake (422), not the
    agent's failure. An empty ``input`` continues a thread; without one that has state
    (no thread, or a new one) there is nothing to continue."""
    return InputValidationError(
        "nothing to run: the input is empty and there is no thread state to continue "
        "(send input, or an empty input on a thread that has run)",
        path="input",
    )


async def _refuse_nothing_to_resume(graph: Any, config: RunnableConfig, run: PlatformRun) -> None:
    """Refuse (422) a resume that has no interrupted run to continue: without a thread, or
    on a thread that has never run, LangGraph would start the graph from its beginning with
    no input, and the graph would fail as if the agent were at fault (a 500). One read of
    the thread's latest checkpoint, made only for a resume."""
    if run.command is None or run.command.get("resume") is None:
        return
    saver = getattr(graph, "checkpointer", None)
    if not isinstance(saver, BaseCheckpointSaver):
        raise InputValidationError(
            "a resume needs the thread of the interrupted run (thread_id): "
            "a run without a thread has nothing to resume",
            path="thread_id",
        )
    if await saver.aget_tuple(config) is None:
        raise InputValidationError(
            "nothing to resume: the thread has not run, so no run of it stopped at an "
            "interrupt (send the answer on the thread of the interrupted run)",
            path="resume",
        )


def _message_token(ns: tuple[str, ...], chunk: Any) -> StreamEvent | None:
    """A model's streamed text in a Platform run's ``messages`` mode, as a ``token`` item,
    so that the post policies see it as they see ``/stream``'s tokens: a secret split
    across chunks is held back and redacted whole. The server turns it back into a
    ``messages`` event. ``None`` for anything else (a tool call chunk, a whole message),
    which is sent as an event."""
    message, meta = chunk
    text = model_text(message)
    if text is None:
        return None
    data = {"text": text, "node": meta.get("langgraph_node"), "message_id": message.id}
    return StreamEvent("token", {**data, "ns": list(ns), "metadata": meta})


class _Outcome:
    """A Platform run's ``values`` and ``updates`` chunks, folded into what it answers."""

    __slots__ = ("interrupts", "last")

    def __init__(self) -> None:
        self.last: Any = None
        self.interrupts: list[Any] | None = None

    def take(self, mode: str, chunk: Any) -> None:
        if mode == "values":
            self.last = chunk
        elif isinstance(chunk, Mapping) and INTERRUPT in chunk:
            self.interrupts = [*(self.interrupts or ()), *chunk[INTERRUPT]]

    def output(self, graph: Any, run: PlatformRun) -> Any:
        """The whole state (LangServe: the graph's output channels, as ``graph.invoke``
        returns), with ``__interrupt__`` when the run stopped at an interrupt: those
        ``interrupt()`` raised, or none at a breakpoint (``interrupt_before``/``after``), so
        the runtime knows the state is partial."""
        output = self.last if run.whole_state else _output_of(graph, self.last)
        if self.interrupts is not None and isinstance(output, Mapping):
            return {**output, INTERRUPT: tuple(self.interrupts)}
        return output


def _invoke_values(graph: Pregel[Any, Any, Any, Any], payload: Any, config: RunnableConfig) -> Any:
    """What ``graph.invoke(payload, config)`` returns, from its ``values`` stream alone."""
    latest: Any = None
    interrupts: list[Any] = []
    for chunk in graph.stream(
        payload, config, stream_mode="values", output_keys=graph.output_channels
    ):
        latest = chunk
        if isinstance(chunk, dict) and INTERRUPT in chunk:
            interrupts.extend(chunk[INTERRUPT])
    return _as_invoked(latest, interrupts)


async def _ainvoke_values(
    graph: Pregel[Any, Any, Any, Any], payload: Any, config: RunnableConfig
) -> Any:
    """What ``await graph.ainvoke(payload, config)`` returns, from its ``values`` stream
    alone."""
    latest: Any = None
    interrupts: list[Any] = []
    async for chunk in graph.astream(
        payload, config, stream_mode="values", output_keys=graph.output_channels
    ):
        latest = chunk
        if isinstance(chunk, dict) and INTERRUPT in chunk:
            interrupts.extend(chunk[INTERRUPT])
    return _as_invoked(latest, interrupts)


def _as_invoked(latest: Any, interrupts: list[Any]) -> Any:
    """The last ``values`` chunk as ``invoke`` answers it: with every interrupt of the run
    (a chunk carries those of one task; ``invoke`` collects them from the ``updates``
    chunks, the same ones) as a list under ``__interrupt__``."""
    if not interrupts:
        return latest
    return (
        {**latest, INTERRUPT: interrupts} if isinstance(latest, dict) else {INTERRUPT: interrupts}
    )


def _output_of(graph: Any, values: Any) -> Any:
    """The part of the final state ``invoke`` returns: the graph's output channels (its
    ``output_schema``), where ``values`` streams every channel, and ``__interrupt__`` when
    the run stopped at an interrupt (as ``invoke`` returns it too)."""
    keys = getattr(graph, "output_channels", None)
    if isinstance(keys, list | tuple) and isinstance(values, Mapping):
        output = {key: values[key] for key in keys if key in values}
        if INTERRUPT in values:
            output[INTERRUPT] = values[INTERRUPT]
        return output
    return values


def _with_stop(answer: Any, stopped: bool) -> Any:
    """A streamed run's ``answer`` marked as stopped when an ``updates`` chunk said so: an
    ``interrupt()`` also leaves its interrupts in the last ``values``, a breakpoint
    (``interrupt_before``/``after``) nothing but that chunk, so it gets ``__interrupt__: ()``
    and the runtime knows the state is partial, as ``runs.wait`` does."""
    if stopped and isinstance(answer, Mapping) and INTERRUPT not in answer:
        return {**answer, INTERRUPT: ()}
    return answer


def _events(mode: str, chunk: Any) -> Iterable[StreamEvent]:
    if mode == "messages":
        message, meta = chunk
        if isinstance(message, AIMessage):
            text = message_text(message.content)
            if text:
                yield StreamEvent("token", {"text": text, "node": meta.get("langgraph_node")})
    elif mode == "updates" and isinstance(chunk, Mapping):
        for node, update in chunk.items():
            yield StreamEvent("event", {"node": node, "update": update})


# -- choosing the execution path -------------------------------------------------------------


def is_synchronous(graph: Any) -> bool:
    """Whether every node and routing function of ``graph`` has a synchronous form.

    Conservative: anything not recognised (a custom Runnable, a graph without its builder)
    counts as asynchronous, and the graph then runs with ``ainvoke``.
    """
    builder = getattr(graph, "builder", None)
    if not isinstance(graph, Pregel) or not isinstance(builder, StateGraph):
        return False
    for node in builder.nodes.values():
        if not _sync_runnable(node.runnable):
            return False
    for branches in builder.branches.values():
        for branch in branches.values():
            if not _sync_runnable(branch.path):
                return False
    return True


def _sync_runnable(runnable: Any) -> bool:
    if isinstance(runnable, Pregel):
        return is_synchronous(runnable)
    tool_node = _loaded_tool_node()
    if tool_node is not None and isinstance(runnable, tool_node):
        return all(_sync_tool(tool) for tool in runnable.tools_by_name.values())
    if isinstance(runnable, RunnableLambda):
        return hasattr(runnable, "func")
    if hasattr(runnable, "func") and hasattr(runnable, "afunc"):
        # LangGraph's wrapper of a node function: ``func`` is None for an ``async def``.
        return runnable.func is not None
    return False


def _loaded_tool_node() -> type[Any] | None:
    """LangGraph's ``ToolNode`` if its module is loaded: a graph holding one has imported
    it, so for any other graph there is nothing to check and no import to pay (``langgraph
    .prebuilt`` costs about 0.08 s of CPU at start-up)."""
    tool_node: type[Any] | None = getattr(
        sys.modules.get("langgraph.prebuilt.tool_node"), "ToolNode", None
    )
    return tool_node


def _sync_tool(tool: Any) -> bool:
    # StructuredTool and Tool made from a coroutine alone have no ``func`` to call.
    return not hasattr(tool, "coroutine") or getattr(tool, "func", None) is not None
