"""The vocabulary of one agent run, shared by adapters, the runtime pipeline and servers.

An adapter receives the validated input and a :class:`RunContext`; it returns a
:class:`RunResult` (``invoke``) or yields :class:`StreamEvent` values (``stream``). Before
every tool call it awaits ``context.before_tool(call)``; the policy engine raises
:class:`ToolDenied` there to stop the run cleanly before the tool runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "EventKind",
    "RunContext",
    "RunResult",
    "StreamEvent",
    "ToolCall",
    "ToolDenied",
    "Usage",
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


class ToolDenied(Exception):
    """Raised by ``RunContext.before_tool`` to stop a run before a tool runs."""

    def __init__(self, tool: str, reason: str) -> None:
        super().__init__(f"tool {tool!r} denied: {reason}")
        self.tool = tool
        self.reason = reason


async def _allow_every_tool(call: ToolCall) -> None:
    return None


def _no_telemetry(kind: str, data: Mapping[str, Any]) -> None:
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
    #: Awaited before every tool call; raises :class:`ToolDenied` to stop the run.
    before_tool: Callable[[ToolCall], Awaitable[None]] = _allow_every_tool
    #: The same check as ``before_tool``, synchronous, when every tool policy is: an adapter
    #: may call it in the thread that makes the tool call instead of awaiting
    #: ``before_tool`` on the event loop. ``None`` when not available.
    check_tool: Callable[[ToolCall], None] | None = None
    #: Called with each tool call and what the tool returned, in the thread that made the
    #: call, before the agent reads the result (the ``tool_output`` policies); raises
    #: :class:`ToolDenied` to stop the run there. ``None`` when no such policy is configured.
    check_tool_output: Callable[[ToolCall, Any], None] | None = None
    #: ``emit(kind, data)`` queues one telemetry event of this run (``"policy_event"``,
    #: ``"tool_event"``, ...); it never blocks or raises, and is a no-op without sinks.
    emit: Callable[[str, Mapping[str, Any]], None] = _no_telemetry
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
        return self.emit is not _no_telemetry


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
