"""The local collector: rows in SQLite off the loop, bounded retention, backend detection,
and the ``agentdock metrics`` command that reads it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agentdock.home import agentdock_home
from agentdock.spec.models import DockSpec11
from agentdock_cli.main import cli
from agentdock_plugins.localstore import has_backend, localstore_sink, store
from agentdock_plugins.localstore.commands import parse_since
from agentdock_plugins.localstore.sink import LocalStoreSink
from agentdock_plugins.localstore.store import (
    Retention,
    connect,
    percentile,
    prune,
    read_summary,
    row_from_event,
    telemetry_db_path,
)
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

SECRET = "sk-planted-secret-0123456789abcdef"


def make_spec(**observability: Any) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "local", "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"q": {"type": "string"}}},
                "output": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "policies": {"tools": {"allowed": ["lookup_order"]}},
            "observability": observability,
            "auth": {"mode": "api_key"},
            "expose": {"rest": True},
        }
    )


def event(name: str, agent: str = "local", at: float | None = None, **data: Any) -> dict[str, Any]:
    if at is not None:
        data.setdefault("end_unix_nano", int(at * 1e9))
    # Stamped now (or at ``at``): the summaries look back from the current time.
    stamp = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return {
        "event": name,
        "version": "1.0",
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "agent": agent,
        "run_id": "a" * 32,
        "trace_id": "b" * 32,
        "span_id": "c" * 16,
        "data": data,
    }


def run_end(latency: float, status: str = "ok", at: float | None = None, **extra: Any) -> Any:
    return event(
        "run_end",
        at=at if at is not None else time.time(),
        mode="invoke",
        status=status,
        error_type=None if status == "ok" else "AgentError",
        latency_ms=latency,
        tokens_input=10,
        tokens_output=5,
        role="developer",
        subject="alice",
        **extra,
    )


def write(sink: LocalStoreSink, events: list[dict[str, Any]]) -> None:
    async def main() -> None:
        await sink.emit(events)
        await sink.flush()

    asyncio.run(main())


def filled(tmp_path: Path) -> Path:
    path = tmp_path / "telemetry.db"
    now = time.time()
    sink = LocalStoreSink(make_spec(), path=path)
    events = [run_end(float(ms), cost_usd=0.001) for ms in range(1, 101)]
    events += [run_end(500.0, status="error")]
    events += [
        event(
            "tool_event",
            at=now,
            tool="lookup_order",
            status="ok",
            duration_ms=4.0,
            start_unix_nano=int(now * 1e9),
        ),
        event(
            "tool_event",
            tool=SECRET,
            status="denied",
            duration_ms=0.1,
            start_unix_nano=int(now * 1e9),
        ),
        event(
            "policy_event",
            stage="pre",
            policy="redact_input",
            action="redact",
            matches=2,
            duration_ms=0.1,
        ),
        event("auth_event", outcome="failure", reason="invalid"),
        run_end(1.0, at=now - 2 * 3600),  # outside a 1h window
        run_end(1.0, agent="other"),
    ]
    write(sink, events)
    assert sink.written == len(events) - 1 and sink.dropped == 0  # the auth event has no row
    return path


def test_rows_land_in_a_wal_database_and_hold_no_subject_or_secret(tmp_path: Path) -> None:
    path = filled(tmp_path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
    assert kinds == {"run": 103, "tool": 2, "policy": 1}
    dump = "\n".join(conn.iterdump())
    assert SECRET not in dump and "alice" not in dump
    assert conn.execute("SELECT name FROM events WHERE status = 'denied'").fetchone() == ("other",)


def test_summary_has_requests_errors_percentiles_tokens_cost_policies_and_tools(
    tmp_path: Path,
) -> None:
    summary = read_summary(filled(tmp_path), "local", time.time() - 3600)
    assert summary["requests"] == 101 and summary["errors"] == 1
    assert summary["error_rate"] == pytest.approx(1 / 101)
    assert summary["latency_ms"] == {"p50": 51.0, "p90": 91.0, "p99": 100.0}
    assert summary["tokens"] == {"input": 1010, "output": 505}
    assert summary["cost_usd"] == pytest.approx(0.1) and summary["priced_runs"] == 100
    assert summary["policy_violations"] == 1
    assert summary["policy_events"] == [
        {"policy": "redact_input", "action": "redact", "count": 1, "matches": 2}
    ]
    tools = {row["tool"]: row for row in summary["tools"]}
    assert tools["lookup_order"]["calls"] == 1 and tools["lookup_order"]["total_ms"] == 4.0
    assert tools["other"]["failures"] == 1


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_percentiles_are_values_of_the_list_and_ordered(values: list[float]) -> None:
    ordered = sorted(values)
    p50, p90, p99 = (percentile(ordered, q) for q in (50, 90, 99))
    assert p50 in ordered and p90 in ordered and p99 in ordered
    assert p50 <= p90 <= p99 <= ordered[-1]  # type: ignore[operator]
    assert percentile([], 50) is None


def test_retention_bounds_rows_and_age(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    now = time.time()
    sink = LocalStoreSink(
        None, path=path, retention=Retention(max_rows=50, max_age_s=3600), prune_every=10
    )
    write(sink, [run_end(1.0, at=now - 7200)] * 5 + [run_end(float(i), at=now) for i in range(120)])
    conn = connect(path)
    prune(conn, sink.retention)
    count, oldest = conn.execute("SELECT COUNT(*), MIN(ts) FROM events").fetchone()
    assert count == 50 and oldest >= now - 1
    assert [r[0] for r in conn.execute("SELECT duration_ms FROM events ORDER BY id LIMIT 1")] == [
        70.0
    ]


def test_retention_and_path_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Away from any home of the checkout (a store an earlier run left there would be found).
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    env = {"AGENTDOCK_TELEMETRY_MAX_ROWS": "10", "AGENTDOCK_TELEMETRY_RETENTION_DAYS": "0.5"}
    assert Retention.from_env(env) == Retention(10, 43_200.0)
    with pytest.raises(ValueError, match="AGENTDOCK_TELEMETRY_MAX_ROWS must be a positive"):
        Retention.from_env({"AGENTDOCK_TELEMETRY_MAX_ROWS": "lots"})
    with pytest.raises(ValueError, match="RETENTION_DAYS must be a positive"):
        Retention.from_env({"AGENTDOCK_TELEMETRY_RETENTION_DAYS": "-1"})
    assert telemetry_db_path({"AGENTDOCK_TELEMETRY_DB": "/x/t.db"}) == Path("/x/t.db")
    home = {"AGENTDOCK_HOME": str(tmp_path)}
    assert telemetry_db_path(home) == tmp_path / "telemetry" / "telemetry.db"
    project = {"AGENTDOCK_PROJECT_DIR": "/p"}
    assert telemetry_db_path(project) == Path("/p/.agentdock/telemetry/telemetry.db")
    # Else the registry's home (tests/unit/test_home_location.py walks it).
    assert telemetry_db_path({}) == agentdock_home(environ={}) / "telemetry" / "telemetry.db"
    # A home of an earlier release: its store at the top is read until it is moved.
    (tmp_path / "telemetry.db").write_bytes(b"")
    assert telemetry_db_path(home) == tmp_path / "telemetry.db"
    (tmp_path / "telemetry").mkdir()
    (tmp_path / "telemetry" / "telemetry.db").write_bytes(b"")
    assert telemetry_db_path(home) == tmp_path / "telemetry" / "telemetry.db"


def test_a_home_it_may_not_search_gives_the_path_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tmpfs over the image's 0750 state directory, say: stat() fails with EACCES. The
    # path is still given; opening it is the sink's business (it loses rows, never raises).
    def denied(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", denied)
    home = {"AGENTDOCK_HOME": str(tmp_path)}
    assert telemetry_db_path(home) == tmp_path / "telemetry" / "telemetry.db"


def test_a_flood_is_bounded_and_drops_are_counted(tmp_path: Path) -> None:
    started = threading.Event()
    release = threading.Event()

    class Stalled(LocalStoreSink):
        """A writer stuck (a slow disk) until released."""

        def _run(self) -> None:
            started.set()
            release.wait(30)
            super()._run()

    sink = Stalled(None, path=tmp_path / "t.db", max_queued=1000)
    events = [run_end(1.0)] * 10_000
    asyncio.run(sink.emit(events))
    assert started.wait(10)
    assert sink.queued == 1000
    assert sink.dropped == 9000
    release.set()
    asyncio.run(sink.flush())
    assert sink.written == 1000
    assert sqlite3.connect(tmp_path / "t.db").execute("SELECT COUNT(*) FROM events").fetchone() == (
        1000,
    )


def test_an_unwritable_store_loses_rows_without_raising(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    sink = LocalStoreSink(None, path=blocker / "sub" / "t.db")
    write(sink, [run_end(1.0)] * 3)
    assert sink.written == 0 and sink.dropped == 3


def test_a_full_disk_loses_the_batch_and_keeps_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = LocalStoreSink(None, path=tmp_path / "t.db")
    write(sink, [run_end(1.0)])
    calls = {"n": 0}
    real_connect = connect

    def failing_connect(path: Path, **kw: Any) -> Any:
        conn = real_connect(path, **kw)

        class Full:
            def __getattr__(self, name: str) -> Any:
                return getattr(conn, name)

            def __enter__(self) -> Any:
                return conn.__enter__()

            def __exit__(self, *exc: Any) -> Any:
                return conn.__exit__(*exc)

            def execute(self, sql: str, *args: Any) -> Any:
                if sql.startswith("INSERT"):
                    calls["n"] += 1
                    if calls["n"] == 1:
                        raise sqlite3.OperationalError("database or disk is full")
                return conn.execute(sql, *args)

        return Full()

    monkeypatch.setattr("agentdock_plugins.localstore.sink.connect", failing_connect)
    write(sink, [run_end(2.0)] * 2)
    write(sink, [run_end(3.0)])
    assert sink.write_errors == 1
    assert sink.written == 2  # the first row and the last; the batch of two was lost
    assert sink.dropped == 2  # and counted, as every row the sink loses
    rows = sqlite3.connect(tmp_path / "t.db").execute("SELECT duration_ms FROM events").fetchall()
    assert rows == [(1.0,), (3.0,)]


class _Exporter:
    exports_runs = True


def test_collector_is_off_when_a_sink_exports_the_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTDOCK_LOCALSTORE", raising=False)
    assert not has_backend({}) and not has_backend({"logs": object()})
    assert has_backend({"otel": _Exporter()})
    assert isinstance(localstore_sink(make_spec()), LocalStoreSink)
    assert isinstance(localstore_sink(make_spec(), {"logs": object()}), LocalStoreSink)
    assert localstore_sink(make_spec(), {"otel": _Exporter()}) is None
    monkeypatch.setenv("AGENTDOCK_LOCALSTORE", "on")
    assert isinstance(localstore_sink(make_spec(), {"otel": _Exporter()}), LocalStoreSink)
    monkeypatch.setenv("AGENTDOCK_LOCALSTORE", "off")
    assert localstore_sink(make_spec()) is None
    monkeypatch.setenv("AGENTDOCK_LOCALSTORE", "maybe")
    with pytest.raises(ValueError, match="AGENTDOCK_LOCALSTORE must be on, off or auto"):
        localstore_sink(make_spec())


def _sinks_built(spec: Any) -> set[str]:
    """The telemetry sinks a pipeline compiled from ``spec`` has, by class name."""
    import agentdock_plugins.langfuse
    import agentdock_plugins.localstore
    import agentdock_plugins.otel
    from agentdock import hookimpl, make_plugin_manager
    from agentdock_runtime import compile_pipeline

    class Adapter:
        @hookimpl
        def agentdock_register_adapters(self, register: Any) -> None:
            register("langgraph", lambda entry, spec: object())

    plugins = [
        ("adapter", Adapter()),
        agentdock_plugins.localstore,  # registered first, built last: it is told what was built
        agentdock_plugins.otel,
        agentdock_plugins.langfuse,
    ]
    manager = make_plugin_manager(plugins=plugins)

    async def compiled() -> set[str]:
        pipeline = compile_pipeline(spec, entry=None, plugins=manager, insecure_no_auth=True)
        names = {type(sink).__name__ for sink in pipeline.sinks}
        await pipeline.aclose(timeout=1.0)
        return names

    return asyncio.run(compiled())


def test_the_runtime_builds_the_collector_only_when_no_backend_was_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
        "AGENTDOCK_LOCALSTORE",
    ):
        monkeypatch.delenv(name, raising=False)
    assert _sinks_built(make_spec()) == {"LocalStoreSink"}
    keys = {"project": "p", "public_key": "pk-lf-1", "secret_key": "sk-lf-1"}
    assert _sinks_built(make_spec(langfuse=keys)) == {"LangfuseSink"}
    # A LangFuse block without keys sends nothing anywhere: the collector stays.
    assert _sinks_built(make_spec(langfuse={"project": "p"})) == {"LocalStoreSink"}
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/v1")
    assert _sinks_built(make_spec()) == {"OtelSink"}
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")  # the endpoint is there, tracing is not
    assert _sinks_built(make_spec()) == {"LocalStoreSink"}


def test_events_without_a_row() -> None:
    assert row_from_event(event("auth_event", outcome="success")) is None
    assert row_from_event(event("node_event", node="n")) is None
    row = row_from_event(event("run_end", mode="invoke", status="ok", latency_ms="fast"))
    assert row is not None and row[8] is None


# -- the command ----------------------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_show_json(tmp_path: Path) -> None:
    result = invoke("metrics", "show", "local", "--db", str(filled(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["requests"] == 101 and summary["latency_ms"]["p99"] == 100.0
    assert summary["since"].endswith("Z")
    wider = json.loads(
        invoke(
            "metrics",
            "show",
            "local",
            "--db",
            str(tmp_path / "telemetry.db"),
            "--json",
            "--window",
            "3h",
        ).output
    )
    assert wider["requests"] == 102


def test_show_table(tmp_path: Path) -> None:
    result = invoke("metrics", "show", "local", "--db", str(filled(tmp_path)))
    assert result.exit_code == 0
    for text in ("requests", "101", "p99", "100.0 ms", "lookup_order", "redact_input"):
        assert text in result.output
    assert SECRET not in result.output


def test_show_exit_codes(tmp_path: Path) -> None:
    path = filled(tmp_path)
    missing = invoke("metrics", "show", "nobody", "--db", str(path), "--json")
    assert missing.exit_code == 5 and json.loads(missing.output)["code"] == 5
    assert invoke("metrics", "show", "local", "--db", str(tmp_path / "none.db")).exit_code == 5
    assert invoke("metrics", "show", "local", "--db", str(path), "--window", "soon").exit_code == 2
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    assert invoke("metrics", "show", "local", "--db", str(corrupt)).exit_code == 1


def test_export_csv_and_json(tmp_path: Path) -> None:
    path = filled(tmp_path)
    result = invoke("metrics", "export", "--agent", "local", "--db", str(path), "--since", "1h")
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert rows[0].startswith("time,ts,agent,kind,run_id,trace_id,name,status")
    assert len(rows) == 1 + 101 + 3
    out = tmp_path / "rows.json"
    result = invoke(
        "metrics",
        "export",
        "--agent",
        "local",
        "--db",
        str(path),
        "--format",
        "json",
        "--since",
        "2000-01-01T00:00:00",
        "--out",
        str(out),
    )
    assert result.exit_code == 0
    data = json.loads(out.read_text())
    assert len(data) == 105 and {row["kind"] for row in data} == {"run", "tool", "policy"}
    assert SECRET not in out.read_text()
    assert invoke("metrics", "export", "--agent", "x", "--db", str(path)).exit_code == 5
    assert invoke("metrics", "export", "--db", str(path)).exit_code == 2


def test_export_takes_the_agent_as_show_does(tmp_path: Path) -> None:
    """``export AGENT`` as ``show AGENT``; ``--agent`` still works, and both may be given only
    when they agree."""
    path = str(filled(tmp_path))
    by_option = invoke("metrics", "export", "--agent", "local", "--db", path, "--since", "1h")
    by_argument = invoke("metrics", "export", "local", "--db", path, "--since", "1h")
    both = invoke("metrics", "export", "local", "--agent", "local", "--db", path, "--since", "1h")
    assert by_option.exit_code == by_argument.exit_code == both.exit_code == 0
    # The same rows (the time column aside, all written at once).
    assert len(by_argument.output.splitlines()) == len(by_option.output.splitlines()) == 105
    assert both.output.splitlines()[0] == by_argument.output.splitlines()[0]
    assert invoke("metrics", "export", "nobody", "--db", path).exit_code == 5
    differing = CliRunner().invoke(
        cli, ["metrics", "export", "local", "--agent", "other", "--db", path]
    )
    assert differing.exit_code == 2
    assert "'local'" in differing.output and "'other'" in differing.output
    missing = CliRunner().invoke(cli, ["metrics", "export", "--db", path])
    assert missing.exit_code == 2 and "AGENT" in missing.output
    usage = CliRunner().invoke(cli, ["metrics", "export", "--help"]).output
    assert "export [OPTIONS] [AGENT]" in usage


def test_parse_since() -> None:
    assert parse_since("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_since("1.5h", now=10_000.0) == 10_000.0 - 5400
    assert parse_since("1970-01-01T01:00:00Z") == 3600.0
    assert parse_since("1970-01-01T01:00:00") == 3600.0
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday")


def test_a_store_that_opens_late_is_used_once_it_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = connect
    attempts = {"n": 0}

    def late_connect(path: Path, **kw: Any) -> Any:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise sqlite3.OperationalError("database is locked")
        return real_connect(path, **kw)

    monkeypatch.setattr("agentdock_plugins.localstore.sink.connect", late_connect)
    sink = LocalStoreSink(None, path=tmp_path / "t.db")
    sink.retry_after = 0.05

    async def main() -> None:
        await sink.emit([run_end(1.0)])  # lost while the store cannot be opened
        for _ in range(500):
            if attempts["n"] >= 2:
                break
            await asyncio.sleep(0.01)
        await sink.emit([run_end(2.0)])  # the same writer thread, now connected
        await sink.flush()

    asyncio.run(main())
    rows = sqlite3.connect(tmp_path / "t.db").execute("SELECT duration_ms FROM events").fetchall()
    assert rows == [(2.0,)]
    assert sink.dropped == 1 and attempts["n"] == 2


def test_insert_rows_writes_every_row_across_statement_chunks(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.db")
    rows = [row_from_event(run_end(float(n)), None) for n in range(store.INSERT_CHUNK * 2 + 3)]
    store.insert_rows(conn, rows)
    conn.commit()
    got = [r[0] for r in conn.execute("SELECT duration_ms FROM events ORDER BY id")]
    assert got == [float(n) for n in range(store.INSERT_CHUNK * 2 + 3)]


def test_the_collector_does_not_know_the_backends_by_name() -> None:
    import ast

    import agentdock_plugins.localstore

    package = Path(agentdock_plugins.localstore.__file__).parent
    imported = {
        node.module
        for path in package.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {
        m
        for m in imported
        if m.startswith(("agentdock_plugins.langfuse", "agentdock_plugins.otel"))
    }


def test_export_refuses_two_different_agents_given_twice_as_an_option(tmp_path: Path) -> None:
    """``--agent a --agent b`` names two agents, as ``a --agent b`` does: exit 2, not ``b``."""
    path = str(filled(tmp_path))
    twice = CliRunner().invoke(
        cli, ["metrics", "export", "--agent", "local", "--agent", "other", "--db", path]
    )
    assert twice.exit_code == 2, twice.output
    assert "'local'" in twice.output and "'other'" in twice.output
    assert "run_id" not in twice.output  # no rows written
    again = invoke("metrics", "export", "--agent", "local", "--agent", "local", "--db", path)
    assert again.exit_code == 0
    assert len(again.output.splitlines()) > 1
    mixed = CliRunner().invoke(
        cli, ["metrics", "export", "local", "--agent", "local", "--agent", "other", "--db", path]
    )
    assert mixed.exit_code == 2, mixed.output
