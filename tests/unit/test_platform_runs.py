"""The Platform API's run bookkeeping without a server: frames, heartbeats, records."""

from __future__ import annotations

import asyncio

import pytest
from agentdock_plugins.litestar.platform.bodies import RunCreate, decode_body
from agentdock_plugins.litestar.platform.encoding import HEARTBEAT, encode, sse_event
from agentdock_plugins.litestar.platform.records import MemoryRecords, RunRecord, ThreadRecord
from agentdock_plugins.litestar.platform.routes import assistant_id, small_int
from agentdock_plugins.litestar.platform.runs import RunHandle
from agentdock_runtime import InputValidationError, MalformedJSONError


def record(run_id: str = "r1", thread_id: str = "t1") -> RunRecord:
    return RunRecord(run_id, thread_id, "a", None, "reject")


def test_an_idle_stream_sends_heartbeats_then_its_frames() -> None:
    async def scenario() -> list[bytes]:
        handle = RunHandle(record(), None)
        got: list[bytes] = []

        async def follow() -> None:
            async for frame in handle.follow(0, heartbeat=0.01):
                got.append(frame)

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.05)
        handle.add("metadata", {"run_id": "r1", "attempt": 1})
        handle.done.set()
        handle.add("values", {"x": 1})
        await asyncio.wait_for(task, 5)
        return got

    frames = asyncio.run(scenario())
    assert frames[0] == HEARTBEAT
    assert frames[-2:] == [
        sse_event("metadata", {"run_id": "r1", "attempt": 1}, 1),
        sse_event("values", {"x": 1}, 2),
    ]


def test_a_late_follower_gets_the_frames_after_its_last_event_id() -> None:
    async def scenario() -> list[bytes]:
        handle = RunHandle(record(), None)
        for n in range(3):
            handle.add("updates", {"n": n})
        handle.done.set()
        return [frame async for frame in handle.follow(1, heartbeat=1)]

    assert asyncio.run(scenario()) == [
        sse_event("updates", {"n": 1}, 2),
        sse_event("updates", {"n": 2}, 3),
    ]


def test_records_are_bounded_and_forget_a_thread_with_its_runs() -> None:
    async def scenario() -> None:
        records = MemoryRecords(max_threads=2, max_runs=2)
        for tid in ("a", "b", "c"):
            await records.put_thread(ThreadRecord(tid, None))
        assert [t.thread_id for t in await records.threads(None)] == ["c", "b"]
        for n in range(3):
            await records.put_run(record(f"r{n}", "c"))
        assert [r.run_id for r in await records.runs("c")] == ["r2", "r1"]
        assert await records.get_run("c", "r0") is None
        assert await records.delete_thread("c") and await records.runs("c") == []
        assert await records.get_run("zz", "r1") is None

    asyncio.run(scenario())


def test_bodies_are_refused_with_a_path_or_as_malformed() -> None:
    with pytest.raises(InputValidationError) as wrong:
        decode_body(b'{"assistant_id": "a", "stream_subgraphs": "yes"}', RunCreate)
    assert wrong.value.path == "stream_subgraphs"
    with pytest.raises(InputValidationError) as missing:
        decode_body(b"{}", RunCreate)
    assert "assistant_id" in missing.value.detail
    with pytest.raises(MalformedJSONError):
        decode_body(b"{nope", RunCreate)
    with pytest.raises(MalformedJSONError):
        decode_body(b"", RunCreate, empty_ok=False)
    with pytest.raises(InputValidationError):
        decode_body(b'{"assistant_id": "a", "stream_mode": "astream_log"}', RunCreate).modes()


def test_the_assistant_id_is_the_one_langgraph_gives_the_graph() -> None:
    # langgraph-api: uuid5(UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), graph_id).
    assert assistant_id("agent") == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"


def test_state_that_json_cannot_hold_is_sent_as_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert encode({"a": Opaque(), "b": {1, 2}}) in (
        b'{"a":"opaque","b":[1,2]}',
        b'{"a":"opaque","b":[2,1]}',
    )


