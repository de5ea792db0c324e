"""One behaviour for every checkpointer: ``checkpointer: redis``'s saver on a plain
``redis-server`` (no modules) is held to what LangGraph's ``InMemorySaver`` and SQLite
savers do. The same tests run against each (put/get/list with ``before``, ``limit`` and
``filter``, parent configs, pending writes and their order, namespaces, interrupts and
resume through a real graph, ``delete_thread``), and LangGraph's own conformance suite
(langgraph-checkpoint-conformance) runs against all three."""

from __future__ import annotations

import asyncio
import operator
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import pytest
import redis
from agentdock_plugins.langgraph.checkpoint import SqliteCheckpointer, make_checkpointer
from agentdock_plugins.langgraph.redischeckpoint import RedisCheckpointSaver, thread_base
from agentdock_plugins.langgraph.sharedcheckpoint import (
    CHECKPOINT_URL_ENV,
    CheckpointerUnavailable,
    open_redis,
)
from agentdock_runtime import StateStoreUnavailable
from langgraph.checkpoint.base import ERROR, BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

if TYPE_CHECKING:
    from redisserver import RedisServer

pytest_plugins = ("redisserver",)

KINDS = ["memory", "sqlite", "redis"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest) -> str:
    """The module's Redis server, asked for only by the Redis cases."""
    return str(request.getfixturevalue("redis_url")) if kind == "redis" else ""


def redis_saver(url: str) -> RedisCheckpointSaver:
    """A saver with keys of its own, so that tests sharing one server never meet."""
    return RedisCheckpointSaver(url, prefix=f"test:{uuid.uuid4().hex}")


@asynccontextmanager
async def async_saver(kind: str, tmp_path: Path, url: str) -> AsyncIterator[Any]:
    """The saver an ``ainvoke`` run uses: in-memory, ``AsyncSqliteSaver`` or Redis."""
    if kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        async with AsyncSqliteSaver.from_conn_string(
            str(tmp_path / f"{uuid.uuid4().hex}.db")
        ) as saver:
            yield saver
    else:
        saver = redis_saver(url)
        try:
            yield saver
        finally:
            await saver.aclose()


@contextmanager
def sync_saver(kind: str, tmp_path: Path, url: str) -> Iterator[Any]:
    """The saver an ``invoke`` run uses: in-memory, the runtime's SQLite one, or Redis."""
    if kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        saver = SqliteCheckpointer.open(tmp_path / f"{uuid.uuid4().hex}.db")
        try:
            yield saver
        finally:
            saver.close()
    else:
        redis_one = redis_saver(url)
        try:
            yield redis_one
        finally:
            redis_one.close()


# -- LangGraph's conformance suite --------------------------------------------------------------


def test_langgraph_conformance_suite(kind: str, tmp_path: Path, url: str) -> None:
    @checkpointer_test(name=f"agentdock-{kind}")
    async def factory() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        async with async_saver(kind, tmp_path, url) as saver:
            yield saver

    report = asyncio.run(validate(factory))
    failed = {name: r.failures for name, r in report.results.items() if r.passed is False}
    assert report.passed_all_base(), failed
    # Every base capability ran tests (none skipped as undetected).
    for name in ("put", "put_writes", "get_tuple", "list", "delete_thread"):
        assert report.results[name].tests_passed > 0, name


# -- put, get, list --------------------------------------------------------------------------


def checkpoint(**values: Any) -> Any:
    made = empty_checkpoint()
    made["id"] = str(uuid6(clock_seq=-1))
    made["channel_values"] = dict(values)
    return made


