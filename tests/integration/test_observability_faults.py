"""Telemetry faults end to end: the real Prometheus, log and local-store sinks next to a sink
that raises and one that hangs, a 10,000-event flood, a tracing backend that stalls, and a
planted secret that reaches none of them."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import agentdock_plugins.policies
import pytest
from _otlp_receiver import stalled_collector
from agentdock import hookimpl, make_plugin_manager
from agentdock.run import RunContext, RunResult, StreamEvent, Usage
from agentdock.spec.models import DockSpec11
from agentdock_cli.main import cli
from agentdock_plugins.localstore.sink import LocalStoreSink
from agentdock_plugins.localstore.store import read_summary
from agentdock_plugins.logsink.sink import LogSink
from agentdock_plugins.otel.sink import OtelSink
from agentdock_plugins.prometheus.sink import PrometheusSink
from agentdock_runtime import Pipeline, RuntimeHTTPError, Unauthorized, compile_pipeline
from click.testing import CliRunner

SECRET = "sk-planted-secret-0123456789abcdef"
GOOD = {"x-api-key": "good"}


def make_spec() -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "faulty", "entrypoint": "app:graph", "framework": "testfw"},
            "model": {
                "provider": "openai",
                "name": "gpt-4o-mini",
            },
            "io_schema": {
                "input": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}, "flood": {"type": "integer"}},
                },
                "output": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            "policies": {"safety": {"redact_patterns": [r"sk-planted-secret-[0-9a-f]+"]}},
            "observability": {"log_level": "debug"},
            "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
            "expose": {"rest": True},
        }
    )


class Agent:
    """Echoes its input; ``flood: N`` makes it report N policy events in one go."""

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        for _ in range(payload.get("flood", 0)):
            context.emit(
                "policy_event",
                {
                    "stage": "pre",
                    "policy": "flood",
                    "action": "flag",
                    "matches": 1,
                    "duration_ms": 0.0,
                },
            )
        return RunResult({"text": f"you said {payload['text']}"}, Usage(1000, 500))

    async def stream(self, payload: Mapping[str, Any], context: RunContext) -> Any:
        yield StreamEvent("token", {"text": payload["text"]})


class Raising:
    def __init__(self) -> None:
        self.calls = 0

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.calls += 1
        raise RuntimeError("sink is broken")

    async def flush(self) -> None:
        raise RuntimeError("still broken")


class Hanging:
    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        await asyncio.Event().wait()

    async def flush(self) -> None:
        await asyncio.Event().wait()


class Plugin:
    def __init__(self, sinks: Mapping[str, Any]) -> None:
        self.sinks = sinks

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        if headers.get("x-api-key") != "good":
            raise Unauthorized("invalid or missing credentials")
        return {"sub": "alice", "role": "developer"}

    @hookimpl
    def agentdock_register_adapters(self, register: Any) -> None:
        register("testfw", lambda entry, spec: Agent())

    @hookimpl
    def agentdock_register_auth_providers(self, register: Any) -> None:
        register("api_key", lambda spec: self)

    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        for name, sink in self.sinks.items():
            register(name, lambda spec, s=sink: s)


def build(
    tmp_path: Path, *, queue_size: int = 1024, faulty: bool = True
) -> tuple[Pipeline, dict[str, Any], io.StringIO]:
    spec = make_spec()
    logs = io.StringIO()
    sinks: dict[str, Any] = {
        "prometheus": PrometheusSink(spec),
        "logs": LogSink(spec, fmt="json", stream=logs),
        "localstore": LocalStoreSink(spec, path=tmp_path / "telemetry.db"),
    }
    if faulty:
        sinks.update(raising=Raising(), hanging=Hanging())
    manager = make_plugin_manager(plugins=[agentdock_plugins.policies, ("test", Plugin(sinks))])
    pipeline = compile_pipeline(
        spec, entry=None, plugins=manager, sink_timeout=0.2, telemetry_queue_size=queue_size
    )
    return pipeline, sinks, logs


def test_failing_sinks_never_touch_a_request_and_secrets_reach_no_sink(tmp_path: Path) -> None:
    pipeline, sinks, logs = build(tmp_path)

    async def main() -> list[Any]:
        outputs = []
        for _ in range(3):
            result = await pipeline.invoke(
                json.dumps({"text": f"my key is {SECRET}"}).encode(), headers=GOOD
            )
            outputs.append(result.output)
        for headers in ({"x-api-key": SECRET}, {}):
            try:
                await pipeline.invoke(b'{"text": "x"}', headers=headers)
            except RuntimeHTTPError as exc:
                assert exc.status == 401
        await pipeline.aclose(timeout=1.0)
        return outputs

    outputs = asyncio.run(main())
    assert all(SECRET not in o["text"] for o in outputs)
    stats = pipeline.telemetry_stats
    assert stats.sink_errors >= 1 and stats.sink_timeouts >= 1
    assert sinks["raising"].calls >= 1

    prometheus: PrometheusSink = sinks["prometheus"]
    body = prometheus.render_metrics()[0].decode()
    assert (
        prometheus.registry.get_sample_value(
            "agentdock_runs_total", {"mode": "invoke", "status": "ok"}
        )
        == 3
    )
    assert prometheus.registry.get_sample_value("agentdock_cost_usd_total") > 0
    assert "agentdock_telemetry_sink_errors_total" in body
    assert (
        prometheus.registry.get_sample_value("agentdock_telemetry_sink_timeouts_total") or 0
    ) >= 1

    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(line["event"] == "run_end" and line["trace_id"] for line in lines)

    db = sqlite3.connect(tmp_path / "telemetry.db")
    assert db.execute("SELECT COUNT(*) FROM events WHERE kind = 'run'").fetchone()[0] == 5
    rows = "\n".join(db.iterdump())

    for where, text in (("metrics", body), ("logs", logs.getvalue()), ("store", rows)):
        assert SECRET not in text, where


def test_a_flood_of_events_is_bounded_and_the_drops_are_exported(tmp_path: Path) -> None:
    """2,000 concurrent runs of 5 events each (10,000 events) against a queue of 256 runs."""
    pipeline, sinks, _ = build(tmp_path, queue_size=256, faulty=False)
    body = json.dumps({"text": "hi", "flood": 3}).encode()

    async def main() -> None:
        await asyncio.gather(*(pipeline.invoke(body, headers=GOOD) for _ in range(2000)))
        await pipeline.aclose(timeout=30.0)

    asyncio.run(main())
    stats = pipeline.telemetry_stats
    sink_count = len(pipeline.sinks)
    assert stats.queued + stats.dropped == 10_000 * sink_count
    assert stats.dropped > 0
    assert sum(stats.dropped_by_sink.values()) == stats.dropped
    prometheus: PrometheusSink = sinks["prometheus"]
    prometheus.render_metrics()
    registry = prometheus.registry
    # Each sink's series counts its queue's drops (sinks are named as registered). The
    # Prometheus sink has no queue: it takes each run's events itself and drops none.
    assert set(stats.dropped_by_sink) == {"logs", "localstore"}
    for name in ("prometheus", "logs", "localstore"):
        exported = registry.get_sample_value(
            "agentdock_telemetry_events_dropped_total", {"sink": name}
        )
        assert exported == stats.dropped_by_sink.get(name, 0), name
    assert registry.get_sample_value("agentdock_telemetry_events_queued_total") == stats.queued
    # What was queued reached the sinks that answer; none of them dropped on its own.
    runs = registry.get_sample_value("agentdock_runs_total", {"mode": "invoke", "status": "ok"})
    assert runs == 2000
    assert sinks["localstore"].dropped == 0 and sinks["logs"].dropped == 0
    # The local store recorded the same losses for `agentdock metrics show`.
    summary = read_summary(tmp_path / "telemetry.db", "faulty", 0.0)
    assert summary["telemetry_dropped"] == stats.dropped_by_sink
    assert pipeline.telemetry_drops() == {**stats.dropped_by_sink, "prometheus": 0}


def test_runs_lost_to_a_stalled_tracing_backend_are_counted_per_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 runs while the OTLP collector takes requests and answers none, then restarts: the
    runs the OpenTelemetry sink lost are counted under its name in /metrics and in
    `agentdock metrics show`, and every other run's trace arrived."""
    collector = stalled_collector(monkeypatch)
    spec = make_spec()
    db = tmp_path / "telemetry.db"
    otel = OtelSink(spec, endpoint=f"{collector.url}/v1/traces")
    sinks = {
        "prometheus": PrometheusSink(spec),
        "localstore": LocalStoreSink(spec, path=db),
        "otel": otel,
    }
    manager = make_plugin_manager(plugins=[("test", Plugin(sinks))])
    pipeline = compile_pipeline(spec, entry=None, plugins=manager, sink_timeout=5.0)

    async def main() -> list[str]:
        results = await asyncio.gather(
            *(pipeline.invoke(b'{"text": "hi"}', headers=GOOD) for _ in range(300))
        )
        lost = await asyncio.to_thread(collector.wait_for, lambda: otel.stats["dropped_export"] > 0)
        assert lost, otel.stats
        collector.release(land=False)
        await otel.flush()  # what is still queued now reaches the restarted collector
        await pipeline.aclose(timeout=10.0)
        return [str(result.trace_id) for result in results]

    try:
        trace_ids = asyncio.run(main())
    finally:
        otel.shutdown()
        collector.stop()
    stats = otel.stats
    arrived = {span.trace_id for span in collector.spans}
    assert arrived <= set(trace_ids)
    assert len(arrived) + stats["lost_runs"] == 300
    assert stats["dropped"] == stats["lost_runs"] > 0  # one event (run_end) a run

    prometheus: PrometheusSink = sinks["prometheus"]
    prometheus.render_metrics()
    dropped = "agentdock_telemetry_events_dropped_total"
    registry = prometheus.registry
    assert registry.get_sample_value(dropped, {"sink": "otel"}) == stats["dropped"]
    assert registry.get_sample_value(dropped, {"sink": "localstore"}) == 0

    shown = CliRunner().invoke(cli, ["metrics", "show", "faulty", "--db", str(db), "--json"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    assert summary["requests"] == 300
    assert summary["telemetry_dropped"] == {"otel": stats["dropped"]}
    table = CliRunner().invoke(cli, ["metrics", "show", "faulty", "--db", str(db)])
    assert f"otel {stats['dropped']:,}" in table.output
