"""The Prometheus sink as it was before its event path was made cheaper: the reference that
``test_prometheus_sink`` feeds the same events as the sink and whose ``/metrics`` text the
sink's must equal, line for line (``_created`` timestamps aside). Do not change it to follow
the sink: a change of what the sink exports is a change of this file *and* of that test.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentdock_plugins.prometheus import families
from agentdock_plugins.prometheus.families import HTTP_BUCKETS, TOOL_BUCKETS
from agentdock_plugins.prometheus.labels import OTHER, LabelCap
from agentdock_plugins.prometheus.middleware import HttpMetrics, metrics_middleware
from agentdock_runtime.version import served_version
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import values as _values

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "CONTENT_TYPE",
    "HTTP_BUCKETS",
    "MULTIPROC_ENV",
    "TOOL_BUCKETS",
    "ReferencePrometheusSink",
]

log = logging.getLogger("agentdock.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The text exposition format 0.0.4 (UTF-8; servers add ``charset=utf-8`` to text types).
CONTENT_TYPE = "text/plain; version=0.0.4"

_MODES = frozenset({"invoke", "stream"})
_RUN_STATUS = frozenset({"ok", "error", "cancelled"})
_TOOL_STATUS = frozenset({"ok", "error", "denied"})
_STAGES = frozenset({"pre", "tool", "tool_output", "post"})
_ACTIONS = frozenset({"redact", "block", "truncate", "deny", "flag", "log"})
_AUTH_REASONS = frozenset(
    {"missing", "invalid", "expired", "revoked", "forbidden", "rate_limited", "unavailable"}
)
#: ``agentdock_ratelimit_backend`` states: the limiter's ``backend``.
_LIMIT_BACKENDS = ("redis", "local", "closed")


def _drops(pipeline: Any) -> dict[str, int]:
    """Events lost per sink: the pipeline's count, or its queue's alone for an older one."""
    per_sink = getattr(pipeline, "telemetry_drops", None)
    if callable(per_sink):
        return dict(per_sink())
    return dict(getattr(pipeline.telemetry_stats, "dropped_by_sink", None) or {})


def _one_of(value: Any, allowed: frozenset[str]) -> str:
    return value if isinstance(value, str) and value in allowed else OTHER


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


class _Children:
    """A metric's label children, resolved once per combination of (bounded) label values."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child


def _multiprocess_dir() -> str | None:
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return None
    if _values.ValueClass is _values.MutexValue:
        log.warning(
            "%s is set but prometheus-client was imported before it was: metrics are per process",
            MULTIPROC_ENV,
        )
        return None
    return path


