"""The vocabulary of one agent run, shared by adapters, the runtime pipeline and servers.

An adapter receives the validated input and a :class:`RunContext`; it returns a
:class:`RunResult` (``invoke``) or yields :class:`StreamEvent` values (``stream``). Before
every tool call it asks the run's :class:`ToolGate` (``context.tools``): ``check(call)`` in
the thread that makes the call, or ``await acheck(call)`` on the event loop. The gate raises
:class:`ToolDenied` there to stop the run cleanly before the tool runs, and keeps what
refused the call as the run's one record of the denial (:attr:`ToolGate.refusal`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "EventKind",
    "ReplaceToolOutput",
    "RunContext",
    "RunResult",
    "StreamEvent",
    "ToolCall",
    "ToolDenied",
    "ToolGate",
    "Usage",
    "no_telemetry",
]

#: ``token``: a chunk of model text; ``event``: a node or tool update; ``tool``: a tool call
#: about to run; ``usage``: token counts reported by a model message; ``output``: the run's
#: final output, ``{"output": value}``, what ``invoke`` would have returned (last, once; the
#: runtime validates it, passes it through the post policies and sends it with ``end``).
EventKind = Literal["token", "event", "tool", "usage", "output"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a run consumed, normalised from the model messages."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool the agent is about to call."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReplaceToolOutput:
    """What a ``tool_output`` policy returns to put ``content`` in place of a tool's result:
    the agent reads the notice and goes on, where a :class:`ToolDenied` would end the run.
    An adapter that cannot replace the result it was handed (a tool that returned no
    message) stops the run as a denial instead: the result never reaches the agent."""

    content: str
    #: Why, for the denial an adapter raises when it cannot replace the result.
    reason: str = "its output was withheld"


class ToolDenied(Exception):
    """Raised by the run's :class:`ToolGate` to stop a run before a tool runs."""

    def __init__(self, tool: str, reason: str) -> None:
        super().__init__(f"tool {tool!r} denied: {reason}")
        self.tool = tool
        self.reason = reason


class ToolGate:
    """Every tool call of one run passes here before the tool runs.

    Adapters call :meth:`check` in the thread that makes the tool call, or await
    :meth:`acheck` on the event loop, and let the :class:`ToolDenied` it raises stop the
    tool. What refused a call is kept in :attr:`refusal`, the run's single record of the
    denial: an agent that swallows the error is stopped at its next step
    (:meth:`raise_refusal`), and the run ends with it. Once the run is over
    (:meth:`close`), every call is refused.

    This gate, a :class:`RunContext`'s default, asks no one and allows every tool. A gate
    that asks tool policies overrides :meth:`decide` (synchronous, in the caller's thread)
    or :meth:`adecide` (on the event loop; then :attr:`inline` is false and :meth:`check`
    from another thread waits for it on the loop the gate was given).
    """

    __slots__ = ("closed", "inline", "loop", "refusal")

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, *, inline: bool = True
    ) -> None:
        #: What refused a tool call of this run: a :class:`ToolDenied`, or the error a tool
        #: policy raised (``None`` while every call was allowed).
        self.refusal: Exception | None = None
        self.closed = False
        #: The run's event loop, where :meth:`adecide` runs for :meth:`check`.
        self.loop = loop
        #: Whether :meth:`check` decides in the calling thread (:meth:`decide`), without
        #: waiting for the event loop: adapters may then call it straight from any callback.
        self.inline = inline

    def decide(self, call: ToolCall) -> None:
        """Allow ``call`` or raise: the gate's own checks, in the calling thread."""

    async def adecide(self, call: ToolCall) -> None:
        """Allow ``call`` or raise, on the event loop (by default: :meth:`decide`)."""
        self.decide(call)

    def check(self, call: ToolCall) -> None:
        """Allow ``call`` or raise, from the thread that makes it (any thread)."""
        self._admit(call)
        try:
            if self.inline:
                self.decide(call)
            else:
                self._wait(call)
        except ToolDenied as denied:
            self.refuse(denied)
            raise

    async def acheck(self, call: ToolCall) -> None:
        """Allow ``call`` or raise, awaited on the run's event loop."""
        self._admit(call)
        try:
            await self.adecide(call)
        except ToolDenied as denied:
            self.refuse(denied)
            raise

    def refuse(self, refusal: Exception) -> None:
        """Keep ``refusal`` as the run's denial, unless an earlier one is kept already."""
        if self.refusal is None:
            self.refusal = refusal

    def raise_refusal(self) -> None:
        """Raise the run's denial, if a tool call was refused."""
        refusal = self.refusal
        if refusal is not None:
            raise refusal

    def close(self) -> None:
        """The run is over: every later tool call is refused."""
        self.closed = True

    def _admit(self, call: ToolCall) -> None:
        self.raise_refusal()
        if self.closed:
            denied = ToolDenied(call.name, "the run is over")
            self.refuse(denied)
            raise denied

    def _wait(self, call: ToolCall) -> None:
        """:meth:`adecide` run to its end on the gate's loop, this thread waiting for it."""
        # Imported here: ``agentdock.run`` is part of what ``agentdock validate`` loads.
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        loop = self.loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and loop is not running and loop.is_running():
            asyncio.run_coroutine_threadsafe(self.adecide(call), loop).result()
        elif running is None:
            asyncio.run(self.adecide(call))
        else:
            # A synchronous tool call made on a loop's own thread: that loop cannot run the
            # check while this thread waits, so it runs on a loop of its own.
            with ThreadPoolExecutor(1, thread_name_prefix="agentdock-gate") as pool:
                pool.submit(asyncio.run, self.adecide(call)).result()


