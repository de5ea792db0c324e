"""Built-in plugin: LangFuse traces with an offline buffer.

The sink is built when the Dockfile's ``observability.langfuse`` has both keys. When the
OpenTelemetry sink is built too, LangFuse is attached to it: each run's spans are built and
encoded once and the same bytes go to both endpoints. Each run becomes a LangFuse trace
(same id as its OpenTelemetry trace and ``x-trace-id``) with a
generation carrying model, usage and cost, a span per tool, and policy decisions as
metadata. While LangFuse is down, slow or refusing load, export requests wait in a bounded
SQLite buffer and are re-sent with backoff. The SDK is imported only when the sink is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.langfuse.sink import LangfuseSink

__all__ = ["agentdock_register_telemetry_sinks", "langfuse_sink"]


def langfuse_sink(spec: DockSpec) -> LangfuseSink | None:
    """The sink for ``spec``, or ``None`` when it names no LangFuse keys.

    When the OpenTelemetry factory built a sink for the same spec before, LangFuse joins
    its pipeline (and when it runs after this one, it joins LangFuse's): one span pipeline
    for both, whatever the order. The factories take no ``built`` mapping: the runtime
    would then build them after the local collector, which must see that they export runs.

    :raises agentdock_plugins.langfuse.config.SettingsError: a LangFuse variable is malformed.
    """
    from agentdock_plugins.langfuse.config import langfuse_settings

    settings = langfuse_settings(spec)
    if settings is None:
        return None
    from agentdock_plugins.langfuse.sink import LangfuseSink
    from agentdock_plugins.otel.sink import carrier_for, register_carrier

    carrier = carrier_for(spec)
    sink = LangfuseSink(spec, settings, carrier=carrier)
    if carrier is None:
        register_carrier(sink)
    return sink


@hookimpl
def agentdock_register_telemetry_sinks(register: Any) -> None:
    register(
        "langfuse",
        langfuse_sink,
        description="LangFuse traces (generation, tools, cost) with an offline SQLite buffer",
    )
