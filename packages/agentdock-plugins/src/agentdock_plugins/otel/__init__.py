"""Built-in plugin: OpenTelemetry GenAI spans exported over OTLP/HTTP.

The sink is built when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set or the Dockfile names
``observability.otlp_endpoint``, and ``observability.tracing`` is not false. A run becomes
an ``invoke_agent {agent}`` span with ``execute_tool``, ``chat`` and node children and its
policy decisions as span events, under the trace id the runtime answered in ``x-trace-id``.
When LangFuse is configured too, the two sinks share one span pipeline (whichever factory
runs second joins the first's): each run is built and encoded once and the same bytes go to
both endpoints. The OpenTelemetry SDK is imported only when the
sink is built.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.otel.sink import OtelSink

__all__ = ["agentdock_register_telemetry_sinks", "otel_sink"]


def otel_sink(spec: DockSpec) -> OtelSink | None:
    """The sink for ``spec``, or ``None`` when no OTLP endpoint is configured."""
    from agentdock_plugins.otel.config import traces_endpoint

    endpoint = traces_endpoint(spec, os.environ)
    if endpoint is None:
        return None
    from agentdock_plugins.otel.sink import OtelSink, carrier_for, register_carrier

    carrier = carrier_for(spec)  # LangFuse's sink, when its factory ran first
    sink = OtelSink(spec, endpoint=endpoint, carrier=carrier)
    if carrier is None:
        register_carrier(sink)  # LangFuse, built next for this spec, rides on it
    return sink


@hookimpl
def agentdock_register_telemetry_sinks(register: Any) -> None:
    register(
        "otel",
        otel_sink,
        description="OpenTelemetry GenAI spans over OTLP/HTTP (run, node, tool, model)",
    )
