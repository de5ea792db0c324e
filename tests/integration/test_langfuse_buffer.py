"""LangFuse export against a local fake LangFuse, with outages and the offline buffer.

The fake speaks what the LangFuse SDK really sends: gzip'd OTLP/HTTP protobuf POSTed to
``/api/public/otel/v1/traces`` with Basic auth; it decodes every body. Outages are real
(nothing listens on the port), slow answers outlast the client's timeout, and 500/429
answers are refused loads; afterwards every run's trace must be there exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock_plugins.langfuse
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from _otlp_receiver import Receiver, Span
from _probe_spec import PROBE_DOCUMENT
from agentdock import make_plugin_manager, validate
from agentdock.testing import client
from agentdock_plugins.langfuse import langfuse_sink
from agentdock_plugins.langfuse.buffer import SpanBuffer
from agentdock_plugins.langfuse.config import LangfuseSettings, SettingsError, langfuse_settings
from agentdock_plugins.langfuse.exporter import BATCH_ID_HEADER, TRACES_PATH
from agentdock_plugins.langfuse.sink import LangfuseSink
from agentdock_runtime.events import envelope, new_span_id

PUBLIC = "pk-lf-planted-1a2b3c4d5e6f"
SECRET = "sk-lf-planted-9z8y7x6w5v4u"
INPUT_SECRET = "sk-user-planted-55aa66bb77cc"
_LANGGRAPH = make_plugin_manager(plugins=[("langgraph", agentdock_plugins.langgraph)])

DOCUMENT: dict[str, Any] = PROBE_DOCUMENT


def _spec(**langfuse: Any) -> Any:
    block = {"public_key": PUBLIC, "secret_key": SECRET, **langfuse}
    document = {**DOCUMENT, "observability": {"langfuse": block}}
    report = validate(document, skip_imports=True, plugins=_LANGGRAPH)
    assert report.ok, [f.one_line() for f in report.errors]
    return report.spec


def _settings(tmp_path: Path, host: str, **overrides: Any) -> LangfuseSettings:
    values: dict[str, Any] = {
        "public_key": PUBLIC,
        "secret_key": SECRET,
        "host": host,
        "environment": "staging",
        "release": "2.3.0",
        "buffer_path": tmp_path / "langfuse-buffer.db",
        "timeout_s": 2.0,
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.1,
    }
    values.update(overrides)
    return LangfuseSettings(**values)


@pytest.fixture
def fake() -> Iterator[Receiver]:
    server = Receiver(path=TRACES_PATH, basic_auth=(PUBLIC, SECRET)).start()
    yield server
    server.stop()


@pytest.fixture
def down() -> Iterator[Receiver]:
    """A fake whose port is known but where nothing listens yet."""
    server = Receiver(path=TRACES_PATH, basic_auth=(PUBLIC, SECRET)).start()
    server.stop()
    yield server
    server.stop()


def _run_events(*, tool: bool = True, policy: bool = True) -> tuple[str, str, list[Any]]:
    run_id = os.urandom(16).hex()
    span_id = new_span_id()
    start = time.time_ns()
    events: list[dict[str, Any]] = []

    def add(name: str, data: dict[str, Any]) -> None:
        events.append(
            envelope(name, "probe", data, run_id=run_id, trace_id=run_id, span_id=span_id)
        )

    if tool:
        add(
            "tool_event",
            {
                "tool": "lookup_order",
                "call_id": "call-7",
                "status": "ok",
                "duration_ms": 3.0,
                "start_unix_nano": start + 1_000_000,
                "span_id": new_span_id(),
            },
        )
    if policy:
        add(
            "policy_event",
            {
                "stage": "pre",
                "policy": "redact",
                "action": "redact",
                "matches": 1,
                "kinds": ["key"],
            },
        )
    add(
        "run_end",
        {
            "mode": "invoke",
            "status": "ok",
            "success": True,
            "error_type": None,
            "latency_ms": 20.0,
            "tokens_input": 30,
            "tokens_output": 10,
            "cost_usd": 0.0004,
            "role": "analyst",
            "subject": "alice",
            "thread_id": "thread-42",
            "retries": 0,
            "model": "gpt-4o-mini",
            "provider": "openai",
            "start_unix_nano": start,
            "end_unix_nano": start + 20_000_000,
            "parent_span_id": None,
        },
    )
    return run_id, span_id, events


def _emit(sink: LangfuseSink, events: list[Any]) -> None:
    async def go() -> None:
        await sink.emit(events)
        await sink.flush()

    asyncio.run(go())


def _roots(spans: list[Span]) -> list[Span]:
    return [span for span in spans if span.name == "invoke_agent probe"]


def _unique_roots(fake: Receiver) -> Counter[str]:
    """Root span ids per distinct batch id (what LangFuse keeps after its upsert)."""
    seen: set[str] = set()
    counts: Counter[str] = Counter()
    for item in fake.received:
        batch = item.headers[BATCH_ID_HEADER]
        if batch in seen:
            continue
        seen.add(batch)
        counts.update(span.span_id for span in _roots(item.spans))
    return counts


# -- what a trace holds --------------------------------------------------------------------------


def test_a_run_is_a_langfuse_trace(tmp_path: Path, fake: Receiver) -> None:
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url))
    try:
        run_id, span_id, events = _run_events()
        _emit(sink, events)
        assert fake.wait_for(lambda: len(fake.spans) == 3)
    finally:
        sink.shutdown()
    (request,) = fake.received
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["x-langfuse-sdk-name"] == "python"
    assert request.headers["x-langfuse-public-key"] == PUBLIC
    assert len(request.headers[BATCH_ID_HEADER]) == 32
    assert fake.unauthorized == 0

    spans = {span.name: span for span in fake.spans}
    root = spans["invoke_agent probe"]
    generation = spans["chat gpt-4o-mini"]
    tool = spans["execute_tool lookup_order"]
    assert {span.trace_id for span in spans.values()} == {run_id}
    assert root.span_id == span_id
    assert generation.parent_span_id == span_id and tool.parent_span_id == span_id

    attributes = root.attributes
    assert attributes["langfuse.trace.name"] == "probe"
    assert attributes["user.id"] == "alice"
    assert attributes["session.id"] == "thread-42"
    assert attributes["langfuse.trace.tags"] == [
        "agent:probe",
        "env:staging",
        "version:2.3.0",
        "role:analyst",
    ]
    assert attributes["langfuse.environment"] == "staging"
    assert attributes["langfuse.release"] == "2.3.0"
    assert attributes["langfuse.observation.type"] == "agent"
    assert json.loads(attributes["langfuse.trace.metadata.run_id"]) == run_id
    assert json.loads(attributes["langfuse.trace.metadata.policy_events"]) == [
        {"name": "redact", "stage": "pre", "action": "redact", "matches": 1, "kinds": ["key"]}
    ]
    assert attributes["langfuse.internal.is_app_root"] is True

    assert generation.attributes["langfuse.observation.type"] == "generation"
    assert generation.attributes["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert json.loads(generation.attributes["langfuse.observation.usage_details"]) == {
        "input": 30,
        "output": 10,
        "total": 40,
    }
    assert json.loads(generation.attributes["langfuse.observation.cost_details"]) == {
        "total": 0.0004
    }
    assert "user.id" not in generation.attributes  # trace attributes: on the run span only
    assert tool.attributes["langfuse.observation.type"] == "tool"
    assert tool.attributes["gen_ai.tool.name"] == "lookup_order"
    assert "langfuse.internal.is_app_root" not in tool.attributes


def test_cost_is_shared_between_model_calls_by_tokens(tmp_path: Path, fake: Receiver) -> None:
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url))
    run_id, span_id, events = _run_events(tool=False, policy=False)
    start = events[-1]["data"]["start_unix_nano"]
    for offset, (tokens_in, tokens_out) in enumerate([(10, 0), (20, 10)]):
        event = envelope(
            "model_event",
            "probe",
            {
                "model": "gpt-4o-mini",
                "provider": "openai",
                "tokens_input": tokens_in,
                "tokens_output": tokens_out,
                "duration_ms": 1.0,
                "start_unix_nano": start + offset,
                "span_id": new_span_id(),
            },
            run_id=run_id,
            trace_id=run_id,
            span_id=span_id,
        )
        events.insert(0, event)
    try:
        _emit(sink, events)
        assert fake.wait_for(lambda: len(fake.spans) == 3)
    finally:
        sink.shutdown()
    costs = sorted(
        json.loads(s.attributes["langfuse.observation.cost_details"])["total"]
        for s in fake.spans
        if s.attributes.get("langfuse.observation.type") == "generation"
    )
    assert costs == pytest.approx([0.0001, 0.0003])


# -- outages -------------------------------------------------------------------------------------


def test_down_for_n_runs_then_up_every_trace_arrives_once(tmp_path: Path, down: Receiver) -> None:
    sink = LangfuseSink(_spec(), _settings(tmp_path, down.url))
    try:
        expected = []
        for _ in range(6):
            _, span_id, events = _run_events()
            expected.append(span_id)
            _emit(sink, events)
        assert sink.stats["spooled"] >= 1
        assert sink.stats["sent"] == 0
        assert sink.exporter.buffer is not None and sink.exporter.buffer.pending() >= 1
        down.start()  # LangFuse is back
        assert down.wait_for(lambda: set(_unique_roots(down)) == set(expected))
        _, late, events = _run_events()
        expected.append(late)
        _emit(sink, events)
        assert down.wait_for(lambda: late in _unique_roots(down))
        assert sink.exporter.buffer.pending() == 0
    finally:
        sink.shutdown()
    counts = Counter(span.span_id for span in _roots(down.spans))
    assert counts == Counter(expected)  # no timeouts here, so not even a duplicate POST
    assert down.unauthorized == 0


@pytest.mark.parametrize("status", [500, 503, 429])
def test_refused_loads_are_resent(tmp_path: Path, fake: Receiver, status: int) -> None:
    fake.behaviour = status
    fake.retry_after = "0"
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url))
    try:
        expected = []
        for _ in range(3):
            _, span_id, events = _run_events()
            expected.append(span_id)
            _emit(sink, events)
        assert fake.wait_for(lambda: fake.attempts >= 2)
        assert not fake.received
        fake.behaviour = "ok"
        assert fake.wait_for(lambda: set(_unique_roots(fake)) == set(expected))
    finally:
        sink.shutdown()
    assert Counter(span.span_id for span in _roots(fake.spans)) == Counter(expected)


def test_a_slow_langfuse_gets_each_batch_again_under_the_same_id(
    tmp_path: Path, fake: Receiver
) -> None:
    fake.behaviour = "hang"
    fake.hang_s = 0.6
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url, timeout_s=0.1))
    try:
        _, span_id, events = _run_events()
        _emit(sink, events)  # returns although LangFuse has not answered
        assert sink.stats["spooled"] == 1
        fake.behaviour = "ok"
        assert fake.wait_for(lambda: len(fake.received) >= 2)
    finally:
        sink.shutdown()
    batch_ids = {item.headers[BATCH_ID_HEADER] for item in fake.received}
    assert len(batch_ids) == 1  # the late copy and the re-send are one batch
    assert _unique_roots(fake) == Counter([span_id])


#: Events per run of :func:`_run_events` (tool, policy, run_end): what a lost run counts.
EVENTS_PER_RUN = 3


def _small_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    """A span queue of 64 spans sent 16 at a time, so a flood outruns a stalled export."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "64")
    monkeypatch.setenv("LANGFUSE_FLUSH_AT", "16")
    monkeypatch.setenv("LANGFUSE_FLUSH_INTERVAL", "0.05")