async def put(
    saver: Any,
    thread: str,
    parent: str | None,
    versions: dict[str, Any],
    values: dict[str, Any],
    metadata: dict[str, Any],
    ns: str = "",
    changed: tuple[str, ...] | None = None,
) -> str:
    """A checkpoint of ``values`` at ``versions``, as LangGraph puts one: every channel's
    value, and as new versions only the ``changed`` channels (default: all)."""
    made = checkpoint(**values)
    made["channel_versions"] = dict(versions)
    configurable: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if parent:
        configurable["checkpoint_id"] = parent
    new = {channel: versions[channel] for channel in (changed or values)}
    saved = await saver.aput({"configurable": configurable}, made, metadata, new)
    return str(saved["configurable"]["checkpoint_id"])


def test_put_get_and_list(kind: str, tmp_path: Path, url: str) -> None:
    async def body() -> None:
        async with async_saver(kind, tmp_path, url) as saver:
            v = [saver.get_next_version(None, None)]
            for _ in range(3):
                v.append(saver.get_next_version(v[-1], None))
            t = "thread-1"
            c1 = await put(saver, t, None, {"a": v[0], "b": v[0]}, {"a": 1, "b": "x"}, {
                "source": "input", "step": -1})  # fmt: skip
            c2 = await put(saver, t, c1, {"a": v[1], "b": v[0]}, {"a": 2, "b": "x"}, {
                "source": "loop", "step": 0}, changed=("a",))  # fmt: skip
            c3 = await put(saver, t, c2, {"a": v[2], "b": v[0]}, {"a": 3, "b": "x"}, {
                "source": "loop", "step": 1, "tag": {"team": "blue"}}, changed=("a",))  # fmt: skip
            child = await put(saver, t, None, {"a": v[0]}, {"a": 10}, {"source": "input"}, "sub")
            await put(saver, "thread-2", None, {"a": v[0]}, {"a": 0}, {"source": "input"})

            config: Any = {"configurable": {"thread_id": t, "checkpoint_ns": ""}}
            latest = await saver.aget_tuple(config)
            assert latest.config["configurable"]["checkpoint_id"] == c3
            # An unchanged channel is read at the version the checkpoint names (a saver
            # that keeps each channel once per version finds it where c1 stored it).
            assert latest.checkpoint["channel_values"] == {"a": 3, "b": "x"}
            assert latest.parent_config["configurable"]["checkpoint_id"] == c2
            assert latest.metadata["tag"] == {"team": "blue"}

            at = {"configurable": {"thread_id": t, "checkpoint_ns": "", "checkpoint_id": c1}}
            first = await saver.aget_tuple(at)
            assert first.checkpoint["channel_values"] == {"a": 1, "b": "x"}
            assert first.parent_config is None
            assert first.metadata == {"source": "input", "step": -1}

            async def ids(cfg: Any, **options: Any) -> list[str]:
                return [
                    c.config["configurable"]["checkpoint_id"]
                    async for c in saver.alist(cfg, **options)
                ]

            assert await ids(config) == [c3, c2, c1]
            assert await ids(config, limit=2) == [c3, c2]
            assert await ids(config, before={"configurable": {"checkpoint_id": c3}}) == [c2, c1]
            before = {"configurable": {"checkpoint_id": c2}}
            assert await ids(config, before=before, limit=5) == [c1]
            assert await ids(config, filter={"source": "loop"}) == [c3, c2]
            assert await ids(config, filter={"source": "loop"}, limit=1) == [c3]
            assert await ids(config, filter={"step": 0}) == [c2]
            assert await ids(config, filter={"source": "nothing"}) == []
            # No namespace named: the thread's checkpoints of every namespace.
            everywhere = await ids({"configurable": {"thread_id": t}})
            assert sorted(everywhere) == sorted([c1, c2, c3, child])
            sub = {"configurable": {"thread_id": t, "checkpoint_ns": "sub"}}
            assert await ids(sub) == [child]
            assert (await saver.aget_tuple(sub)).checkpoint["channel_values"] == {"a": 10}
            assert await ids({"configurable": {"thread_id": "nobody"}}) == []
            assert await saver.aget_tuple({"configurable": {"thread_id": "nobody"}}) is None
            gone = {"configurable": {"thread_id": t, "checkpoint_ns": "", "checkpoint_id": "x"}}
            assert await saver.aget_tuple(gone) is None

    asyncio.run(body())


