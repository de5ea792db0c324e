"""Cost of a conversation turn per checkpointer: one ``ainvoke`` (or ``invoke``) of a two-node
graph on a thread that already has turns, so each turn reads the thread and writes its
checkpoints.

    uv run python benchmarks/checkpointers.py [--turns 300] [--trials 5] [--redis-url URL]

Without ``--redis-url`` a throwaway ``redis-server`` is started on a free port (persistence
off). Measured in one run (figures move between machines; compare the ratios):
- memory: ``InMemorySaver``, the floor (no I/O)
- sqlite: the runtime's ``SqliteCheckpointer`` (a file; async calls in worker threads)
- redis: ``RedisCheckpointSaver`` as ``checkpointer: redis`` runs it: ``ainvoke`` on its
  asyncio client, ``invoke`` on its synchronous client
- redis in threads: the same saver's synchronous calls run in worker threads for
  ``ainvoke`` (how the SQLite and Postgres savers serve async runs): what the asyncio
  client saves, or costs
- "16 at once": 16 conversations run together on one event loop, the turns shared out

Each figure is the median over the trials of µs per turn, wall time and this process's
CPU time (``time.process_time``: the Redis server's own CPU is not in it).

On loopback, worker threads cost less CPU per turn than redis-py's asyncio client for one
conversation at a time (0.71–0.92× in five runs of 2026-12 on 2 cores shared with other
work, load average up to 14, so wall times there mean little), and about the same with 16
at once (0.74–1.04×): the asyncio client's stream-based reader is slower than the
synchronous socket one. ``checkpointer: redis`` keeps the asyncio client all the same: a
run's checkpoint calls then wait on the event loop, not for one of the default executor's
few threads (``min(32, cores + 4)``), which caps how many calls are in flight once Redis is
a network round trip away rather than on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

from agentdock_plugins.langgraph.checkpoint import SqliteCheckpointer, ThreadedAsync
from agentdock_plugins.langgraph.redischeckpoint import RedisCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    text: str
    seen: Annotated[list[str], operator.add]
    count: int


class ThreadedRedis(ThreadedAsync, RedisCheckpointSaver):
    """The Redis saver with its async calls in worker threads (the comparison only)."""


def build(saver: Any) -> Any:
    graph = StateGraph(State)
    graph.add_node("note", lambda s: {"seen": [s["text"]]})
    graph.add_node("tally", lambda s: {"count": len(s["seen"])})
    graph.add_edge(START, "note")
    graph.add_edge("note", "tally")
    graph.add_edge("tally", END)
    return graph.compile(checkpointer=saver)


def measure(run: Callable[[int], None], turns: int, trials: int) -> tuple[float, float]:
    run(20)  # warm: connections, imports, the thread's first checkpoints
    walls, cpus = [], []
    for _ in range(trials):
        wall, cpu = time.perf_counter(), time.process_time()
        run(turns)
        walls.append((time.perf_counter() - wall) / turns * 1e6)
        cpus.append((time.process_time() - cpu) / turns * 1e6)
    return statistics.median(walls), statistics.median(cpus)


def async_turns(graph: Any, loop: asyncio.AbstractEventLoop) -> Callable[[int], None]:
    config = {"configurable": {"thread_id": f"bench-{id(graph)}"}}

    async def turns(n: int) -> None:
        for i in range(n):
            await graph.ainvoke({"text": str(i)}, config)

    return lambda n: loop.run_until_complete(turns(n))


def concurrent_turns(
    graph: Any, loop: asyncio.AbstractEventLoop, threads: int
) -> Callable[[int], None]:
    """``threads`` conversations at once (as a server sees them), ``n`` turns in all."""

    async def conversation(thread: int, n: int) -> None:
        config = {"configurable": {"thread_id": f"bench-{id(graph)}-{thread}"}}
        for i in range(n):
            await graph.ainvoke({"text": str(i)}, config)

    async def turns(n: int) -> None:
        share = max(1, n // threads)
        await asyncio.gather(*(conversation(t, share) for t in range(threads)))

    return lambda n: loop.run_until_complete(turns(n))


def sync_turns(graph: Any) -> Callable[[int], None]:
    config = {"configurable": {"thread_id": f"bench-sync-{id(graph)}"}}

    def turns(n: int) -> None:
        for i in range(n):
            graph.invoke({"text": str(i)}, config)

    return turns


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", workdir]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, redis_server(args.redis_url) as url:
        sqlite = SqliteCheckpointer.open(Path(tmp) / "checkpoints.db")
        prefix = f"bench:{time.time_ns()}"
        redis_saver = RedisCheckpointSaver(url, prefix=prefix)
        threaded = ThreadedRedis(url, prefix=prefix)
        cases: list[tuple[str, Callable[[int], None]]] = [
            ("memory, ainvoke", async_turns(build(InMemorySaver()), loop)),
            ("sqlite, ainvoke", async_turns(build(sqlite), loop)),
            ("redis, ainvoke", async_turns(build(redis_saver), loop)),
            ("redis in threads, ainvoke", async_turns(build(threaded), loop)),
            ("memory, 16 at once", concurrent_turns(build(InMemorySaver()), loop, 16)),
            ("sqlite, 16 at once", concurrent_turns(build(sqlite), loop, 16)),
            ("redis, 16 at once", concurrent_turns(build(redis_saver), loop, 16)),
            ("redis in threads, 16 at once", concurrent_turns(build(threaded), loop, 16)),
            ("memory, invoke", sync_turns(build(InMemorySaver()))),
            ("sqlite, invoke", sync_turns(build(sqlite))),
            ("redis, invoke", sync_turns(build(redis_saver))),
        ]
        for name, run in cases:
            wall, cpu = measure(run, args.turns, args.trials)
            rows.append((name, wall, cpu))
        loop.run_until_complete(redis_saver.aclose())
        threaded.close()
        sqlite.close()
    loop.close()
    by = {n: (w, c) for n, w, c in rows}
    floor = {mode: by[f"memory, {mode}"] for mode in ("ainvoke", "16 at once", "invoke")}
    print(f"{'checkpointer':30} {'wall µs/turn':>13} {'cpu µs/turn':>12} {'wall × memory':>14}")
    for name, wall, cpu in rows:
        base = floor[name.rsplit(", ", 1)[1]][0]
        print(f"{name:30} {wall:13.0f} {cpu:12.0f} {wall / base:14.2f}")
    for mode in ("ainvoke", "16 at once"):
        native, threads = by[f"redis, {mode}"], by[f"redis in threads, {mode}"]
        print(
            f"redis {mode}, worker threads against the asyncio client: "
            f"wall {threads[0] / native[0]:.2f}×, cpu {threads[1] / native[1]:.2f}× "
            "(above 1: the asyncio client is cheaper)"
        )


if __name__ == "__main__":
    main()
