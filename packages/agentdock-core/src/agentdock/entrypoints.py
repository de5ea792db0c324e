"""How an entrypoint becomes the agent's runnable: the object itself, or what its builder makes.

``agent.entrypoint`` names either a runnable (a compiled graph, an LCEL chain: it has
``ainvoke``), served as it is, or a *builder*, called once at start-up with whichever of
``model`` (the Dockfile's model block), ``arguments`` and ``spec`` its signature accepts,
which returns the runnable. The built-in adapters build this way, and so does ``agentdock
validate``'s import probe, so a builder that raises fails validation exactly as it would fail
the runtime. An adapter factory marked with :func:`calls_builder` tells validation that its
framework follows this rule; an adapter that treats a callable entrypoint otherwise is left
unmarked and its entrypoint is only imported.

Standard library only: the probe imports this module in a fresh interpreter.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["build_runnable", "builder_arguments", "calls_builder", "is_runnable", "marked"]

_MARK = "__agentdock_calls_builder__"
F = TypeVar("F", bound=Callable[..., Any])


def calls_builder(factory: F) -> F:
    """Mark an adapter factory whose entrypoint, unless already a runnable, is a builder
    called as :func:`build_runnable` does (``agentdock validate`` then calls it too)."""
    setattr(factory, _MARK, True)
    return factory


def marked(factory: Any) -> bool:
    """Whether ``factory`` was marked with :func:`calls_builder`."""
    return getattr(factory, _MARK, False) is True


def is_runnable(obj: Any) -> bool:
    """A runnable is served as it is: it has ``ainvoke`` (a compiled graph, a Runnable)."""
    return hasattr(obj, "ainvoke")


def builder_arguments(builder: Callable[..., Any], spec: DockSpec) -> dict[str, Any]:
    """The keyword arguments ``builder`` accepts of ``model``, ``arguments`` and ``spec``."""
    offered = {
        "model": getattr(spec, "model", None),
        "arguments": dict(getattr(spec, "arguments", {}) or {}),
        "spec": spec,
    }
    params = inspect.signature(builder).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in offered.items() if takes_kwargs or k in params}


def build_runnable(entry: Any, spec: DockSpec) -> Any:
    """The runnable behind an entrypoint: the object itself, or what its builder returns.

    :raises TypeError: the entrypoint is neither a runnable nor callable, or its builder
        returned something that is not a runnable.
    """
    if is_runnable(entry):
        return entry
    if not callable(entry):
        raise TypeError(f"entrypoint {entry!r} is neither a runnable nor callable")
    built = entry(**builder_arguments(entry, spec))
    if not is_runnable(built):
        raise TypeError(
            f"the entrypoint builder returned {type(built).__name__}, not a runnable graph"
        )
    return built
