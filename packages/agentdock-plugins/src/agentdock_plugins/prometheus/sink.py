"""The Prometheus sink: telemetry events become counters and histograms, off the request path.

One :class:`PrometheusSink` per application, each with its own ``CollectorRegistry`` (never
the process-global one, so several apps or tests in one process do not collide). It gives
the server three things:

- ``hand_over(events)``: called by the runtime's telemetry queues on the event loop with
  each run's events; one loop callback per turn of the loop counts what was handed over
  (run, token, cost, tool, policy, auth and error metrics from ``run_end``, ``tool_event``,
  ``policy_event``, ``auth_event`` and ``error_event``): no drain task, no ``emit`` per run
  (``emit(events)`` counts a batch at once, for a caller that has one);
- ``asgi_middleware(app)``: wraps the routes; requests by route template, method and status,
  a duration histogram in seconds and an in-flight gauge (see :mod:`.middleware`);
- ``render_metrics()``: the exposition text for ``GET /metrics``.

``bind(pipeline)`` lets the sink export the pipeline's own telemetry counters (events queued,
delivered, sink errors and timeouts) and the events lost per sink (dropped by its queue or
lost inside the sink: a span queue, a backend that failed or timed out, a buffer's bounds),
and, when the auth provider fetches keys (``key_set_stats()``: mode oauth2), the fetches by
outcome and the age of the key set in use; and, for an agent with rate limits, where they are
kept now (Redis, locally, or refused while Redis is unreachable) and how many times Redis failed.
In one process those are read when the metrics are (a scrape, any read of ``registry``);
with several workers, after every batch (a scrape of another worker reads this one's file).

Per event the sink does no ``.labels(...)`` lookup and no label check it has done before:
each combination's child is resolved once and kept as its value's ``inc`` (a histogram's as
the sum's ``inc`` and a bisection over its buckets). ``tests/prometheus_reference_sink.py``
is the sink as it was before; ``test_prometheus_identity`` holds the two to the same text.

Several worker processes: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory before
prometheus-client is first imported (``agentdock serve --workers N`` sets it), every process
writes its samples to files there and ``render_metrics`` merges them, so any worker answers
a scrape with the sum over all workers. Process metrics (CPU, memory, file descriptors) are
exported in single-process mode only, where they describe the one process serving.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentdock_runtime.version import served_version
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import values as _values

from agentdock_plugins.prometheus import families
from agentdock_plugins.prometheus.families import HTTP_BUCKETS, TOOL_BUCKETS
from agentdock_plugins.prometheus.labels import OTHER, LabelCap
from agentdock_plugins.prometheus.middleware import HttpMetrics, metrics_middleware

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "CONTENT_TYPE",
    "HTTP_BUCKETS",
    "MULTIPROC_ENV",
    "TOOL_BUCKETS",
    "PrometheusSink",
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
_ERROR_STAGES = _STAGES | {"auth", "input", "agent", "output"}
#: ``agentdock_ratelimit_backend`` states: the limiter's ``backend``.
_LIMIT_BACKENDS = ("redis", "local", "closed")


def _drops(pipeline: Any) -> dict[str, int]:
    """Events lost per sink: the pipeline's count, or its queue's alone for an older one."""
    per_sink = getattr(pipeline, "telemetry_drops", None)
    if callable(per_sink):
        return dict(per_sink())
    return dict(getattr(pipeline.telemetry_stats, "dropped_by_sink", None) or {})


def _unsampled(pipeline: Any) -> dict[str, int]:
    """Runs left out per sampling sink (none for a pipeline that does not say)."""
    per_sink = getattr(pipeline, "telemetry_unsampled", None)
    return dict(per_sink()) if callable(per_sink) else {}


def _one_of(value: Any, allowed: frozenset[str]) -> str:
    return value if isinstance(value, str) and value in allowed else OTHER


def _number(value: Any) -> float | None:
    kind = value.__class__
    if kind is float:  # the common case first: the same answer as below, fewer steps
        return value if 0.0 <= value < _INF else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


_INF = math.inf
#: With several workers, how often the trace sinks' unsampled counts are read at most.
_UNSAMPLED_EVERY_S = 1.0


def _adder(child: Any) -> Callable[[float], None]:
    """``child.inc`` without its checks, for amounts the sink made non-negative itself: the
    value's own ``inc`` (a lock and an add, or a write to the worker's file)."""
    value = getattr(child, "_value", None)
    inc = getattr(value, "inc", None)
    return inc if callable(inc) else child.inc  # type: ignore[no-any-return]


def _observer(child: Any) -> Callable[[float], None]:
    """``child.observe`` for a histogram child: the sum, then the first bucket whose bound
    holds the amount, found by bisection (the same bucket the linear scan finds)."""
    try:
        bounds = list(child._upper_bounds)
        buckets = [bucket.inc for bucket in child._buckets]
        add_sum = child._sum.inc
    except AttributeError:  # another prometheus-client's layout: its own observe
        return child.observe  # type: ignore[no-any-return]
    if len(bounds) != len(buckets) or not bounds or bounds[-1] != _INF:
        return child.observe  # type: ignore[no-any-return]

    def observe(amount: float) -> None:
        add_sum(amount)
        buckets[bisect_left(bounds, amount)](1)

    return observe


class _Children:
    """A metric's label children, resolved once per combination of (bounded) label values;
    ``wrap`` turns a child into what the sink calls (its ``inc``, its ``observe``)."""

    __slots__ = ("_cache", "_metric", "_wrap")

    def __init__(self, metric: Any, wrap: Callable[[Any], Any] = _adder) -> None:
        self._metric = metric
        self._wrap = wrap
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._wrap(self._metric.labels(*values))
        return child


class _SyncOnCollect:
    """Registered first in the sink's registry: every read of it (a scrape, a test's
    ``get_sample_value``) first brings the pipeline's counters up to date, so the sink need
    not read them per batch in one process."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self._sync = sync

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        self._sync()
        return []


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