def _flood(sink: LangfuseSink, runs: int) -> list[str]:
    """``runs`` runs handed to the sink 15 at a time, as the telemetry drain does."""
    expected: list[str] = []

    async def go() -> None:
        batch: list[Any] = []
        for index in range(runs):
            _, span_id, events = _run_events()
            expected.append(span_id)
            batch.extend(events)
            if index % 15 == 14 or index == runs - 1:
                await sink.emit(batch)
                batch = []

    asyncio.run(go())
    return expected


def _check_arrivals(fake: Receiver, expected: list[str], dropped_events: int) -> set[str]:
    """Every run arrived whole and once, or is missing and counted; returns the missing ids."""
    counts = _unique_roots(fake)
    assert set(counts) <= set(expected)
    assert all(count == 1 for count in counts.values()), "a trace arrived twice"
    missing = set(expected) - set(counts)
    assert len(missing) * EVENTS_PER_RUN == dropped_events
    # A run arrives whole: its run, tool and generation spans, never a part of them.
    by_trace: dict[str, set[str]] = {}
    batches_of: dict[str, set[str]] = {}
    for item in fake.received:
        for span in item.spans:
            by_trace.setdefault(span.trace_id, set()).add(span.name)
            batches_of.setdefault(span.span_id, set()).add(item.headers[BATCH_ID_HEADER])
    assert all(len(names) == 3 for names in by_trace.values())
    assert len(by_trace) == len(counts)
    # A span that arrived twice came in one batch sent twice (its answer was lost), which
    # LangFuse stores once: it upserts observations by id.
    assert all(len(batches) == 1 for batches in batches_of.values())
    return missing


