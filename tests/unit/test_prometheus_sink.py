"""The Prometheus sink: events become metrics, label sets stay bounded, secrets stay out."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from typing import Any

import pytest
from agentdock import make_plugin_manager
from agentdock.spec.models import DockSpec11
from agentdock_plugins import prometheus as prometheus_plugin
from agentdock_plugins.auth.jwks import FETCH_OUTCOMES, KeySetStats
from agentdock_plugins.prometheus.labels import OTHER, ROUTE_TEMPLATES, LabelCap, route_label
from agentdock_plugins.prometheus.sink import PrometheusSink
from agentdock_runtime.capabilities import PipelineCapabilities
from hypothesis import given, settings
from hypothesis import strategies as st

SECRET = "sk-planted-secret-0123456789abcdef"


def make_spec(**observability: Any) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "metered", "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"q": {"type": "string"}}},
                "output": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "policies": {"tools": {"allowed": ["lookup_order", "issue_refund"]}},
            "observability": observability,
            "auth": {"mode": "api_key"},
            "expose": {"rest": True},
            "metadata": {"version": "1.2.0"},
        }
    )


def event(name: str, **data: Any) -> dict[str, Any]:
    return {
        "event": name,
        "version": "1.0",
        "timestamp": "2026-11-25T16:40:00.123456Z",
        "agent": "metered",
        "run_id": "a" * 32,
        "trace_id": "b" * 32,
        "span_id": "c" * 16,
        "data": data,
    }


def emit(sink: PrometheusSink, *events: Mapping[str, Any]) -> None:
    asyncio.run(sink.emit(list(events)))


def value(sink: PrometheusSink, name: str, **labels: str) -> float | None:
    return sink.registry.get_sample_value(name, labels)


def run_end(**overrides: Any) -> dict[str, Any]:
    data = {
        "mode": "invoke",
        "status": "ok",
        "success": True,
        "error_type": None,
        "latency_ms": 120.0,
        "tokens_input": 11,
        "tokens_output": 7,
        "cost_usd": 0.25,
    }
    data.update(overrides)
    return event("run_end", **data)


def test_run_end_counts_runs_latency_tokens_and_cost() -> None:
    sink = PrometheusSink(make_spec())
    emit(sink, run_end(), run_end(status="error", success=False, error_type="AgentError"))
    assert value(sink, "agentdock_runs_total", mode="invoke", status="ok") == 1
    assert value(sink, "agentdock_runs_total", mode="invoke", status="error") == 1
    assert value(sink, "agentdock_run_errors_total", error_type="AgentError") == 1
    assert value(sink, "agentdock_tokens_total", direction="input") == 22
    assert value(sink, "agentdock_tokens_total", direction="output") == 14
    assert value(sink, "agentdock_cost_usd_total") == pytest.approx(0.5)
    assert value(sink, "agentdock_run_duration_seconds_count", mode="invoke") == 2
    assert value(sink, "agentdock_run_duration_seconds_sum", mode="invoke") == pytest.approx(0.24)
    assert value(sink, "agentdock_run_duration_seconds_bucket", mode="invoke", le="0.1") == 0
    assert value(sink, "agentdock_run_duration_seconds_bucket", mode="invoke", le="0.25") == 2
    assert value(sink, "agentdock_agent_info", agent="metered", version="1.2.0", tenant="") == 1
    assert b"gpt-4o-mini" not in sink.render_metrics()[0]


def test_a_deployed_instance_labels_its_info_with_tenant_and_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTDOCK_INSTANCE", "acme")
    monkeypatch.setenv("AGENTDOCK_VERSION", "0.1.7")
    spec = make_spec()
    sink = PrometheusSink(spec)
    version = spec.metadata.version or "0.1.7"
    assert value(sink, "agentdock_agent_info", agent="metered", version=version, tenant="acme") == 1


def test_a_run_without_a_price_adds_no_cost() -> None:
    sink = PrometheusSink(make_spec())
    without = run_end()
    del without["data"]["cost_usd"]
    emit(sink, without)
    assert value(sink, "agentdock_cost_usd_total") == 0


def test_tools_policies_auth_and_errors() -> None:
    sink = PrometheusSink(make_spec())
    emit(
        sink,
        event("tool_event", tool="lookup_order", status="ok", duration_ms=30.0, span_id="d" * 16),
        event("tool_event", tool="issue_refund", status="denied", duration_ms=0.5),
        event("policy_event", stage="post", policy="redact", action="redact", matches=3),
        event("policy_event", stage="pre", policy="injection", action="block", matches=1),
        event("auth_event", outcome="failure", reason="expired", mode="jwt"),
        event("auth_event", outcome="failure", reason="rate_limited", mode="jwt"),
        event("auth_event", outcome="success", reason=None, mode="jwt"),
        event("error_event", error_type="TokenExpired", code=498, detail="x", stage="auth"),
    )
    assert value(sink, "agentdock_tool_calls_total", tool="lookup_order", status="ok") == 1
    assert value(sink, "agentdock_tool_calls_total", tool="issue_refund", status="denied") == 1
    assert value(sink, "agentdock_tool_duration_seconds_sum", tool="lookup_order") == pytest.approx(
        0.03
    )
    assert (
        value(sink, "agentdock_policy_events_total", policy="redact", stage="post", action="redact")
        == 1
    )
    assert value(sink, "agentdock_policy_matches_total", policy="redact") == 3
    assert value(sink, "agentdock_auth_failures_total", reason="expired") == 1
    assert value(sink, "agentdock_auth_failures_total", reason="rate_limited") == 1
    assert value(sink, "agentdock_rate_limited_requests_total") == 1
    assert value(sink, "agentdock_errors_total", error_type="TokenExpired", stage="auth") == 1


def test_metric_switches_drop_families() -> None:
    sink = PrometheusSink(make_spec(metrics={"latency": False, "tokens": False, "cost": False}))
    emit(sink, run_end())
    body = sink.render_metrics()[0].decode()
    assert "agentdock_runs_total" in body
    for family in ("agentdock_run_duration_seconds", "agentdock_tokens", "agentdock_cost_usd"):
        assert f"# TYPE {family}" not in body


def test_malformed_events_are_skipped_and_counted() -> None:
    sink = PrometheusSink(make_spec())
    emit(
        sink,
        {"event": "run_end"},  # no data
        {"no": "name"},
        event("run_end", mode="invoke", status="ok", latency_ms="slow", tokens_input=-5),
        event("tool_event", tool=None, status=42, duration_ms=float("nan")),
        run_end(),
    )
    assert value(sink, "agentdock_telemetry_invalid_events_total") == 2
    assert value(sink, "agentdock_runs_total", mode="invoke", status="ok") == 2
    assert value(sink, "agentdock_tool_calls_total", tool=OTHER, status=OTHER) == 1
    assert value(sink, "agentdock_tokens_total", direction="input") == 11


class FakePipeline:
    class Stats:
        queued = 0
        dropped = 0
        delivered = 0
        sink_errors = 0
        sink_timeouts = 0

    def __init__(self) -> None:
        self.telemetry_stats = self.Stats()
        self.drops = {"langfuse": 0, "prometheus": 0}
        self.access: Any = None

    def telemetry_drops(self) -> dict[str, int]:
        return dict(self.drops)


def test_bound_pipeline_exports_telemetry_drops_per_sink() -> None:
    sink = PrometheusSink(make_spec())
    pipeline = FakePipeline()
    sink.bind(pipeline)
    body = sink.render_metrics()[0].decode()
    # Every sink has its series from the start, so a dashboard sees 0 rather than nothing.
    assert 'agentdock_telemetry_events_dropped_total{sink="langfuse"} 0.0' in body
    assert 'agentdock_telemetry_events_dropped_total{sink="prometheus"} 0.0' in body
    pipeline.telemetry_stats.queued = 10
    pipeline.drops["langfuse"] = 4
    body = sink.render_metrics()[0].decode()
    assert 'agentdock_telemetry_events_dropped_total{sink="langfuse"} 4.0' in body
    pipeline.drops.update(langfuse=9, prometheus=2)
    pipeline.telemetry_stats.sink_timeouts = 1
    emit(sink)
    dropped = "agentdock_telemetry_events_dropped_total"
    assert sink.registry.get_sample_value(dropped, {"sink": "langfuse"}) == 9
    assert sink.registry.get_sample_value(dropped, {"sink": "prometheus"}) == 2
    assert value(sink, "agentdock_telemetry_events_queued_total") == 10
    assert value(sink, "agentdock_telemetry_sink_timeouts_total") == 1


class KeyFetchingAuth:
    """An auth provider that fetches its keys (as mode oauth2's does)."""

    def __init__(self) -> None:
        self.stats = KeySetStats(fetches=dict.fromkeys(FETCH_OUTCOMES, 0), age_seconds=math.inf)

    def key_set_stats(self) -> KeySetStats:
        return self.stats


def test_key_fetches_and_key_age_follow_the_auth_provider() -> None:
    sink = PrometheusSink(make_spec())
    pipeline = FakePipeline()
    auth = KeyFetchingAuth()
    # The server reads the capability sorted when the pipeline was built.
    pipeline.capabilities = PipelineCapabilities.sort(auth, [])  # type: ignore[attr-defined]
    sink.bind(pipeline)
    fetches = "agentdock_auth_keys_fetch_total"
    for outcome in FETCH_OUTCOMES:  # every outcome from the start, at 0
        assert value(sink, fetches, outcome=outcome) == 0
    sink.render_metrics()
    assert value(sink, "agentdock_auth_keys_age_seconds") == math.inf
    auth.stats = KeySetStats(
        fetches={**dict.fromkeys(FETCH_OUTCOMES, 0), "timeout": 2, "ok": 1}, age_seconds=12.5
    )
    body = sink.render_metrics()[0].decode()
    assert 'agentdock_auth_keys_fetch_total{outcome="timeout"} 2.0' in body
    assert value(sink, fetches, outcome="ok") == 1
    assert value(sink, "agentdock_auth_keys_age_seconds") == 12.5
    emit(sink)  # a second sync adds nothing that did not happen
    assert value(sink, fetches, outcome="timeout") == 2


def test_no_key_families_for_a_provider_without_remote_keys() -> None:
    sink = PrometheusSink(make_spec())
    sink.bind(FakePipeline())
    body = sink.render_metrics()[0].decode()
    assert "agentdock_auth_keys" not in body


def test_where_rate_limits_are_kept_and_redis_failures_are_exported() -> None:
    from agentdock_runtime.access import compile_access
    from auth_support import auth_spec

    spec = auth_spec(
        {"mode": "api_key", "api_keys": {"enabled": True}, "rate_limits": {"developer": "5/m"}}
    )
    pipeline = FakePipeline()
    pipeline.access = compile_access(spec, redis_url="redis://127.0.0.1:1/0")  # nothing there
    sink = PrometheusSink(spec)
    sink.bind(pipeline)
    backend = "agentdock_ratelimit_backend"
    assert value(sink, backend, state="redis") == 1
    assert value(sink, backend, state="local") == 0
    assert value(sink, "agentdock_ratelimit_fallbacks_total") == 0
    asyncio.run(pipeline.access.check({"sub": "ann", "role": "developer"}, "invoke"))
    emit(sink)  # every batch, and every scrape, reads the limiter again
    assert value(sink, backend, state="redis") == 0
    assert value(sink, backend, state="local") == 1
    assert value(sink, "agentdock_ratelimit_fallbacks_total") == 1
    body = sink.render_metrics()[0].decode()
    assert 'agentdock_ratelimit_backend{state="local"} 1.0' in body
    asyncio.run(pipeline.access.close())
    # An agent without rate limits has no backend to report.
    plain = PrometheusSink(make_spec())
    plain.bind(FakePipeline())
    assert value(plain, backend, state="local") is None


def test_render_has_process_metrics_and_a_prometheus_content_type() -> None:
    body, content_type = PrometheusSink(make_spec()).render_metrics()
    assert content_type == "text/plain; version=0.0.4"
    assert b"process_resident_memory_bytes" in body or b"python_info" in body


def test_two_sinks_in_one_process_do_not_share_samples() -> None:
    first, second = PrometheusSink(make_spec()), PrometheusSink(make_spec())
    emit(first, run_end())
    assert value(first, "agentdock_runs_total", mode="invoke", status="ok") == 1
    assert value(second, "agentdock_runs_total", mode="invoke", status="ok") is None


def test_tool_labels_are_limited_to_the_allow_list() -> None:
    sink = PrometheusSink(make_spec())
    emit(
        sink,
        event("tool_event", tool=SECRET, status="denied", duration_ms=1.0),
        event("tool_event", tool="rm_rf", status="denied", duration_ms=1.0),
    )
    assert value(sink, "agentdock_tool_calls_total", tool=OTHER, status="denied") == 2
    assert SECRET.encode() not in sink.render_metrics()[0]


_SEGMENTS = sorted({s for t in ROUTE_TEMPLATES for s in t.split("/") if s})


def _filled(template: str, ids: list[str]) -> str:
    """``template`` with each parameter replaced by the next of ``ids`` (``x`` past them)."""
    rest = iter(ids)
    return re.sub(r"\{\w+\}", lambda _: next(rest, "x"), template)


@settings(max_examples=25, deadline=None)
@given(
    names=st.lists(st.text(min_size=0, max_size=80), min_size=1, max_size=300),
    paths=st.lists(
        st.text(min_size=1, max_size=40).map(lambda p: "/" + p)
        | st.text(max_size=40).map(lambda p: "/a2a/" + p)  # the agent is in A2A's paths
        | st.text(max_size=20).map(lambda p: f"/a2a/{p}/.well-known/agent-card.json")
        # a route's template with random text for each parameter (a "/" in it, or none)
        | st.builds(_filled, st.sampled_from(ROUTE_TEMPLATES), st.lists(st.text(max_size=20)))
        | st.lists(st.sampled_from(_SEGMENTS) | st.text(max_size=10), max_size=8).map(
            lambda parts: "/" + "/".join(parts)  # known segments in any order, ids among them
        ),
        max_size=50,
    ),
)
def test_random_tool_names_and_paths_keep_the_label_set_bounded(
    names: list[str], paths: list[str]
) -> None:
    sink = PrometheusSink(None, max_tools=8, max_policies=4, max_error_types=4)
    emit(
        sink,
        *(event("tool_event", tool=n, status="ok", duration_ms=1.0) for n in names),
        *(event("policy_event", stage="pre", policy=n, action="flag", matches=1) for n in names),
        *(event("run_end", mode="invoke", status="error", error_type=n) for n in names),
    )
    for path in paths:
        sink.http.record(route_label(path), "GET", 404, 0.001)
    tools = {s.labels["tool"] for s in _samples(sink, "agentdock_tool_calls_total")}
    policies = {s.labels["policy"] for s in _samples(sink, "agentdock_policy_events_total")}
    errors = {s.labels["error_type"] for s in _samples(sink, "agentdock_run_errors_total")}
    routes = {s.labels["route"] for s in _samples(sink, "agentdock_http_requests_total")}
    assert len(tools - {OTHER}) <= 8
    assert len(policies - {OTHER}) <= 4
    assert len(errors - {OTHER}) <= 4
    assert routes <= {OTHER, *ROUTE_TEMPLATES}


def _samples(sink: PrometheusSink, name: str) -> list[Any]:
    return [s for metric in sink.registry.collect() for s in metric.samples if s.name == name]


def test_label_cap_refuses_unsafe_values_and_respects_the_limit() -> None:
    cap = LabelCap(2)
    assert cap("a") == "a" and cap("b") == "b" and cap("c") == OTHER and cap("a") == "a"
    assert LabelCap(5)('quote"d') == OTHER
    assert LabelCap(5)("x" * 65) == OTHER
    assert LabelCap(5)(None) == OTHER
    assert LabelCap(5, allowed=["ok"])("nope") == OTHER
    with pytest.raises(ValueError, match="limit"):
        LabelCap(0)


def test_plugin_registers_the_sink_and_the_environment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = make_plugin_manager(plugins=[("prometheus", prometheus_plugin)])
    registration = manager.get("telemetry_sinks", "prometheus")
    assert registration is not None
    assert isinstance(registration.factory(make_spec()), PrometheusSink)
    monkeypatch.setenv("AGENTDOCK_METRICS", "off")
    assert registration.factory(make_spec()) is None


def test_every_metric_family_is_declared_documented_and_exported() -> None:
    """The families table is the one list: each row is an attribute the sink declares, a
    name docs/observability.md explains, and a family ``GET /metrics`` shows."""
    from pathlib import Path

    from agentdock_plugins.prometheus.families import FAMILIES, KEY_FAMILIES, UNSAMPLED_FAMILIES
    from prometheus_client import Counter

    docs = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text()
    declared = PrometheusSink.__annotations__
    sink = PrometheusSink(make_spec())
    text = sink.render_metrics()[0].decode()
    for family in FAMILIES:
        assert family.attr in declared, family.attr
        assert family.name in docs, family.name
        exported = f"{family.name}_total" if family.kind is Counter else family.name
        assert f"# TYPE {exported} " in text, family.name
        assert getattr(sink, family.attr) is not None
    for family in (*KEY_FAMILIES, *UNSAMPLED_FAMILIES):
        assert family.name in docs, family.name
    switched_off = PrometheusSink(make_spec(metrics={"latency": False, "tokens": False}))
    assert switched_off._run_duration is None and switched_off._tokens is None
    assert "agentdock_run_duration_seconds" not in switched_off.render_metrics()[0].decode()


def test_no_unsampled_family_without_a_sink_that_samples() -> None:
    sink = PrometheusSink(make_spec())
    pipeline = FakePipeline()
    pipeline.telemetry_unsampled = dict  # type: ignore[attr-defined]
    sink.bind(pipeline)
    assert "agentdock_telemetry_runs_unsampled" not in sink.render_metrics()[0].decode()
