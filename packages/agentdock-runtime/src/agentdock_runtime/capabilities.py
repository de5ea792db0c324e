"""What the built plugins of a pipeline can do beyond their kind's contract, sorted once.

When a pipeline is built, its telemetry sinks and its auth provider are sorted by the
capability protocols of :mod:`agentdock.capabilities` (``isinstance`` against each, as
Litestar's ``PluginRegistry`` sorts its plugins), and the result is kept on the pipeline
(:attr:`~agentdock_runtime.pipeline.Pipeline.capabilities`). The runtime and the server
read these tuples; nothing asks a plugin what it can do per request, and no plugin is
found by its class or its name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentdock.capabilities import (
    ClosingAuthProvider,
    EventSelectingSink,
    KeySetReporting,
    LossCountingSink,
    MetricsRendering,
    MiddlewareProviding,
    PipelineBoundSink,
    ReadinessReporting,
)

__all__ = ["AuthCapabilities", "PipelineCapabilities", "SinkCapabilities"]


@dataclass(frozen=True, slots=True)
class SinkCapabilities:
    """The telemetry sinks by what they offer besides ``emit`` and ``flush``."""

    #: The events some sink uses; ``None`` when a sink takes every event (one without
    #: ``wants``, or whose ``wants`` is not a set of names).
    wanted: frozenset[str] | None
    #: The sinks that count events they lost after ``emit`` returned, by position.
    loss_counting: tuple[tuple[int, LossCountingSink], ...]
    #: The sinks told about the pipeline once it is compiled.
    bound: tuple[PipelineBoundSink, ...]
    #: The sink that answers ``GET /metrics`` (the first one that can), or ``None``.
    metrics: MetricsRendering | None
    #: The sinks' ASGI middleware, in sink order.
    middleware: tuple[Callable[[Any], Any], ...]

    @classmethod
    def sort(cls, sinks: Sequence[Any]) -> SinkCapabilities:
        named = [_attribute(sink, EventSelectingSink, "wants") for sink in sinks]
        sets = [names for names in named if isinstance(names, frozenset | set)]
        wanted = (
            frozenset(str(name) for names in sets for name in names)
            if len(sets) == len(named)
            else None
        )
        return cls(
            wanted=wanted,
            loss_counting=tuple(
                (index, sink) for index, sink in enumerate(sinks) if _offers(sink, LossCountingSink)
            ),
            bound=tuple(sink for sink in sinks if isinstance(sink, PipelineBoundSink)),
            metrics=next((sink for sink in sinks if isinstance(sink, MetricsRendering)), None),
            middleware=tuple(
                sink.asgi_middleware for sink in sinks if isinstance(sink, MiddlewareProviding)
            ),
        )


def _offers(plugin: Any, capability: type) -> bool:
    """Whether ``plugin`` has ``capability``'s members, judged without running them: on
    Python 3.11 ``isinstance`` against a protocol with a data member reads it, so a plugin
    property that raises would fail the pipeline's build (3.12 reads them statically)."""
    members = getattr(capability, "__protocol_attrs__", None) or _members(capability)
    for name in members:
        try:
            inspect.getattr_static(plugin, name)
        except AttributeError:
            return False
    return True


def _members(capability: type) -> frozenset[str]:
    """A protocol's own members (what ``isinstance`` checks), on Pythons without
    ``__protocol_attrs__``."""
    return frozenset(
        name
        for name in (*getattr(capability, "__annotations__", {}), *vars(capability))
        if not name.startswith("_")
    )


def _attribute(plugin: Any, capability: type, name: str) -> Any:
    """``plugin.<name>`` when the plugin has ``capability``, else ``None``; ``None`` too
    when reading it raises (the plugin then offers nothing there)."""
    if not _offers(plugin, capability):
        return None
    try:
        return getattr(plugin, name)
    except Exception:
        return None


@dataclass(frozen=True, slots=True)
class AuthCapabilities:
    """What the auth provider offers besides ``authenticate`` (all ``None`` without one)."""

    #: Why it cannot verify anyone yet (``None`` once ready), for ``/ready``.
    readiness: Callable[[], str | None] | None
    #: The key fetches by outcome and the key set's age, for the metrics.
    key_set_stats: Callable[[], Any] | None
    #: What releases its connections and threads at shutdown.
    close: Callable[[], None] | None

    @classmethod
    def sort(cls, provider: Any | None) -> AuthCapabilities:
        return cls(
            readiness=provider.readiness if isinstance(provider, ReadinessReporting) else None,
            key_set_stats=(
                provider.key_set_stats if isinstance(provider, KeySetReporting) else None
            ),
            close=provider.close if isinstance(provider, ClosingAuthProvider) else None,
        )


@dataclass(frozen=True, slots=True)
class PipelineCapabilities:
    """The sinks' and the auth provider's capabilities, sorted when the pipeline is built."""

    sinks: SinkCapabilities
    auth: AuthCapabilities

    @classmethod
    def sort(cls, auth: Any | None, sinks: Sequence[Any]) -> PipelineCapabilities:
        return cls(sinks=SinkCapabilities.sort(sinks), auth=AuthCapabilities.sort(auth))