def _settled(sink: LangfuseSink, fake: Receiver, expected: list[str]) -> bool:
    buffer = sink.exporter.buffer
    arrived = len(_unique_roots(fake))
    lost = sink.stats.get("dropped", 0) // EVENTS_PER_RUN
    return arrived + lost >= len(expected) and (buffer is None or buffer.pending() == 0)


def _stalled_flood(
    tmp_path: Path, fake: Receiver, monkeypatch: pytest.MonkeyPatch, *, land: bool, **settings: Any
) -> tuple[LangfuseSink, list[str], bool]:
    """300 runs while LangFuse takes requests and answers none; then the stalled requests
    land late (``land``) or are cut off, and the sink flushes. Returns the sink (shut down),
    the runs' ids, and whether every run arrived or was counted lost in time."""
    _small_queues(monkeypatch)
    fake.behaviour = "stall"
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url, timeout_s=0.3, **settings))
    try:
        expected = _flood(sink, 300)
        assert fake.wait_for(lambda: fake.stalled >= 2)  # one request has timed out
        fake.release(land=land)
        asyncio.run(sink.flush())
        settled = fake.wait_for(lambda: _settled(sink, fake, expected), timeout=20)
    finally:
        sink.shutdown()
    return sink, expected, settled


def test_a_stalled_langfuse_gets_every_trace_once_after_it_recovers(
    tmp_path: Path, fake: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LangFuse takes the requests and answers none of them while 300 runs arrive, then
    recovers and lets the stalled requests land late: every trace is there exactly once."""
    sink, expected, settled = _stalled_flood(tmp_path, fake, monkeypatch, land=True)
    stats = sink.stats
    assert settled, stats
    assert stats["spilled"] > 0, "the queue overflowed into the buffer, not onto the floor"
    missing = _check_arrivals(fake, expected, stats["dropped"])
    assert not missing and stats["dropped"] == 0


def test_a_stalled_langfuse_with_a_small_buffer_counts_what_it_loses(
    tmp_path: Path, fake: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same stall with a buffer too small for the flood: the buffer drops its oldest
    batches, and the runs that never arrive are exactly the runs counted as dropped."""
    # The stalled requests are cut off: LangFuse restarted.
    sink, expected, settled = _stalled_flood(
        tmp_path, fake, monkeypatch, land=False, max_bytes=6_000
    )
    stats = sink.stats
    assert settled, stats
    assert stats["buffer_dropped_full"] > 0
    assert stats["dropped_buffer"] > 0 and sink.dropped == stats["dropped"]
    missing = _check_arrivals(fake, expected, stats["dropped"])
    assert missing and len(missing) < len(expected)


def test_client_errors_are_not_retried(tmp_path: Path, fake: Receiver, caplog: Any) -> None:
    fake.behaviour = 400
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url))
    try:
        _, _, events = _run_events()
        with caplog.at_level(logging.WARNING, logger="agentdock.langfuse"):
            _emit(sink, events)
            assert fake.wait_for(lambda: sink.stats["rejected"] == 1)
        assert sink.stats["spooled"] == 0
        assert "refused a batch (HTTP 400)" in caplog.text
    finally:
        sink.shutdown()