def test_query_numbers_are_ascii_and_short() -> None:
    assert small_int("42") == 42 and small_int("0") == 0
    for text in ("", "²", "٣", "-1", "1e3", "9" * 10, "9" * 5000):
        assert small_int(text) is None, text


class _FailingEnd(MemoryRecords):
    """Records whose store fails when a run ends (a database gone mid-run)."""

    async def finish_run(self, record: RunRecord, result: dict[str, object]) -> None:
        raise RuntimeError("the store is down")


class _Pipeline:
    async def invoke(self, payload: object, **kwargs: object) -> object:
        return type("Result", (), {"run_id": "p1", "trace_id": "0" * 32, "output": {"ok": True}})()


def test_a_store_failing_at_a_runs_end_still_ends_it_for_those_waiting() -> None:
    from agentdock_plugins.langgraph.platformrun import PlatformRun
    from agentdock_plugins.litestar.platform.runs import Runs

    async def scenario() -> tuple[bool, object, bool]:
        runs = Runs(_Pipeline(), _FailingEnd(), None)  # type: ignore[arg-type]
        thread = ThreadRecord("t1", None)
        handle = await runs.start(record(), thread, PlatformRun(), {}, {}, wait=True)
        await asyncio.wait_for(handle.done.wait(), 5)
        return handle.done.is_set(), handle.output, runs.busy("t1")

    assert asyncio.run(scenario()) == (True, {"ok": True}, False)


def test_a_thread_made_again_during_a_run_keeps_its_own_record() -> None:
    from agentdock_plugins.langgraph.platformrun import PlatformRun
    from agentdock_plugins.litestar.platform.runs import Runs

    release = asyncio.Event()

    class Slow(_Pipeline):
        async def invoke(self, payload: object, **kwargs: object) -> object:
            await release.wait()
            return await super().invoke(payload, **kwargs)

    async def scenario() -> ThreadRecord | None:
        records = MemoryRecords()
        runs = Runs(Slow(), records, None)  # type: ignore[arg-type]
        old = ThreadRecord("t1", "ann", metadata={"old": True})
        await records.put_thread(old)
        handle = await runs.start(record(), old, PlatformRun(), {}, {}, wait=True)
        await asyncio.sleep(0)
        await records.delete_thread("t1")
        await asyncio.sleep(0.001)  # a later created_at
        await records.put_thread(ThreadRecord("t1", "bob", metadata={"new": True}))
        release.set()
        await asyncio.wait_for(handle.done.wait(), 5)
        return await records.get_thread("t1")

    found = asyncio.run(scenario())
    assert found is not None and found.owner == "bob" and found.metadata == {"new": True}


def test_finished_runs_are_kept_up_to_the_bound_and_a_start_reads_none_of_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentdock_plugins.langgraph.platformrun import PlatformRun
    from agentdock_plugins.litestar.platform import runs as runs_module
    from agentdock_plugins.litestar.platform.runs import Runs

    monkeypatch.setattr(runs_module, "MAX_FINISHED", 3)

    class Untouchable:
        """A finished run's ``done``, which a run's start must not read."""

        def is_set(self) -> bool:
            raise AssertionError("a run's start scanned the finished runs")

    async def scenario() -> tuple[list[str], list[str]]:
        runs = Runs(_Pipeline(), MemoryRecords(), None)  # type: ignore[arg-type]
        ids = [f"r{n}" for n in range(6)]
        for run_id in ids:
            handle = await runs.start(record(run_id, ""), None, PlatformRun(), {}, {}, wait=True)
            await asyncio.wait_for(handle.done.wait(), 5)
        kept = [run_id for run_id in ids if runs.handle(run_id) is not None]
        for run_id in kept:
            found = runs.handle(run_id)
            assert found is not None
            found.done = Untouchable()  # type: ignore[assignment]
        late = await runs.start(record("late", ""), None, PlatformRun(), {}, {}, wait=True)
        await asyncio.wait_for(late.done.wait(), 5)
        return kept, [run_id for run_id in [*ids, "late"] if runs.handle(run_id) is not None]

    kept, after = asyncio.run(scenario())
    assert kept == ["r3", "r4", "r5"]  # the latest MAX_FINISHED finished runs
    assert after == ["r4", "r5", "late"]