class PrometheusSink:
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
        # One process: the pipeline's counters are read when the metrics are (exact, and
        # nothing per batch). Several: each worker writes them to its file per batch, since
        # a scrape of another worker reads that file and cannot ask this one.
        self._sync_per_batch = self.multiprocess_dir is not None
        if not self._sync_per_batch:
            self.registry.register(_SyncOnCollect(self._sync_stats))
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
        #: Runs handed over (``hand_over``) and not counted yet; the loop the callback that
        #: counts them is scheduled on; whether it failed once (warned about, not again).
        self._handed: deque[Sequence[Mapping[str, Any]]] = deque()
        self._count_loop: asyncio.AbstractEventLoop | None = None
        self._count_failed = False
        self._unsampled_of: _Children | None = None
        self._unsampled_seen: dict[str, int] = {}
        #: The pending unsampled read and the loop it waits on (several workers only).
        self._unsampled_timer: asyncio.TimerHandle | None = None
        self._unsampled_loop: asyncio.AbstractEventLoop | None = None
        self._limiter: Any | None = None
        self._fallbacks_seen = 0
        # Label children, resolved once per combination (every label value is bounded).
        self._dropped_of = _Children(self._dropped)
        self._runs_of = _Children(self._runs)
        self._run_errors_of = _Children(self._run_errors)
        self._tool_calls_of = _Children(self._tool_calls)
        self._policy_events_of = _Children(self._policy_events)
        self._policy_matches_of = _Children(self._policy_matches)
        self._auth_failures_of = _Children(self._auth_failures)
        self._errors_of = _Children(self._errors)
        self._tool_duration_of = _Children(self._tool_duration, _observer)
        if self._run_duration is not None:
            self._run_duration_of = _Children(self._run_duration, _observer)
        #: What a run_end with a known mode and status updates, by (mode, status); resolved
        #: on first use (a series appears when it is first counted, not before).
        self._run_slots: dict[tuple[Any, Any], tuple[Callable[[float], None], str, bool]] = {}
        # Children that never change, resolved once.
        if self._tokens is not None:
            self._tokens_in = _adder(self._tokens.labels("input"))
            self._tokens_out = _adder(self._tokens.labels("output"))
        if self._cost is not None:
            self._cost_add = _adder(self._cost)
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
        unsampled = _unsampled(pipeline)
        if unsampled and self._unsampled_of is None:  # only beside a sink that samples
            metric = families.build(families.UNSAMPLED_FAMILIES, self.registry, {})["_unsampled"]
            self._unsampled_of = _Children(metric)
            for name in unsampled:
                self._unsampled_of(name)
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
        if self._sync_per_batch:  # else the registry's first collector syncs
            self._sync_stats()
        return generate_latest(self._render_registry), CONTENT_TYPE

    # -- the telemetry side ----------------------------------------------------------------------

    def hand_over(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Take a run's events on the event loop (:class:`~agentdock.capabilities.HandingOverSink`):
        they are queued here and counted by one loop callback for every run handed over
        before it runs, off the caller's stack. No drain task is woken and no ``emit``
        awaited per run; the sink cannot block, so it needs no bound nor timeout of its own
        (the callback takes what the loop's turn handed over)."""
        self._handed.append(events)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # handed over outside a loop: counted at once
            self._count_handed()
            return
        if self._count_loop is not loop:  # (a loop that closed first never ran it)
            self._count_loop = loop
            loop.call_soon(self._count_handed)

    def _count_handed(self) -> None:
        self._count_loop = None
        handed = self._handed
        try:
            while handed:
                self._count(handed.popleft())
            if self._sync_per_batch:
                self._sync_batch()
        except Exception as exc:  # the loop's callback must not raise; say it once
            if not self._count_failed:
                self._count_failed = True
                log.warning("metrics: counting telemetry events failed (%s)", type(exc).__name__)

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        self._count(events)
        if self._sync_per_batch:
            self._sync_batch()

    def _count(self, events: Sequence[Mapping[str, Any]]) -> None:
        handlers = self._handlers
        for event in events:
            try:
                handler = handlers.get(event["event"])
                if handler is not None:
                    handler(event["data"])
            except Exception:  # one malformed event must not lose the batch
                self._invalid.inc()

    async def flush(self) -> None:
        """Metrics are pulled; at shutdown a worker's live gauges leave the merged view."""
        self._count_handed()
        if self._unsampled_timer is not None:
            self._unsampled_timer.cancel()
            self._unsampled_timer = self._unsampled_loop = None
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

    def _sync_batch(self) -> None:
        """After a batch, with several workers: the pipeline's counters into this worker's
        file. The trace sinks' ``unsampled`` counts are read from their whole ``stats``
        (about 10 µs for both): at most once a second, a second after the first batch that
        finds no read scheduled, so an idle worker's file still ends up exact."""
        self._sync_stats(unsampled=False)
        if self._unsampled_of is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside a loop: read now
            self._sync_unsampled_now()
            return
        if self._unsampled_loop is not loop:  # none pending (or on a loop that closed)
            self._unsampled_loop = loop
            self._unsampled_timer = loop.call_later(_UNSAMPLED_EVERY_S, self._sync_unsampled_now)

    def _sync_unsampled_now(self) -> None:
        self._unsampled_timer = self._unsampled_loop = None
        pipeline, children = self._pipeline, self._unsampled_of
        if pipeline is None or children is None:
            return
        counts = _unsampled(pipeline)
        with self._stats_lock:
            self._sync_unsampled(children, counts)

    def _sync_stats(self, *, unsampled: bool = True) -> None:
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
                    self._dropped_of(sink)(delta)
                    seen[sink] = value
            if unsampled and self._unsampled_of is not None:
                self._sync_unsampled(self._unsampled_of, _unsampled(pipeline))
            if self._key_stats is not None:
                self._sync_key_stats(self._key_stats())

    def _sync_unsampled(self, children: _Children, counts: Mapping[str, int]) -> None:
        seen = self._unsampled_seen
        for sink, value in counts.items():
            delta = value - seen.get(sink, 0)
            if delta > 0:
                children(sink)(delta)
                seen[sink] = value

    def _sync_key_stats(self, stats: Any) -> None:
        seen = self._key_fetches_seen
        for outcome, value in stats.fetches.items():
            delta = value - seen.get(outcome, 0)
            if delta > 0:
                self._key_fetches_of(self._outcome_label(outcome))(delta)
                seen[outcome] = value
        self._key_age.set(stats.age_seconds)

    def _run_slot(self, raw_mode: Any, raw_status: Any) -> tuple[Any, str, bool]:
        mode = _one_of(raw_mode, _MODES)
        status = _one_of(raw_status, _RUN_STATUS)
        slot = self._run_slots.get((mode, status))
        if slot is None:
            slot = self._run_slots[(mode, status)] = (
                self._runs_of(mode, status),
                mode,
                status == "error",
            )
        return slot

    def _on_run_end(self, data: Mapping[str, Any]) -> None:
        # The same updates, in the same order, as mode and status read one by one.
        try:
            count, mode, failed = self._run_slots[(data.get("mode"), data.get("status"))]
        except (KeyError, TypeError):  # first of its kind, or a value outside the label sets
            count, mode, failed = self._run_slot(data.get("mode"), data.get("status"))
        count(1)
        if failed:
            self._run_errors_of(self._error_label(data.get("error_type") or "unknown"))(1)
        latency = _number(data.get("latency_ms"))
        if self._run_duration is not None and latency is not None:
            self._run_duration_of(mode)(latency / 1000.0)
        if self._tokens is not None:
            tokens_in = _number(data.get("tokens_input"))
            tokens_out = _number(data.get("tokens_output"))
            if tokens_in:
                self._tokens_in(tokens_in)
            if tokens_out:
                self._tokens_out(tokens_out)
        if self._cost is not None:
            cost = _number(data.get("cost_usd"))
            if cost:
                self._cost_add(cost)

    def _on_tool(self, data: Mapping[str, Any]) -> None:
        tool = self._tool_label(data.get("tool"))
        self._tool_calls_of(tool, _one_of(data.get("status"), _TOOL_STATUS))(1)
        duration = _number(data.get("duration_ms"))
        if duration is not None:
            self._tool_duration_of(tool)(duration / 1000.0)

    def _on_policy(self, data: Mapping[str, Any]) -> None:
        policy = self._policy_label(data.get("policy"))
        self._policy_events_of(
            policy, _one_of(data.get("stage"), _STAGES), _one_of(data.get("action"), _ACTIONS)
        )(1)
        matches = _number(data.get("matches"))
        if matches:
            self._policy_matches_of(policy)(matches)

    def _on_auth(self, data: Mapping[str, Any]) -> None:
        if data.get("outcome") != "failure":
            return
        reason = _one_of(data.get("reason"), _AUTH_REASONS)
        self._auth_failures_of(reason)(1)
        if reason == "rate_limited":
            self._rate_limited.inc()

    def _on_error(self, data: Mapping[str, Any]) -> None:
        self._errors_of(
            self._error_label(data.get("error_type") or "unknown"),
            _one_of(data.get("stage"), _ERROR_STAGES),
        )(1)