def test_a_full_disk_drops_counts_and_warns(tmp_path: Path, down: Receiver, caplog: Any) -> None:
    sink = LangfuseSink(_spec(), _settings(tmp_path, down.url))
    buffer = sink.exporter.buffer
    assert buffer is not None

    class FullDisk:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.lstrip().startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.db, name)

    buffer._db = FullDisk(buffer._db)  # type: ignore[assignment]
    try:
        with caplog.at_level(logging.WARNING, logger="agentdock.langfuse"):
            for _ in range(3):
                _emit(sink, _run_events()[2])
        assert sink.stats["lost"] == 3
        assert sink.stats["buffer_dropped_disk"] == 3
        assert caplog.text.count("LangFuse buffer unavailable (OperationalError)") == 1
        assert buffer.pending() == 0
    finally:
        sink.shutdown()


# -- the buffer's bounds -------------------------------------------------------------------------


def test_buffer_keeps_the_newest_within_its_byte_bound(tmp_path: Path) -> None:
    buffer = SpanBuffer(tmp_path / "b.db", max_bytes=10_000, retention_s=3600)
    for index in range(8):
        assert buffer.put(f"batch-{index}", bytes([index]) * 3_000, now=1000.0 + index)
    assert buffer.size_bytes() <= 10_000
    assert buffer.pending() == 3
    assert buffer.stats.dropped_full == 5
    assert [batch for batch, _ in buffer.lease(10, now=1010.0)] == [
        "batch-5",
        "batch-6",
        "batch-7",
    ]
    assert not buffer.put("huge", b"x" * 10_001)
    assert buffer.stats.dropped_full == 6
    buffer.close()


