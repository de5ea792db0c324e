"""What the LangChain and LangGraph adapters share: turning a Dockfile entrypoint into
something that runs, and one tracked ``invoke``.

The entrypoint rule lives in core (:mod:`agentdock.entrypoints`) so that ``agentdock
validate`` calls a builder exactly as the adapters do.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from agentdock.entrypoints import build_runnable
from agentdock.run import RunResult

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.langchain_callbacks import RunTracker

__all__ = ["resolve_runnable", "tracked_result"]


def resolve_runnable(entry: Any, spec: DockSpec) -> Any:
    """The runnable behind an entrypoint: the object itself, or what its builder returns
    (called once, at start-up, with whichever of ``model``, ``arguments`` and ``spec`` its
    signature accepts).

    :raises TypeError: the entrypoint is neither a runnable nor callable, or its builder
        returned something that is not a runnable.
    """
    return build_runnable(entry, spec)


async def tracked_result(tracker: RunTracker, run: Awaitable[Any]) -> RunResult:
    """Await the agent's run and close ``tracker`` with its outcome (the error it raised, if
    any, which propagates): the result carries the output, the usage and the tool calls."""
    try:
        output = await run
    except Exception as error:
        tracker.finish(error)
        raise
    tracker.finish()
    return RunResult(output=output, usage=tracker.usage, tools=tuple(tracker.tools))