def test_pending_writes_order_and_replacement(kind: str, tmp_path: Path, url: str) -> None:
    """Writes come back in ``writes_sort_key`` order (task path, then task id, then index),
    whatever order they were stored in; a regular write is kept, a special one replaced."""

    async def body() -> None:
        async with async_saver(kind, tmp_path, url) as saver:
            v = saver.get_next_version(None, None)
            cid = await put(saver, "w", None, {"a": v}, {"a": 1}, {"source": "input"})
            ids = {"thread_id": "w", "checkpoint_ns": "", "checkpoint_id": cid}
            config: Any = {"configurable": ids}
            # Task ids in the reverse order of their paths: sorting by id alone would fail.
            await saver.aput_writes(config, [("x", 1), ("y", 2)], "task-a", "~__pregel_pull, z")
            await saver.aput_writes(config, [("x", 3)], "task-z", "~__pregel_pull, a")
            await saver.aput_writes(config, [("x", 99)], "task-z", "~__pregel_pull, a")
            await saver.aput_writes(config, [(ERROR, "first")], "task-z", "~__pregel_pull, a")
            await saver.aput_writes(config, [(ERROR, "second")], "task-z", "~__pregel_pull, a")
            await saver.aput_writes(config, [("input", "graph")], "task-m", "")
            found = await saver.aget_tuple(config)
            assert found.pending_writes == [
                ("task-m", "input", "graph"),
                ("task-z", ERROR, "second"),
                ("task-z", "x", 3),
                ("task-a", "x", 1),
                ("task-a", "y", 2),
            ]
            listed = [c async for c in saver.alist(config)]
            assert listed[0].pending_writes == found.pending_writes

    asyncio.run(body())


# -- a real graph: parallel branches, a subgraph that interrupts, resume -----------------------


class State(TypedDict, total=False):
    text: str
    seen: Annotated[list[str], operator.add]
    name: str


class Question(TypedDict, total=False):
    """The subgraph's state: it shares ``text`` and ``name``, not the list it would add to."""

    text: str
    name: str


def ask(state: Question) -> Question:
    return {"name": interrupt(f"who said {state['text']}?")}


def build(saver: Any) -> Any:
    sub = StateGraph(Question)
    sub.add_node("ask", ask)
    sub.add_edge(START, "ask")
    sub.add_edge("ask", END)
    graph = StateGraph(State)
    graph.add_node("note", lambda s: {"seen": [s["text"]]})
    graph.add_node("left", lambda s: {"seen": ["left"]})
    graph.add_node("right", lambda s: {"seen": ["right"]})
    graph.add_node("sub", sub.compile())
    graph.add_node("greet", lambda s: {"seen": [f"hello {s['name']}"]})
    graph.add_edge(START, "note")
    for branch in ("left", "right", "sub"):
        graph.add_edge("note", branch)
        graph.add_edge(branch, "greet")
    graph.add_edge("greet", END)
    return graph.compile(checkpointer=saver)


def snapshot_view(state: Any) -> tuple[Any, ...]:
    """What a client sees of a state, without ids and times."""
    return (
        state.values,
        state.next,
        state.metadata.get("step"),
        state.metadata.get("source"),
        [(t.name, [i.value for i in t.interrupts]) for t in state.tasks],
    )


def result_view(result: dict[str, Any]) -> dict[str, Any]:
    """A run's result, its interrupts by value (their ids are random per run)."""
    found = result.get("__interrupt__")
    return {**result, "__interrupt__": [i.value for i in found]} if found else result


