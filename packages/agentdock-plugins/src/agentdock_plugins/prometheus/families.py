"""The metric families the Prometheus sink exports, as one table.

Each :class:`Family` row names the sink attribute that holds the metric, its type, exported
name, help text and labels, and (where it differs from the default) its buckets or how
several worker processes merge it. A row with a ``switch`` is made only when that switch of
``observability.metrics`` (``latency``, ``tokens``, ``cost``) is on. Reading the table is
reading what ``GET /metrics`` can show; docs/observability.md lists the same names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "FAMILIES",
    "HTTP_BUCKETS",
    "KEY_FAMILIES",
    "TELEMETRY_STATS",
    "TOOL_BUCKETS",
    "UNSAMPLED_FAMILIES",
    "Family",
    "build",
]

#: Seconds; from a health check to a minute-long agent run.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TOOL_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Family:
    """One metric family: where the sink keeps it and how it is exported."""

    #: The sink attribute that holds the metric.
    attr: str
    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    #: How a gauge is merged over worker processes (prometheus-client's ``multiprocess_mode``).
    multiprocess_mode: str | None = None
    #: The ``observability.metrics`` switch this family depends on, if any.
    switch: str | None = None

    def make(self, registry: CollectorRegistry) -> Any:
        """The metric, registered in ``registry``."""
        options: dict[str, Any] = {"registry": registry}
        if self.buckets is not None:
            options["buckets"] = self.buckets
        if self.multiprocess_mode is not None:
            options["multiprocess_mode"] = self.multiprocess_mode
        return self.kind(self.name, self.help, list(self.labels), **options)


#: Made with every sink, in this order.
FAMILIES: tuple[Family, ...] = (
    Family(
        "_info",
        Gauge,
        "agentdock_agent_info",
        "The agent this runtime serves (always 1); tenant names a per-tenant instance.",
        ("agent", "version", "tenant"),
        multiprocess_mode="max",
    ),
    Family(
        "_plugin_errors",
        Gauge,
        "agentdock_plugin_errors",
        "Plugins that failed to load or register when the runtime started (1 each).",
        ("plugin",),
        multiprocess_mode="max",
    ),
    Family(
        "_http_requests",
        Counter,
        "agentdock_http_requests",
        "HTTP requests by route template, method and status code.",
        ("route", "method", "status"),
    ),
    Family(
        "_http_duration",
        Histogram,
        "agentdock_http_request_duration_seconds",
        "HTTP request duration in seconds, until the response body ended.",
        ("route", "method"),
        buckets=HTTP_BUCKETS,
    ),
    Family(
        "_http_in_flight",
        Gauge,
        "agentdock_http_requests_in_flight",
        "HTTP requests being served now.",
        multiprocess_mode="livesum",
    ),
    Family(
        "_runs",
        Counter,
        "agentdock_runs",
        "Agent runs by mode (invoke, stream) and status (ok, error, cancelled).",
        ("mode", "status"),
    ),
    Family(
        "_run_errors",
        Counter,
        "agentdock_run_errors",
        "Failed runs by error type.",
        ("error_type",),
    ),
    Family(
        "_run_duration",
        Histogram,
        "agentdock_run_duration_seconds",
        "Agent run latency in seconds, from the request to the last output.",
        ("mode",),
        buckets=HTTP_BUCKETS,
        switch="latency",
    ),
    Family(
        "_tokens",
        Counter,
        "agentdock_tokens",
        "Model tokens used by runs, by direction (input, output).",
        ("direction",),
        switch="tokens",
    ),
    Family(
        "_cost",
        Counter,
        "agentdock_cost_usd",
        "Estimated model cost of runs in US dollars (runs with a known price).",
        switch="cost",
    ),
    Family(
        "_tool_calls",
        Counter,
        "agentdock_tool_calls",
        "Tool calls by tool and status (ok, error, denied).",
        ("tool", "status"),
    ),
    Family(
        "_tool_duration",
        Histogram,
        "agentdock_tool_duration_seconds",
        "Tool call duration in seconds.",
        ("tool",),
        buckets=TOOL_BUCKETS,
    ),
    Family(
        "_policy_events",
        Counter,
        "agentdock_policy_events",
        "Policy decisions by policy, stage and action (redact, block, truncate, deny, flag, log).",
        ("policy", "stage", "action"),
    ),
    Family(
        "_policy_matches",
        Counter,
        "agentdock_policy_matches",
        "Matches found by policies (redacted spans, flagged patterns), by policy.",
        ("policy",),
    ),
    Family(
        "_auth_failures",
        Counter,
        "agentdock_auth_failures",
        "Refused requests by reason (missing, invalid, expired, revoked, forbidden, "
        "rate_limited, unavailable).",
        ("reason",),
    ),
    Family(
        "_rate_limited",
        Counter,
        "agentdock_rate_limited_requests",
        "Requests refused by a rate limit (429).",
    ),
    Family(
        "_errors",
        Counter,
        "agentdock_errors",
        "Error responses by error type and stage.",
        ("error_type", "stage"),
    ),
    Family(
        "_invalid",
        Counter,
        "agentdock_telemetry_invalid_events",
        "Telemetry events this sink could not read (skipped).",
    ),
    Family(
        "_stat_queued",
        Counter,
        "agentdock_telemetry_events_queued",
        "Telemetry events queued for the sinks.",
    ),
    Family(
        "_stat_delivered",
        Counter,
        "agentdock_telemetry_events_delivered",
        "Telemetry event deliveries to sinks (one per event and sink).",
    ),
    Family(
        "_stat_sink_errors",
        Counter,
        "agentdock_telemetry_sink_errors",
        "Telemetry batches lost because a sink raised.",
    ),
    Family(
        "_stat_sink_timeouts",
        Counter,
        "agentdock_telemetry_sink_timeouts",
        "Telemetry batches lost because a sink did not answer in time.",
    ),
    Family(
        "_dropped",
        Counter,
        "agentdock_telemetry_events_dropped",
        "Telemetry events lost, by sink: dropped by its queue (full, or at shutdown) or "
        "lost inside it (its span queue, failed or timed-out exports, its buffer's bounds).",
        ("sink",),
    ),
    # Where rate limits are kept, per process (summed over live workers).
    Family(
        "_limit_backend",
        Gauge,
        "agentdock_ratelimit_backend",
        "Runtime processes whose rate limits are kept in each place now: redis (shared), "
        "local (this process, or the workers of one host together), closed (Redis "
        "unreachable: limited callers refused).",
        ("state",),
        multiprocess_mode="livesum",
    ),
    Family(
        "_limit_fallbacks",
        Counter,
        "agentdock_ratelimit_fallbacks",
        "Times Redis failed and rate limits left it (kept locally, or refused).",
    ),
)

#: The pipeline's telemetry counters (``telemetry_stats`` fields) and the families above
#: that export them.
TELEMETRY_STATS: Mapping[str, str] = {
    "queued": "_stat_queued",
    "delivered": "_stat_delivered",
    "sink_errors": "_stat_sink_errors",
    "sink_timeouts": "_stat_sink_timeouts",
}

#: Made when the auth provider fetches its keys (``key_set_stats()``: mode oauth2).
KEY_FAMILIES: tuple[Family, ...] = (
    Family(
        "_key_fetches",
        Counter,
        "agentdock_auth_keys_fetch",
        "Fetches of the token issuer's signing keys (JWKS) by outcome (ok, timeout, "
        "unreachable, http_error, too_large, too_many_keys, invalid).",
        ("outcome",),
    ),
    Family(
        "_key_age",
        Gauge,
        "agentdock_auth_keys_age_seconds",
        "Seconds since the signing keys in use were fetched (+Inf: none yet); the oldest "
        "of the live workers.",
        multiprocess_mode="livemax",
    ),
)


#: Made when the pipeline has a sink that samples its runs (OpenTelemetry, LangFuse).
UNSAMPLED_FAMILIES: tuple[Family, ...] = (
    Family(
        "_unsampled",
        Counter,
        "agentdock_telemetry_runs_unsampled",
        "Runs a trace sink's sampler left out, by sink: not built, not sent, not a loss.",
        ("sink",),
    ),
)


def build(
    families: Iterable[Family], registry: CollectorRegistry, switches: Mapping[str, bool]
) -> dict[str, Any]:
    """The families' metrics by attribute; ``None`` for one whose switch is off."""
    return {
        family.attr: family.make(registry)
        if family.switch is None or switches.get(family.switch, True)
        else None
        for family in families
    }
