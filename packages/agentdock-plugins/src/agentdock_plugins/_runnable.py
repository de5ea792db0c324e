"""Turning a Dockfile entrypoint into something that runs: shared by the adapters.

The rule lives in core (:mod:`agentdock.entrypoints`) so that ``agentdock validate`` calls a
builder exactly as the adapters do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock.entrypoints import build_runnable

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["resolve_runnable"]


def resolve_runnable(entry: Any, spec: DockSpec) -> Any:
    """The runnable behind an entrypoint: the object itself, or what its builder returns
    (called once, at start-up, with whichever of ``model``, ``arguments`` and ``spec`` its
    signature accepts).

    :raises TypeError: the entrypoint is neither a runnable nor callable, or its builder
        returned something that is not a runnable.
    """
    return build_runnable(entry, spec)