class ReferencePrometheusSink:
    """Telemetry events and HTTP traffic as Prometheus metrics for one application.

    :param spec: the resolved ``DockSpec`` (its ``observability.metrics`` switches, the tool
        allow-list and the agent's name); ``None`` for every family with no allow-list.
    :param max_tools: distinct tool names kept as labels (the rest count as ``"other"``).
    :param max_policies: distinct policy names kept as labels.
    :param max_error_types: distinct error types kept as labels.
    """

    # The metrics of families.FAMILIES, set by __init__ from the table (None: switched off).
    _info: Any
    _plugin_errors: Any
    _http_requests: Any
    _http_duration: Any
    _http_in_flight: Any
    _runs: Any
    _run_errors: Any
    _run_duration: Any | None
    _tokens: Any | None
    _cost: Any | None
    _tool_calls: Any
    _tool_duration: Any
    _policy_events: Any
    _policy_matches: Any
    _auth_failures: Any
    _rate_limited: Any
    _errors: Any
    _invalid: Any
    _stat_queued: Any
    _stat_delivered: Any
    _stat_sink_errors: Any
    _stat_sink_timeouts: Any
    _dropped: Any
    _limit_backend: Any
    _limit_fallbacks: Any

    def __init__(
        self,
        spec: DockSpec | None = None,
        *,
        max_tools: int = 50,
        max_policies: int = 32,
        max_error_types: int = 32,
    ) -> None:
        #: The events the metrics come from (``TelemetrySink.wants``).
        self.wants = frozenset(
            {"run_end", "tool_event", "policy_event", "auth_event", "error_event"}
        )
        # Without a spec (a sink made by hand): every family, no tool allow-list.
        metrics_cfg = spec.observability.metrics if spec is not None else None
        self.latency = metrics_cfg.latency if metrics_cfg is not None else True
        self.tokens = metrics_cfg.tokens if metrics_cfg is not None else True
        self.cost = metrics_cfg.cost if metrics_cfg is not None else True
        allowed = (list(spec.policies.tools.allowed) or None) if spec is not None else None
        self._tool_label = LabelCap(max_tools, allowed)
        self._policy_label = LabelCap(max_policies)
        self._error_label = LabelCap(max_error_types)
        self._pipeline: Any | None = None
        self._key_stats: Callable[[], Any] | None = None
        self._key_fetches_seen: dict[str, int] = {}
        self._stats_seen = dict.fromkeys(families.TELEMETRY_STATS, 0)
        self._stats_lock = threading.Lock()

        self.multiprocess_dir = _multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        self._render_registry = self._collectors(self.registry)
        metrics = families.build(
            families.FAMILIES,
            self.registry,
            {"latency": self.latency, "tokens": self.tokens, "cost": self.cost},
        )
        for attr, metric in metrics.items():
            setattr(self, attr, metric)
        # The model's name is not a label: a Dockfile may fill it from a ${VAR} placeholder.
        agent = spec.agent.name if spec is not None else "unknown"
        version = served_version(spec) or ""
        self._info.labels(agent, str(version), os.environ.get("AGENTDOCK_INSTANCE", "")).set(1)
        self.http = HttpMetrics(
            requests=self._http_requests,
            duration=self._http_duration,
            in_flight=self._http_in_flight,
        )
        self._stat_counters = {
            stat: metrics[attr] for stat, attr in families.TELEMETRY_STATS.items()
        }
        self._drops_seen: dict[str, int] = {}
        self._limiter: Any | None = None
        self._fallbacks_seen = 0
        # Label children, resolved once per combination (every label value is bounded).
        self._dropped_of = _Children(self._dropped)
        self._runs_of = _Children(self._runs)
        self._run_errors_of = _Children(self._run_errors)
        self._tool_calls_of = _Children(self._tool_calls)
        self._tool_duration_of = _Children(self._tool_duration)
        self._policy_events_of = _Children(self._policy_events)
        self._policy_matches_of = _Children(self._policy_matches)
        self._auth_failures_of = _Children(self._auth_failures)
        self._errors_of = _Children(self._errors)
        if self._run_duration is not None:
            self._run_duration_of = _Children(self._run_duration)
        # Children that never change, resolved once.
        if self._tokens is not None:
            self._tokens_in = self._tokens.labels("input")
            self._tokens_out = self._tokens.labels("output")
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "run_end": self._on_run_end,
            "tool_event": self._on_tool,
            "policy_event": self._on_policy,
            "auth_event": self._on_auth,
            "error_event": self._on_error,
        }

    def _collectors(self, registry: CollectorRegistry) -> CollectorRegistry:
        """The registry ``render_metrics`` reads: the worker files merged, in multiprocess
        mode; else ``registry`` itself, with the process, platform and GC collectors."""
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            merge: Any = multiprocess.MultiProcessCollector  # untyped in prometheus-client
            merge(merged, path=self.multiprocess_dir)
            return merged
        from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        return registry

    # -- the server's side -----------------------------------------------------------------------

    def bind(self, pipeline: Any) -> None:
        """Export ``pipeline.telemetry_stats`` (queue, sink errors) and the events lost per
        sink with the metrics; every sink's series exists from the start, at 0."""
        self._pipeline = pipeline
        for plugin in getattr(pipeline, "plugin_errors", ()):
            self._plugin_errors.labels(plugin).set(1)
        for name in _drops(pipeline):
            self._dropped_of(name)
        access = getattr(pipeline, "access", None)
        if access is not None and getattr(access, "rates", None):
            self._limiter = access.limiter
            self._fallbacks_seen = 0
            with self._stats_lock:
                self._sync_limiter()
        capabilities = getattr(pipeline, "capabilities", None)
        key_stats = capabilities.auth.key_set_stats if capabilities is not None else None
        if key_stats is not None and self._key_stats is None:
            self._bind_key_stats(key_stats)

    def _bind_key_stats(self, key_stats: Callable[[], Any]) -> None:
        """The key-fetch families, for a provider that fetches its keys (every outcome's
        series exists from the start, at 0)."""
        self._key_stats = key_stats
        metrics = families.build(families.KEY_FAMILIES, self.registry, {})
        self._key_age = metrics["_key_age"]
        self._key_fetches_of = _Children(metrics["_key_fetches"])
        # A third-party provider names its own outcomes: bounded like every label.
        self._outcome_label = LabelCap(16)
        for outcome in key_stats().fetches:
            self._key_fetches_of(self._outcome_label(outcome))

    def asgi_middleware(self, app: Any) -> Any:
        """An ASGI app around ``app`` that counts and times HTTP requests."""
        return metrics_middleware(app, self.http)

    def render_metrics(self) -> tuple[bytes, str]:
        """The exposition text for ``GET /metrics`` and its content type."""
        self._sync_stats()
        return generate_latest(self._render_registry), CONTENT_TYPE

    # -- the telemetry side ----------------------------------------------------------------------

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        handlers = self._handlers
        for event in events:
            try:
                handler = handlers.get(event["event"])
                if handler is not None:
                    handler(event["data"])
            except Exception:  # one malformed event must not lose the batch
                self._invalid.inc()
        self._sync_stats()

    async def flush(self) -> None:
        """Metrics are pulled; at shutdown a worker's live gauges leave the merged view."""
        self._sync_stats()
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess

            dead: Any = multiprocess.mark_process_dead  # untyped in prometheus-client
            dead(os.getpid(), self.multiprocess_dir)

    def _sync_limiter(self) -> None:
        """The limiter's state, read where the sink syncs (each batch, each scrape): one
        process's value, summed over live workers in multiprocess mode."""
        limiter = self._limiter
        if limiter is None:
            return
        state = getattr(limiter, "backend", "local")
        for name in _LIMIT_BACKENDS:
            self._limit_backend.labels(name).set(1 if name == state else 0)
        fallbacks = int(getattr(limiter, "fallbacks", 0))
        if fallbacks > self._fallbacks_seen:
            self._limit_fallbacks.inc(fallbacks - self._fallbacks_seen)
            self._fallbacks_seen = fallbacks

    def _sync_stats(self) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        stats = pipeline.telemetry_stats
        drops = _drops(pipeline)
        with self._stats_lock:
            self._sync_limiter()
            for name, counter in self._stat_counters.items():
                value = getattr(stats, name, 0)
                delta = value - self._stats_seen[name]
                if delta > 0:
                    counter.inc(delta)
                    self._stats_seen[name] = value
            seen = self._drops_seen
            for sink, value in drops.items():
                delta = value - seen.get(sink, 0)
                if delta > 0:
                    self._dropped_of(sink).inc(delta)
                    seen[sink] = value
            if self._key_stats is not None:
                self._sync_key_stats(self._key_stats())

    def _sync_key_stats(self, stats: Any) -> None:
        seen = self._key_fetches_seen
        for outcome, value in stats.fetches.items():
            delta = value - seen.get(outcome, 0)
            if delta > 0:
                self._key_fetches_of(self._outcome_label(outcome)).inc(delta)
                seen[outcome] = value
        self._key_age.set(stats.age_seconds)

    def _on_run_end(self, data: Mapping[str, Any]) -> None:
        mode = _one_of(data.get("mode"), _MODES)
        status = _one_of(data.get("status"), _RUN_STATUS)
        self._runs_of(mode, status).inc()
        if status == "error":
            self._run_errors_of(self._error_label(data.get("error_type") or "unknown")).inc()
        latency = _number(data.get("latency_ms"))
        if self._run_duration is not None and latency is not None:
            self._run_duration_of(mode).observe(latency / 1000.0)
        if self._tokens is not None:
            tokens_in = _number(data.get("tokens_input"))
            tokens_out = _number(data.get("tokens_output"))
            if tokens_in:
                self._tokens_in.inc(tokens_in)
            if tokens_out:
                self._tokens_out.inc(tokens_out)
        if self._cost is not None:
            cost = _number(data.get("cost_usd"))
            if cost:
                self._cost.inc(cost)

    def _on_tool(self, data: Mapping[str, Any]) -> None:
        tool = self._tool_label(data.get("tool"))
        self._tool_calls_of(tool, _one_of(data.get("status"), _TOOL_STATUS)).inc()
        duration = _number(data.get("duration_ms"))
        if duration is not None:
            self._tool_duration_of(tool).observe(duration / 1000.0)

    def _on_policy(self, data: Mapping[str, Any]) -> None:
        policy = self._policy_label(data.get("policy"))
        self._policy_events_of(
            policy, _one_of(data.get("stage"), _STAGES), _one_of(data.get("action"), _ACTIONS)
        ).inc()
        matches = _number(data.get("matches"))
        if matches:
            self._policy_matches_of(policy).inc(matches)

    def _on_auth(self, data: Mapping[str, Any]) -> None:
        if data.get("outcome") != "failure":
            return
        reason = _one_of(data.get("reason"), _AUTH_REASONS)
        self._auth_failures_of(reason).inc()
        if reason == "rate_limited":
            self._rate_limited.inc()

    def _on_error(self, data: Mapping[str, Any]) -> None:
        self._errors_of(
            self._error_label(data.get("error_type") or "unknown"),
            _one_of(data.get("stage"), _STAGES | {"auth", "input", "agent", "output"}),
        ).inc()
