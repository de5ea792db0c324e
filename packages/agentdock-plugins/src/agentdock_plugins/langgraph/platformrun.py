"""What a LangGraph Platform run asks of the adapter beyond its input.

The Platform API's runs (``/runs/wait``, ``/threads/{id}/runs/stream``, …) go through the
same pipeline as ``/invoke``: auth, input checks, policies, the adapter, output checks,
telemetry. The pipeline hands the adapter the input and the thread; what the Platform adds
(a ``command`` that resumes an interrupt, the caller's ``config`` and ``context``, the
stream modes, ``interrupt_before``/``after``, a checkpoint to start from) travels beside
it in a context variable, set by the server for the task that runs the pipeline. The
adapter reads it once per run; ``/invoke`` leaves it unset and pays one lookup.

Under a Platform run the adapter streams the requested LangGraph modes, each chunk as one
``event`` item ``{"event": <SSE event name>, "data": <chunk>}`` (so the post policies see
and redact it like any event), instead of AgentDock's own token and node events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

__all__ = ["PLATFORM_RUN", "STREAM_MODES", "PlatformRun", "graph_modes", "run_payload"]

#: The stream modes a Platform run may ask for, and the LangGraph mode behind each.
#: ``messages`` and ``messages-tuple`` both stream ``(chunk, metadata)`` pairs, sent as
#: the event ``messages`` (the form RemoteGraph and the SDK's tuple mode read). ``events``
#: is no LangGraph mode: the run is streamed with ``astream_events`` (v2), each event sent
#: as the event ``events`` (:mod:`.platformevents`).
STREAM_MODES: Mapping[str, str] = {
    "values": "values",
    "updates": "updates",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
    "messages": "messages",
    "messages-tuple": "messages",
    "events": "events",
}
#: Requested modes that are not LangGraph stream modes.
_NOT_GRAPH_MODES = frozenset({"events"})

#: Keys of ``config.configurable`` a caller may not set: the server owns them.
_RESERVED = frozenset(
    {
        "thread_id",
        "checkpoint_ns",
        "checkpoint_map",
        "__pregel_scratchpad",
        "langgraph_auth_user_id",  # who calls: the server says (see :mod:`.storescope`)
        "langgraph_auth_user",
    }
)


@dataclass(frozen=True, slots=True)
class PlatformRun:
    """One Platform run's options, as the adapter needs them (validated by the server)."""

    #: ``{"resume": …, "update": …, "goto": …}``: the graph is given a ``Command``
    #: instead of the input (``None``: the input). The run's payload is then this command,
    #: run as a resume (:func:`run_payload`): not checked against the input schema, seen
    #: by the ``pre`` policies.
    command: Mapping[str, Any] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] | None = None
    #: The requested stream modes, as sent (keys of :data:`STREAM_MODES`).
    stream_modes: Sequence[str] = ("values",)
    subgraphs: bool = False
    interrupt_before: Sequence[str] | str | None = None
    interrupt_after: Sequence[str] | str | None = None
    #: Start from this checkpoint of the thread (``None``: its latest).
    checkpoint_id: str | None = None
    #: The run answers the whole state (the Platform's ``runs.wait``); False: what
    #: ``graph.invoke`` returns, the graph's output channels (LangServe's ``invoke``).
    whole_state: bool = True

    def graph_input(self, payload: Mapping[str, Any]) -> Any:
        """What the graph is given: a ``Command`` when resuming (``payload`` is then the
        command as the ``pre`` policies left it), else the input, where an empty input on a
        thread continues it (``None``, as LangGraph expects)."""
        if self.command is not None:
            command = payload
            asks = command.get("resume"), command.get("update"), command.get("goto")
            if asks == (None, None, None):
                # ``{"resume": null}``: no answer, so the thread goes on from where it
                # stopped (past a breakpoint; an ``interrupt()`` asks again), as a ``None``
                # input does; ``Command(resume=None)`` would start it over.
                return None
            return Command(
                resume=command.get("resume"),
                update=command.get("update"),
                goto=command.get("goto") or (),
            )
        return dict(payload) if payload else None

    def merge_config(self, config: RunnableConfig) -> RunnableConfig:
        """``config`` (the adapter's callbacks and thread) with the caller's settings."""
        mine = self.config
        if "recursion_limit" in mine:
            config["recursion_limit"] = int(mine["recursion_limit"])
        if mine.get("tags"):
            config["tags"] = [str(tag) for tag in mine["tags"]]
        configurable = {
            key: value
            for key, value in (mine.get("configurable") or {}).items()
            if key not in _RESERVED
        }
        configurable.update(config.get("configurable") or {})
        if self.checkpoint_id is not None and "thread_id" in configurable:
            configurable["checkpoint_id"] = self.checkpoint_id
        if configurable:
            config["configurable"] = configurable
        return config

    def graph_kwargs(self) -> dict[str, Any]:
        """``context``, ``interrupt_before`` and ``interrupt_after`` for ``(a)stream``."""
        kwargs: dict[str, Any] = {}
        if self.context is not None:
            kwargs["context"] = dict(self.context)
        if self.interrupt_before:
            kwargs["interrupt_before"] = self.interrupt_before
        if self.interrupt_after:
            kwargs["interrupt_after"] = self.interrupt_after
        return kwargs


def graph_modes(requested: Sequence[str]) -> list[str]:
    """The LangGraph modes to stream for ``requested``, ``values`` always among them (the
    last ``values`` chunk is the run's output)."""
    modes = {STREAM_MODES[mode] for mode in requested if mode not in _NOT_GRAPH_MODES}
    modes.add("values")
    return sorted(modes)


#: The Platform run of the current task, or ``None`` (an AgentDock run).
PLATFORM_RUN: ContextVar[PlatformRun | None] = ContextVar("agentdock_platform_run", default=None)


def run_payload(command: Mapping[str, Any] | None, input_: Mapping[str, Any] | None) -> Any:
    """What a Platform-style run hands the pipeline: the ``command`` (its fields that are
    set) when there is one, to be run with ``resume=True``, else the input (``{}`` absent)."""
    if command is not None:
        return {key: value for key, value in command.items() if value is not None}
    return input_ if input_ is not None else {}