def test_buffer_never_drops_a_batch_being_sent(tmp_path: Path) -> None:
    """A leased row may be arriving at LangFuse: making room skips it, and when only leased
    rows are left the new batch is the one refused, so a counted loss is always a loss."""
    buffer = SpanBuffer(tmp_path / "b.db", max_bytes=10_000, retention_s=3600)
    for index in range(3):
        assert buffer.put(f"batch-{index}", b"x" * 3_000, events=index + 1, now=100.0 + index)
    assert [batch for batch, _ in buffer.lease(1, now=110.0)] == ["batch-0"]
    assert buffer.put("batch-3", b"y" * 3_000, events=7, now=111.0)
    # batch-0 is being sent: batch-1, the oldest of the others, made room.
    assert buffer.stats.dropped_full == 1 and buffer.stats.events_dropped == 2
    assert [batch for batch, _ in buffer.lease(10, now=112.0)] == ["batch-2", "batch-3"]
    assert not buffer.put("batch-4", b"z" * 3_000, events=5, now=113.0)
    assert buffer.stats.dropped_full == 2 and buffer.stats.events_dropped == 2  # its caller's
    buffer.done("batch-2", delivered=False)  # refused for good on a re-send
    assert buffer.stats.events_dropped == 2 + 3
    buffer.done("batch-0")
    assert buffer.stats.events_dropped == 5 and buffer.pending() == 1
    buffer.close()


