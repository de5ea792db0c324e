"""Turning a Dockfile entrypoint into something that runs: shared by the adapters."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["resolve_runnable"]


def resolve_runnable(entry: Any, spec: Any) -> Any:
    """The runnable behind an entrypoint: the object itself, or what its builder returns.

    A builder is called once, at start-up, with whichever of ``model`` (the Dockfile's
    model block), ``arguments`` and ``spec`` its signature accepts.

    :raises TypeError: the entrypoint is neither a runnable nor callable, or its builder
        returned something that is not a runnable.
    """
    if hasattr(entry, "ainvoke"):
        return entry
    if not callable(entry):
        raise TypeError(f"entrypoint {entry!r} is neither a runnable nor callable")
    offered = {
        "model": getattr(spec, "model", None),
        "arguments": dict(getattr(spec, "arguments", {}) or {}),
        "spec": spec,
    }
    params = inspect.signature(entry).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in offered.items() if takes_kwargs or k in params}
    built = entry(**kwargs)
    if not hasattr(built, "ainvoke"):
        raise TypeError(
            f"the entrypoint builder returned {type(built).__name__}, not a runnable graph"
        )
    return built