def no_telemetry(kind: str, data: Mapping[str, Any]) -> None:
    """The ``emit`` of a run no telemetry sink listens to: it drops every event."""
    return None


@dataclass(slots=True)
class RunContext:
    """What an adapter knows about the run besides its input."""

    run_id: str
    #: Conversation id for stateful agents (``x-thread-id``); ``None`` for a stateless run.
    thread_id: str | None = None
    #: The Dockfile's ``arguments``.
    arguments: Mapping[str, Any] = field(default_factory=dict)
    #: Who called (never the credential itself).
    subject: str | None = None
    role: str | None = None
    #: Asked before every tool call (``check`` or ``acheck``); raises :class:`ToolDenied`
    #: to stop the run, and records the denial.
    tools: ToolGate = field(default_factory=ToolGate)
    #: Called with each tool call and what the tool returned, in the thread that made the
    #: call, before the agent reads the result (the ``tool_output`` policies); raises
    #: :class:`ToolDenied` to stop the run there, or returns a :class:`ReplaceToolOutput`
    #: whose content the agent reads in place of the result (``None``: the result as it
    #: is). ``None`` when no such policy is configured.
    check_tool_output: Callable[[ToolCall, Any], ReplaceToolOutput | None] | None = None
    #: ``emit(kind, data)`` queues one telemetry event of this run (``"policy_event"``,
    #: ``"tool_event"``, ...); it never blocks or raises, and is a no-op without sinks.
    emit: Callable[[str, Mapping[str, Any]], None] = no_telemetry
    #: W3C trace id (32 hex) and this run's span id (16 hex).
    trace_id: str | None = None
    span_id: str | None = None
    #: Per-run scratch space for policies and adapters, keyed by their name.
    state: dict[str, Any] = field(default_factory=dict)
    #: ``"stream"`` when the output goes out token by token (post policies then see each
    #: token's data, and ``finish`` at the end), else ``"invoke"``.
    mode: Literal["invoke", "stream"] = "invoke"

    #: The step events some sink uses (``node_event``, ``tool_event``, ``model_event``):
    #: adapters time those steps, and only those, for telemetry.
    steps: frozenset[str] = frozenset()

    @property
    def traced(self) -> bool:
        """Whether telemetry listens at all (``emit`` is not the no-op)."""
        return self.emit is not no_telemetry


@dataclass(frozen=True, slots=True)
class RunResult:
    """What ``Adapter.invoke`` returns: the agent's output and the tokens it used."""

    output: Any
    usage: Usage = field(default_factory=Usage)
    #: Tool calls made during the run, in order.
    tools: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One item of ``Adapter.stream``."""

    kind: EventKind
    data: Mapping[str, Any] = field(default_factory=dict)
