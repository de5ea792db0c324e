"""Built-in plugin: Prometheus metrics at ``/metrics``.

Every agent is observable by default: the sink is built for every spec, and the server
serves what it renders at ``GET /metrics`` (permission ``view_metrics``). The Dockfile's
``observability.metrics`` switches families off (``latency: false`` drops the run duration
histogram, ``tokens: false`` the token counters, ``cost: false`` the cost counter); the
environment variable ``AGENTDOCK_METRICS=off`` turns the sink off entirely. With
``PROMETHEUS_MULTIPROC_DIR`` set (several worker processes) every worker writes its
samples there and a scrape of any worker reports the sum. prometheus-client is imported
only when the sink is built.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

    from agentdock_plugins.prometheus.sink import PrometheusSink

__all__ = ["DISABLE_ENV", "agentdock_register_telemetry_sinks", "prometheus_sink"]

#: ``AGENTDOCK_METRICS=off`` (or ``0``/``false``) builds no Prometheus sink.
DISABLE_ENV = "AGENTDOCK_METRICS"


def prometheus_sink(spec: DockSpec) -> PrometheusSink | None:
    """The sink for ``spec``, or ``None`` when metrics are switched off by the environment."""
    if os.environ.get(DISABLE_ENV, "").strip().lower() in {"off", "0", "false", "no"}:
        return None
    from agentdock_plugins.prometheus.sink import PrometheusSink

    return PrometheusSink(spec)


@hookimpl
def agentdock_register_telemetry_sinks(register: Any) -> None:
    register(
        "prometheus",
        prometheus_sink,
        description="Prometheus metrics (requests, latency, tokens, cost, tools, policies)",
    )