async def ascenario(saver: Any) -> list[Any]:
    graph = build(saver)
    config: Any = {"configurable": {"thread_id": "conversation"}}
    trace: list[Any] = []
    first = await graph.ainvoke({"text": "hi"}, config)
    trace.append([i.value for i in first["__interrupt__"]])
    state = await graph.aget_state(config, subgraphs=True)
    trace.append(snapshot_view(state))
    trace.append(snapshot_view(state.tasks[-1].state))  # the subgraph's own state
    trace.append(result_view(await graph.ainvoke(Command(resume="Ada"), config)))
    trace.append([snapshot_view(s) async for s in graph.aget_state_history(config)])
    trace.append(result_view(await graph.ainvoke({"text": "again"}, config)))
    return trace


def scenario(saver: Any) -> list[Any]:
    graph = build(saver)
    config: Any = {"configurable": {"thread_id": "conversation"}}
    trace: list[Any] = []
    first = graph.invoke({"text": "hi"}, config)
    trace.append([i.value for i in first["__interrupt__"]])
    state = graph.get_state(config, subgraphs=True)
    trace.append(snapshot_view(state))
    trace.append(snapshot_view(state.tasks[-1].state))
    trace.append(result_view(graph.invoke(Command(resume="Ada"), config)))
    trace.append([snapshot_view(s) for s in graph.get_state_history(config)])
    trace.append(result_view(graph.invoke({"text": "again"}, config)))
    return trace


def test_interrupt_and_resume_with_ainvoke(kind: str, tmp_path: Path, url: str) -> None:
    async def body() -> list[Any]:
        async with async_saver(kind, tmp_path, url) as saver:
            return await ascenario(saver)

    trace = asyncio.run(body())
    assert trace[0] == ["who said hi?"]
    assert trace[1][1] == ("sub",)
    assert trace[2][4] == [("ask", ["who said hi?"])]
    assert trace[3]["name"] == "Ada"
    assert trace[3]["seen"] == ["hi", "left", "right", "hello Ada"]
    assert trace == asyncio.run(ascenario(InMemorySaver()))


def test_interrupt_and_resume_with_invoke(kind: str, tmp_path: Path, url: str) -> None:
    with sync_saver(kind, tmp_path, url) as saver:
        trace = scenario(saver)
    assert trace[3]["seen"] == ["hi", "left", "right", "hello Ada"]
    assert trace == scenario(InMemorySaver())


def test_delete_thread(kind: str, tmp_path: Path, url: str) -> None:
    async def body() -> None:
        async with async_saver(kind, tmp_path, url) as saver:
            graph = build(saver)
            for thread in ("doomed", "kept"):
                await graph.ainvoke({"text": thread}, {"configurable": {"thread_id": thread}})
            await saver.adelete_thread("doomed")
            doomed = {"configurable": {"thread_id": "doomed"}}
            assert await saver.aget_tuple(doomed) is None
            assert [c async for c in saver.alist(doomed)] == []
            kept = await graph.aget_state({"configurable": {"thread_id": "kept"}})
            assert kept.values["seen"] == ["kept", "left", "right"]
            threads = {c.config["configurable"]["thread_id"] async for c in saver.alist(None)}
            assert threads == {"kept"}
            if isinstance(saver, RedisCheckpointSaver):
                client = redis.Redis.from_url(url)
                left = client.keys(f"{thread_base(saver.prefix, 'doomed')}*")
                assert left == [], "every key of the thread is gone"
                client.close()

    asyncio.run(body())


# -- Redis only ------------------------------------------------------------------------------


def test_redis_saver_serves_several_event_loops(redis_url: str) -> None:
    """An asyncio connection belongs to its loop: a saver used from a second loop (a test
    client, a worker's own loop) must not reuse the first loop's connections."""
    saver = redis_saver(redis_url)
    graph = build(saver)
    config: Any = {"configurable": {"thread_id": "loops"}}
    try:
        asyncio.run(graph.ainvoke({"text": "one"}, config))
        resumed = asyncio.run(graph.ainvoke(Command(resume="Bo"), config))
        assert resumed["seen"] == ["one", "left", "right", "hello Bo"]
        assert graph.get_state(config).values == resumed
    finally:
        saver.close()