def test_a_buffer_from_before_event_counts_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE batches (batch_id TEXT PRIMARY KEY, created_at REAL NOT NULL,"
        " size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " leased_until REAL NOT NULL DEFAULT 0, body BLOB NOT NULL);"
        "INSERT INTO batches (batch_id, created_at, size, body) VALUES ('kept', 1.0, 1, x'00');"
    )
    old.commit()
    old.close()
    buffer = SpanBuffer(path, max_bytes=1_000_000, retention_s=1e9)
    second = SpanBuffer(path, max_bytes=1_000_000, retention_s=1e9)  # already upgraded
    assert buffer.put("new", b"x", events=4, now=2.0)
    assert [batch for batch, _ in buffer.lease(10, now=3.0)] == ["kept", "new"]
    buffer.done("kept", delivered=False)
    buffer.done("new", delivered=False)
    assert buffer.stats.events_dropped == 4  # an old row counts no events
    buffer.close()
    second.close()


def test_buffer_drops_batches_past_retention(tmp_path: Path) -> None:
    buffer = SpanBuffer(tmp_path / "b.db", max_bytes=1_000_000, retention_s=7 * 86_400)
    day = 86_400.0
    buffer.put("old", b"a", now=0.0)
    buffer.put("week", b"b", now=1 * day)
    buffer.put("new", b"c", now=7.5 * day)
    assert buffer.stats.dropped_expired == 1  # "old" is 7.5 days old at the third put
    assert [batch for batch, _ in buffer.lease(10, now=8.5 * day)] == ["new"]
    assert buffer.stats.dropped_expired == 2
    buffer.close()


def test_leases_keep_two_senders_apart(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first = SpanBuffer(path, max_bytes=1_000_000, retention_s=3600)
    second = SpanBuffer(path, max_bytes=1_000_000, retention_s=3600)
    for index in range(4):
        first.put(f"b{index}", b"x", now=100.0 + index)
    mine = first.lease(2, now=200.0)
    theirs = second.lease(10, now=200.0)
    assert {b for b, _ in mine}.isdisjoint({b for b, _ in theirs})
    assert len(mine) + len(theirs) == 4
    first.release(mine[0][0])
    assert [b for b, _ in second.lease(10, now=201.0)] == [mine[0][0]]
    first.close()
    second.close()


# -- configuration and secrets -------------------------------------------------------------------


def test_settings_from_dockfile_and_environment(tmp_path: Path) -> None:
    spec = _spec(host="https://lf.example.com/")
    settings = langfuse_settings(spec, {"AGENTDOCK_HOME": str(tmp_path)})
    assert settings is not None
    assert settings.host == "https://lf.example.com"
    assert settings.buffer_path == tmp_path / "langfuse-buffer.db"
    assert settings.retention_s == 7 * 86_400 and settings.max_bytes == 64 * 1024 * 1024
    env = {
        "LANGFUSE_HOST": "http://env-host:3000",
        "AGENTDOCK_LANGFUSE_BUFFER_MAX_BYTES": "2048",
        "AGENTDOCK_LANGFUSE_BUFFER_RETENTION_DAYS": "0.5",
        "LANGFUSE_TRACING_ENVIRONMENT": "production",
    }
    settings = langfuse_settings(spec, env)
    assert settings is not None
    assert settings.host == "http://env-host:3000"
    assert (settings.max_bytes, settings.retention_s) == (2048, 43_200)
    assert settings.environment == "production" and settings.release == "2.3.0"
    assert langfuse_settings(_spec_without_langfuse(), {}) is None
    with pytest.raises(SettingsError, match="AGENTDOCK_LANGFUSE_BUFFER_MAX_BYTES must be"):
        langfuse_settings(spec, {"AGENTDOCK_LANGFUSE_BUFFER_MAX_BYTES": "lots"})
    with pytest.raises(SettingsError, match="RETENTION_DAYS must be a finite number"):
        langfuse_settings(spec, {"AGENTDOCK_LANGFUSE_BUFFER_RETENTION_DAYS": "-1"})
    assert PUBLIC not in repr(settings) and SECRET not in repr(settings)
    with pytest.raises(SettingsError, match="LANGFUSE_SAMPLE_RATE must be between 0 and 1"):
        langfuse_settings(spec, {"LANGFUSE_SAMPLE_RATE": "1.5"})


def test_sample_rate_zero_sends_nothing(tmp_path: Path, fake: Receiver) -> None:
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url, sample_rate=0.0))
    try:
        _emit(sink, _run_events()[2])
        assert fake.attempts == 0 and sink.stats["runs"] == 0 and sink.stats["unsampled"] == 1
    finally:
        sink.shutdown()


