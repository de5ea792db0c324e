"""What the pipeline tells telemetry: the event envelope, trace context, policy seams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from agentdock.run import RunContext
from agentdock_runtime import (
    Forbidden,
    PolicyViolationError,
    RateLimited,
    StreamItem,
    Unauthorized,
)
from agentdock_runtime.events import EVENT_NAMES, new_span_id, parse_traceparent
from hypothesis import given
from hypothesis import strategies as st
from unit.runtime.test_pipeline import GOOD, SECRET, Agent, Recorder, Sink, build, raises, run

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


# -- traceparent ---------------------------------------------------------------------------------


def test_a_valid_traceparent_is_read() -> None:
    caller = parse_traceparent(TRACEPARENT)
    assert caller is not None
    assert (caller.trace_id, caller.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",  # forbidden version
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # all-zero trace id
        f"00-{CALLER_TRACE}-{'0' * 16}-01",  # all-zero parent
        f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",  # upper-case hex
        f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{CALLER_TRACE[:-1]}-{CALLER_SPAN}-01",  # short trace id
    ],
)
def test_a_malformed_traceparent_is_ignored(header: str) -> None:
    assert parse_traceparent(header) is None


@given(st.text(max_size=80))
def test_traceparent_parsing_never_raises(header: str) -> None:
    caller = parse_traceparent(header)
    assert caller is None or len(caller.trace_id) == 32


def test_span_ids_are_16_hex_and_differ() -> None:
    spans = {new_span_id() for _ in range(100)}
    assert len(spans) == 100
    assert all(len(s) == 16 and int(s, 16) for s in spans)


def test_a_run_continues_the_callers_trace() -> None:
    sink = Sink()
    pipeline = build(Agent(), sinks={"s": sink})

    async def main() -> Any:
        result = await pipeline.invoke(
            b'{"text": "a"}', headers={**GOOD, "traceparent": TRACEPARENT}
        )
        plain = await pipeline.invoke(b'{"text": "a"}', headers={**GOOD, "traceparent": "bad"})
        await pipeline.aclose()
        return result, plain

    result, plain = run(main())
    assert result.trace_id == CALLER_TRACE
    assert plain.trace_id == plain.run_id, "a malformed traceparent starts a new trace"
    ends = [e for e in sink.events if e["event"] == "run_end"]
    assert ends[0]["trace_id"] == CALLER_TRACE
    assert ends[0]["data"]["parent_span_id"] == CALLER_SPAN
    assert ends[1]["data"]["parent_span_id"] is None
    starts = [e for e in sink.events if e["event"] == "run_start"]
    assert [s["span_id"] for s in starts] == [e["span_id"] for e in ends]
    assert starts[0]["span_id"] != starts[1]["span_id"]


def test_without_sinks_the_trace_id_is_the_run_id_and_nothing_is_queued() -> None:
    pipeline = build(Agent())
    result = run(pipeline.invoke(b'{"text": "a"}', headers=GOOD))
    assert result.trace_id == result.run_id
    assert pipeline.telemetry_stats.queued == 0


# -- the envelope ----------------------------------------------------------------------------------


def test_every_event_has_the_envelope_and_no_input_or_output() -> None:
    sink = Sink()
    pipeline = build(
        Agent(),
        policies={"post": Recorder("post", []), "pre": Recorder("pre", [])},
        sinks={"s": sink},
    )

    async def main() -> None:
        await pipeline.invoke(json.dumps({"text": SECRET}).encode(), headers=GOOD)
        with pytest.raises(PolicyViolationError):
            await pipeline.invoke(json.dumps({"text": "forbidden"}).encode(), headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert sink.events
    for event in sink.events:
        assert set(event) == {
            "event",
            "version",
            "timestamp",
            "agent",
            "run_id",
            "trace_id",
            "span_id",
            "data",
        }
        assert event["event"] in EVENT_NAMES
        assert event["agent"] == "echo_agent" and event["version"] == "1.0"
        assert event["timestamp"].endswith("Z")
    dumped = json.dumps(sink.events)
    assert SECRET not in dumped and SECRET.upper() not in dumped
    refused = [e for e in sink.events if e["event"] == "error_event"]
    assert [(e["data"]["error_type"], e["data"]["stage"]) for e in refused] == [
        ("PolicyViolationError", "pre")
    ]


class Pricing:
    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens * 0.5 + output_tokens * 2.0


def test_run_end_carries_cost_when_the_model_has_a_price() -> None:
    sink = Sink()
    pipeline = build(Agent(), sinks={"s": sink})
    pipeline._report.pricing = Pricing()

    async def main() -> None:
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    (end,) = (e["data"] for e in sink.events if e["event"] == "run_end")
    assert end["cost_usd"] == 3 * 0.5 + 4 * 2.0
    assert (end["model"], end["provider"], end["mode"]) == ("gpt-4o-mini", "openai", "invoke")


# -- policies talk to telemetry and hold stream text back ---------------------------------------


class Counting:
    """A pre policy that reports how many times it saw the letter x."""

    stage = "pre"

    def check(self, value: Any, context: RunContext) -> Any:
        context.emit(
            "policy_event",
            {
                "stage": "pre",
                "policy": "count",
                "action": "flag",
                "matches": value["text"].count("x"),
                "duration_ms": 0.0,
            },
        )
        return value


class HoldBack:
    """A post policy that holds back the last two characters of the stream until its end."""

    stage = "post"

    def check(self, value: Mapping[str, Any], context: RunContext) -> Mapping[str, Any]:
        text = context.state.get("held", "") + value["text"]
        context.state["held"] = text[-2:]
        return {**value, "text": text[:-2]}

    def finish(self, context: RunContext) -> Mapping[str, Any] | None:
        held = context.state.pop("held", "")
        return {"text": held} if held else None


class Upper:
    stage = "post"

    async def check(self, value: Mapping[str, Any], context: RunContext) -> Mapping[str, Any]:
        return {**value, "text": value["text"].upper()}


def test_a_policy_event_joins_the_runs_envelope() -> None:
    sink = Sink()
    pipeline = build(Agent(), policies={"count": Counting()}, sinks={"s": sink})

    async def main() -> Any:
        result = await pipeline.invoke(b'{"text": "xox"}', headers=GOOD)
        await pipeline.aclose()
        return result

    result = run(main())
    (event,) = (e for e in sink.events if e["event"] == "policy_event")
    assert event["run_id"] == result.run_id and event["trace_id"] == result.trace_id
    assert event["data"]["matches"] == 2


def test_emit_is_a_no_op_without_sinks() -> None:
    pipeline = build(Agent(), policies={"count": Counting()})
    assert run(pipeline.invoke(b'{"text": "x"}', headers=GOOD)).output == {"text": "X"}


def test_a_held_back_tail_is_sent_before_end_through_the_later_policies() -> None:
    pipeline = build(Agent(), policies={"hold": HoldBack(), "upper": Upper()})

    async def main() -> list[StreamItem]:
        return [item async for item in pipeline.stream(b'{"text": "ab cd ef"}', headers=GOOD)]

    items = run(main())
    tokens = [i.data["text"] for i in items if i.event == "token"]
    assert "".join(tokens) == "ABCDEF"
    assert tokens[-1] == "EF", "the tail comes last, upper-cased by the policy after it"
    assert [i.event for i in items][-2:] == ["token", "end"]
    assert [i.id for i in items] == list(range(1, len(items) + 1))


def test_the_stream_start_item_names_the_trace() -> None:
    pipeline = build(Agent())

    async def main() -> StreamItem:
        items = pipeline.stream(b'{"text": "a"}', headers={**GOOD, "traceparent": TRACEPARENT})
        first = await anext(items)
        await items.aclose()
        return first

    first = run(main())
    assert first.data["trace_id"] == CALLER_TRACE


# -- access rules ------------------------------------------------------------------------------


class Access:
    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str]] = []

    async def check(self, identity: Mapping[str, Any], permission: str) -> None:
        self.seen.append((identity.get("role"), permission))
        if permission == "view_metrics":
            raise Forbidden("role 'developer' lacks permission 'view_metrics'")
        if permission == "invoke" and len(self.seen) > 3:
            raise RateLimited("too many requests")


def test_access_rules_run_after_auth_and_refusals_become_auth_events() -> None:
    sink = Sink()
    pipeline = build(Agent(), sinks={"s": sink})
    access = Access()
    pipeline._access = access.check

    async def main() -> None:
        assert (await pipeline.authorize(GOOD, "read_docs"))["sub"] == "alice"
        with pytest.raises(Forbidden):
            await pipeline.authorize(GOOD, "view_metrics")
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        with pytest.raises(RateLimited):
            await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert access.seen == [
        ("developer", "read_docs"),
        ("developer", "view_metrics"),
        ("developer", "invoke"),
        ("developer", "invoke"),
    ]
    refusals = [e["data"] for e in sink.events if e["event"] == "auth_event"]
    # Refused once authenticated: the event names who (never the credential).
    assert [(r["reason"], r["role"], r["subject"]) for r in refusals] == [
        ("forbidden", "developer", "alice"),
        ("rate_limited", "developer", "alice"),
    ]
    assert GOOD["x-api-key"] not in json.dumps(sink.events)


def test_a_refused_credential_names_nobody() -> None:
    sink = Sink()
    pipeline = build(Agent(), sinks={"s": sink})

    async def main() -> None:
        for headers in ({"x-api-key": "forged"}, {}):
            with pytest.raises(Unauthorized):
                await pipeline.invoke(b'{"text": "a"}', headers=headers)
        await pipeline.aclose()

    run(main())
    refusals = [e["data"] for e in sink.events if e["event"] == "auth_event"]
    assert [(r["reason"], r["role"], r["subject"]) for r in refusals] == [
        ("invalid", None, None),
        ("missing", None, None),
    ]


def test_an_unauthenticated_request_never_reaches_the_access_rules() -> None:
    pipeline = build(Agent())
    access = Access()
    pipeline._access = access.check
    raises(pipeline.authorize({}, "read_docs"), Exception)  # type: ignore[arg-type]
    assert access.seen == []


def test_emit_from_a_worker_thread_reaches_the_queue() -> None:
    sink = Sink()

    class Threaded:
        stage = "pre"

        async def check(self, value: Any, context: RunContext) -> Any:
            def report() -> None:
                context.emit(
                    "policy_event",
                    {
                        "stage": "pre",
                        "policy": "t",
                        "action": "flag",
                        "matches": 1,
                        "duration_ms": 0.0,
                    },
                )

            await asyncio.to_thread(report)
            return value

    pipeline = build(Agent(), policies={"t": Threaded()}, sinks={"s": sink})

    async def main() -> None:
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert [e["event"] for e in sink.events].count("policy_event") == 1


def test_run_ids_are_unique_hex_and_differ_in_a_forked_child() -> None:
    import os

    from agentdock_runtime.events import new_run_id

    ids = {new_run_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_run_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    parent = new_run_id()
    assert len(child) == 32 and child not in ids and child != parent


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))
def test_event_timestamps_are_utc_iso_with_microseconds(unix_nano: int) -> None:
    from datetime import UTC, datetime

    from agentdock_runtime.events import envelope

    stamp = envelope("run_end", "a", {}, unix_nano=unix_nano)["timestamp"]
    expected = datetime.fromtimestamp(unix_nano // 1000 / 1e6, UTC)
    assert stamp.endswith("Z") and len(stamp) == 27
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((parsed - expected).total_seconds()) < 1e-6


def test_a_hanging_sink_does_not_hold_back_the_others() -> None:
    hanging, good = Sink("hang"), Sink()
    pipeline = build(Agent(), sinks={"hang": hanging, "good": good}, sink_timeout=60.0)

    async def main() -> None:
        for _ in range(3):
            await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        for _ in range(500):  # the good sink is served while the other hangs for a minute
            if len(good.events) == 6:
                break
            await asyncio.sleep(0.01)
        await pipeline.aclose(timeout=0.2)

    run(main())
    assert len(good.events) == 6
    assert hanging.events == []


def test_a_run_reports_at_most_max_run_events() -> None:
    from agentdock_runtime.pipeline import MAX_RUN_EVENTS

    sink = Sink()

    class Chatty:
        stage = "pre"

        def check(self, value: Any, context: RunContext) -> Any:
            for n in range(MAX_RUN_EVENTS + 50):
                context.emit(
                    "policy_event",
                    {
                        "stage": "pre",
                        "policy": "chatty",
                        "action": "flag",
                        "matches": n,
                        "duration_ms": 0.0,
                    },
                )
            return value

    pipeline = build(Agent(), policies={"chatty": Chatty()}, sinks={"s": sink})

    async def main() -> None:
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    kinds = [e["event"] for e in sink.events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end", "start and end always kept"
    assert len(sink.events) == MAX_RUN_EVENTS + 1
    assert pipeline.telemetry_stats.dropped == 51
    assert pipeline.telemetry_drops() == {"s": 51}, "counted for the sink, by its name"


class Picky(Sink):
    """A sink that uses run_end events only."""

    wants = frozenset({"run_end"})


def test_only_the_events_some_sink_wants_are_built() -> None:
    picky = Picky()
    pipeline = build(Agent(), policies={"count": Counting()}, sinks={"picky": picky})
    assert pipeline._steps == frozenset()

    async def main() -> None:
        await pipeline.invoke(b'{"text": "x"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert [e["event"] for e in picky.events] == ["run_end"]


def test_a_sink_without_wants_gets_every_event() -> None:
    picky, plain = Picky(), Sink()
    pipeline = build(
        Agent(), policies={"count": Counting()}, sinks={"picky": picky, "plain": plain}
    )
    assert pipeline._steps == {"node_event", "tool_event", "model_event"}

    async def main() -> None:
        await pipeline.invoke(b'{"text": "x"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert [e["event"] for e in plain.events] == ["run_start", "policy_event", "run_end"]
    assert [e["event"] for e in picky.events] == ["run_start", "policy_event", "run_end"]


class Cancelling(Sink):
    """A sink whose emit raises CancelledError of its own (a bug in a sink)."""

    async def emit(self, events: list[Mapping[str, Any]]) -> None:
        raise asyncio.CancelledError


def test_a_sink_raising_cancelled_error_neither_stops_its_drain_nor_the_others() -> None:
    bad, good = Cancelling(), Sink()
    pipeline = build(Agent(), sinks={"bad": bad, "good": good})

    async def main() -> None:
        for _ in range(5):
            await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
            await asyncio.sleep(0)
        await pipeline.aclose()

    run(main())
    assert len(good.events) == 10
    assert pipeline.telemetry_stats.sink_errors >= 1


def test_the_callers_sampled_flag_is_kept() -> None:
    sampled = parse_traceparent(TRACEPARENT)
    unsampled = parse_traceparent(TRACEPARENT[:-2] + "00")
    assert sampled is not None and sampled.sampled is True
    assert unsampled is not None and unsampled.sampled is False
    sink = Sink()
    pipeline = build(Agent(), sinks={"s": sink})

    async def main() -> None:
        headers = {**GOOD, "traceparent": TRACEPARENT[:-2] + "00"}
        await pipeline.invoke(b'{"text": "a"}', headers=headers)
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    flags = [e["data"]["parent_sampled"] for e in sink.events if e["event"] == "run_end"]
    assert flags == [False, True]