def test_redis_keys_of_odd_thread_ids_never_collide(redis_url: str) -> None:
    """Thread ids and namespaces with the key separator or braces stay apart."""

    async def body(make: Callable[[], Any]) -> list[Any]:
        saver = make()
        seen = []
        for thread in ("a:b", "a", "{a}", "a}:b"):
            v = saver.get_next_version(None, None)
            await put(saver, thread, None, {"a": v}, {"a": thread}, {"source": "input"}, "n:1")
        for thread in ("a:b", "a", "{a}", "a}:b"):
            cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": "n:1"}}
            seen.append((await saver.aget_tuple(cfg)).checkpoint["channel_values"])
            seen.append(
                len([c async for c in saver.alist({"configurable": {"thread_id": thread}})])
            )
        return seen

    expected = asyncio.run(body(InMemorySaver))
    assert expected == [{"a": "a:b"}, 1, {"a": "a"}, 1, {"a": "{a}"}, 1, {"a": "a}:b"}, 1]
    assert asyncio.run(body(lambda: redis_saver(redis_url))) == expected


def test_redis_saver_recovers_from_a_server_restart(
    redis_servers: Callable[..., RedisServer],
) -> None:
    """Connections pooled before a restart are dead; neither client fails a call on them
    once the server is back (graphs run with ``invoke`` and with ``ainvoke`` alike)."""
    server = redis_servers()
    saver = redis_saver(server.url)
    graph = build(saver)

    async def concurrently(texts: list[str]) -> list[Any]:
        # Several runs at once: several pooled asyncio connections.
        return await asyncio.gather(
            *(graph.ainvoke({"text": t}, {"configurable": {"thread_id": t}}) for t in texts)
        )

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(concurrently(["a1", "a2", "a3"]))
        graph.invoke({"text": "s1"}, {"configurable": {"thread_id": "s1"}})
        server.kill()
        with pytest.raises(StateStoreUnavailable):  # the run's 503, not the agent's failure
            graph.invoke({"text": "s2"}, {"configurable": {"thread_id": "s2"}})
        redis_servers(port=server.port)
        done = loop.run_until_complete(concurrently(["b1", "b2", "b3"]))
        assert [d["seen"][0] for d in done] == ["b1", "b2", "b3"]
        again = graph.invoke({"text": "s3"}, {"configurable": {"thread_id": "s3"}})
        assert again["seen"][:1] == ["s3"]
        loop.run_until_complete(saver.aclose())
    finally:
        loop.close()


# -- checkpointer: redis in a Dockfile -----------------------------------------------------------


def test_the_dockfile_choice_opens_the_plain_saver(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHECKPOINT_URL_ENV, redis_url)
    saver = make_checkpointer({"checkpointer": "redis"}, tmp_path)
    try:
        assert isinstance(saver, RedisCheckpointSaver)
        assert scenario(saver) == scenario(InMemorySaver())
    finally:
        assert isinstance(saver, RedisCheckpointSaver)
        saver.close()


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("http://:{pw}@127.0.0.1:6379/0", "must specify one of the following schemes"),
        ("redis://:{pw}@127.0.0.1:notaport/0", "Port could not be cast"),
        ("redis://:{pw}@127.0.0.1:{port}/0", "Connection refused"),
        ("rediss://user:{pw}@127.0.0.1:{port}/0", "Connection refused"),
    ],
    ids=["scheme", "port", "down", "tls-down"],
)
def test_an_unusable_url_is_one_line_without_the_password(url: str, cause: str) -> None:
    planted = "pl4nted-url-passw0rd"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(CheckpointerUnavailable) as caught:
        open_redis(url.format(pw=planted, port=port))
    text = str(caught.value)
    assert text.startswith("checkpointer redis: cannot use ")
    assert cause in text
    assert "\n" not in text
    assert planted not in text