def _spec_without_langfuse() -> Any:
    report = validate(DOCUMENT, skip_imports=True, plugins=_LANGGRAPH)
    assert report.ok
    return report.spec


def test_keys_never_leave_the_authorization_header(
    tmp_path: Path, fake: Receiver, caplog: Any
) -> None:
    fake.behaviour = 500
    sink = LangfuseSink(_spec(), _settings(tmp_path, fake.url))
    try:
        with caplog.at_level(logging.DEBUG):
            _emit(sink, _run_events()[2])
            assert fake.wait_for(lambda: fake.attempts >= 2)
            rows = sqlite3.connect(tmp_path / "langfuse-buffer.db").execute("SELECT * FROM batches")
            dump = repr(rows.fetchall())
            fake.behaviour = "ok"
            assert fake.wait_for(lambda: len(fake.received) >= 1)
            text = caplog.text + repr(sink) + repr(sink.exporter) + repr(sink.stats)
    finally:
        sink.shutdown()
    for key in (PUBLIC, SECRET):
        assert key not in text
        assert key not in dump
        for item in fake.received:
            assert key.encode() not in item.body
            for span in item.spans:
                assert key not in repr(span.attributes) and key not in repr(span.resource)


def test_plugin_registration_and_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path))
    manager = make_plugin_manager(plugins=[("langfuse", agentdock_plugins.langfuse)])
    assert "langfuse" in manager.registrations("telemetry_sinks")
    assert langfuse_sink(_spec_without_langfuse()) is None
    made = langfuse_sink(_spec(host="http://127.0.0.1:9"))
    assert isinstance(made, LangfuseSink)
    assert made.endpoint == "http://127.0.0.1:9/api/public/otel/v1/traces"
    made.shutdown()
    assert (tmp_path / "langfuse-buffer.db").exists()


# -- through the real runtime --------------------------------------------------------------------

#: The reference agent of examples/echo (one node that upper-cases ``text``).
ECHO_PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "echo" / "echo"


def test_runtime_runs_reach_langfuse_after_an_outage(
    tmp_path: Path, down: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path))
    monkeypatch.setenv("AGENTDOCK_LANGFUSE_BACKOFF_BASE", "0.02")
    monkeypatch.setenv("AGENTDOCK_LANGFUSE_BACKOFF_MAX", "0.1")
    for name in ("LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(ECHO_PACKAGE, tmp_path / "echo", ignore=shutil.ignore_patterns("__pycache__"))
    block = {"public_key": PUBLIC, "secret_key": SECRET, "host": down.url}
    document = {**DOCUMENT, "observability": {"langfuse": block}}
    path = tmp_path / "Dockfile.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    manager = make_plugin_manager(
        plugins=[
            ("langgraph", agentdock_plugins.langgraph),
            ("litestar", agentdock_plugins.litestar),
            ("langfuse", agentdock_plugins.langfuse),
        ]
    )
    with client(path, insecure_no_auth=True, plugins=manager) as http:
        responses = [
            http.post("/invoke", json={"text": f"run {i} {INPUT_SECRET}"}) for i in range(3)
        ]
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    trace_ids = {r.headers["x-trace-id"] for r in responses}
    assert (tmp_path / "langfuse-buffer.db").exists()

    # The runtime has stopped; the next start finds the buffer and sends it.
    down.start()
    with client(path, insecure_no_auth=True, plugins=manager) as http:
        assert down.wait_for(lambda: {s.trace_id for s in _roots(down.spans)} >= trace_ids)
        assert http.get("/health").status_code == 200
    counts = Counter(span.trace_id for span in _roots(down.spans))
    assert all(counts[trace_id] == 1 for trace_id in trace_ids)
    for item in down.received:
        assert INPUT_SECRET.encode() not in item.body
        assert INPUT_SECRET.upper().encode() not in item.body
        assert SECRET.encode() not in item.body
