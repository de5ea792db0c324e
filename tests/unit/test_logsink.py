"""The log sink: PRD-format JSON lines with trace ids, levels, terminal text, a slow stdout."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from typing import Any

import pytest
from agentdock import make_plugin_manager
from agentdock.spec.models import DockSpec11
from agentdock_plugins import logsink as logsink_plugin
from agentdock_plugins.logsink.sink import LogSink, event_level, format_from_env


def make_spec(log_level: str = "info") -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "logged", "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"q": {"type": "string"}}},
                "output": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "observability": {"log_level": log_level},
            "auth": {"mode": "api_key"},
            "expose": {"rest": True},
            "metadata": {"version": "v1.0.0"},
        }
    )


def event(name: str, **data: Any) -> dict[str, Any]:
    return {
        "event": name,
        "version": "1.0",
        "timestamp": "2026-11-25T16:40:00.123456Z",
        "agent": "logged",
        "run_id": "a" * 32,
        "trace_id": "b" * 32,
        "span_id": "c" * 16,
        "data": data,
    }


RUN_OK = event(
    "run_end", mode="invoke", status="ok", latency_ms=2010.0, tokens_input=5, tokens_output=3
)
EVENTS = [
    event("run_start", mode="invoke"),
    RUN_OK,
    event("run_end", mode="stream", status="error", error_type="AgentError", latency_ms=3.0),
    event("tool_event", tool="lookup", status="ok", duration_ms=1.0, span_id="d" * 16),
    event("tool_event", tool="rm", status="denied", duration_ms=0.1, span_id="e" * 16),
    event("policy_event", stage="pre", policy="redact", action="redact", matches=2),
    event("error_event", error_type="InternalError", code=500, detail="x", stage="agent"),
    event("auth_event", outcome="failure", reason="expired", mode="jwt"),
]


def lines(sink: LogSink, stream: io.StringIO, events: list[dict[str, Any]]) -> list[str]:
    async def main() -> None:
        await sink.emit(events)
        await sink.flush()

    asyncio.run(main())
    return stream.getvalue().splitlines()


def test_json_lines_follow_the_prd_format_with_trace_ids() -> None:
    stream = io.StringIO()
    out = lines(LogSink(make_spec(), fmt="json", stream=stream), stream, [RUN_OK])
    assert len(out) == 1
    line = json.loads(out[0])
    assert line["timestamp"] == "2026-11-25T16:40:00.123456Z"
    assert line["agent"] == "logged" and line["version"] == "v1.0.0"
    assert line["level"] == "INFO"
    assert line["latency_ms"] == 2010.0
    assert line["trace_id"] == "b" * 32 and line["run_id"] == "a" * 32
    assert line["event"] == "run_end"
    assert line["message"] == "run ok (invoke) in 2010.0 ms, tokens 5/3"


def test_a_tool_line_carries_its_own_span_and_the_runs() -> None:
    stream = io.StringIO()
    out = lines(LogSink(make_spec("debug"), fmt="json", stream=stream), stream, [EVENTS[3]])
    line = json.loads(out[0])
    assert line["span_id"] == "d" * 16 and line["run_span_id"] == "c" * 16
    assert line["tool"] == "lookup" and line["level"] == "DEBUG"


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("debug", 8),
        ("info", 3),  # run ok, policy redact, + the warnings and errors below
        ("warn", 4),
        ("error", 1),
    ],
)
def test_log_level_filters(level: str, expected: int) -> None:
    levels = [event_level(e) for e in EVENTS]
    threshold = {"debug": 10, "info": 20, "warn": 30, "error": 40}[level]
    stream = io.StringIO()
    out = lines(LogSink(make_spec(level), fmt="json", stream=stream), stream, EVENTS)
    assert len(out) == sum(1 for v in levels if v >= threshold)
    if level != "info":
        assert len(out) == expected
    assert all(json.loads(line)["level"] in {"DEBUG", "INFO", "WARN", "ERROR"} for line in out)


def test_levels_of_events() -> None:
    assert [event_level(e) for e in EVENTS] == [10, 20, 30, 10, 30, 20, 40, 30]


def test_text_format_on_a_terminal_and_on_request() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    sink = LogSink(make_spec(), stream=tty)
    assert sink.format == "text"
    out = lines(sink, tty, [RUN_OK])
    assert out == [
        f"16:40:00.123 INFO  logged run ok (invoke) in 2010.0 ms, tokens 5/3 trace={'b' * 32}"
    ]
    assert LogSink(make_spec(), stream=io.StringIO()).format == "json"
    assert LogSink(make_spec(), fmt="text", stream=io.StringIO()).format == "text"


def test_format_variable_is_read_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    assert format_from_env(None) == "auto"
    assert format_from_env(" TEXT ") == "text"
    with pytest.raises(ValueError, match="AGENTDOCK_LOG_FORMAT must be json, text or off"):
        format_from_env("yaml")
    manager = make_plugin_manager(plugins=[("logs", logsink_plugin)])
    registration = manager.get("telemetry_sinks", "logs")
    assert registration is not None
    monkeypatch.setenv("AGENTDOCK_LOG_FORMAT", "off")
    assert registration.factory(make_spec()) is None
    monkeypatch.setenv("AGENTDOCK_LOG_FORMAT", "json")
    assert isinstance(registration.factory(make_spec()), LogSink)


class BlockedStream(io.StringIO):
    """A stdout whose writes wait until released (a full pipe)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writing = threading.Event()

    def write(self, text: str) -> int:
        self.writing.set()
        self.release.wait(10)
        return super().write(text)


def test_a_blocked_stdout_never_blocks_emit_and_the_buffer_is_bounded() -> None:
    stream = BlockedStream()
    sink = LogSink(make_spec(), fmt="json", stream=stream, max_buffered=100)

    async def main() -> None:
        await sink.emit([RUN_OK])
        assert stream.writing.wait(10)  # the writer thread is stuck in write()
        for _ in range(50):  # 500 lines against a buffer of 100: emit returns each time
            await sink.emit([RUN_OK] * 10)

    asyncio.run(main())
    assert sink.dropped == 400
    stream.release.set()
    assert sink.wait_written(10)
    assert len(stream.getvalue().splitlines()) == 101
    assert sink.written == 101


def test_a_broken_stdout_is_counted_not_raised() -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("EPIPE")

    sink = LogSink(make_spec(), fmt="json", stream=Broken())
    lines(sink, io.StringIO(), [RUN_OK, RUN_OK])
    assert sink.write_errors >= 1 and sink.written == 0
