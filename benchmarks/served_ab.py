"""Two checkouts of AgentDock served at once, loaded in turn: server CPU per ``runs.wait``.

    uv run --frozen python benchmarks/served_ab.py BASE NEW [--rounds 6] [--duration 3]
        [--loads sdk8,wrk8,sdk32] [--graphs echo] [--new-env NAME=VALUE ...]

``BASE`` and ``NEW`` are two checkouts of this repository, each with its own ``.venv``
(``uv sync --all-packages --frozen`` in each; for the base, e.g. ``git worktree add
/tmp/base <commit>``). Both serve the same graph (benchmarks/langgraph_dev.py's ``echo``
or ``chat``, API-key auth on, one key made in a throw-away ``AGENTDOCK_HOME``) at the same
time, each pinned to core 0; the loads run from this process, pinned to core 1, and take
the two servers in turn, the order swapped every round, so that both see the same
machine: on a shared machine the server's CPU time per call moves with the load by more
than most changes move it, and two runs one after the other compare badly.

A load is ``sdk<C>`` (C langgraph-sdk callers looping on ``runs.wait(None, …)``) or
``wrk<C>`` (``wrk`` with C connections on ``POST /runs/wait``), for ``--duration`` seconds
each. For each load: the median over the rounds of each server's CPU per call (its process
tree's user+system time from ``/proc``) and calls/s, the ratio NEW / BASE, and every
round's CPU figure, whose spread says how far to trust the ratio. ``--new-env`` sets an
environment variable for NEW's server only: with BASE and NEW the same checkout, it
compares a setting (e.g. ``--new-env AGENTDOCK_WORKER_THREADS=2``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from agentdock.registry import open_store
from langgraph_sdk import get_client
from siblings import load

bench = load("langgraph_dev")
harness = bench.harness


def _serve(root: Path, graph: Any, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``agentdock serve`` of ``graph`` from the checkout at ``root``, on core 0."""
    port = harness._free_port()
    dockfile = root / graph.dockfile.relative_to(bench.ROOT)
    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{root} has no .venv: run `uv sync --all-packages --frozen` there")
    command = [str(python), "-m", "agentdock_cli", "serve", str(dockfile)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return bench._start(command, dockfile.parent, env), port


async def _sdk(base: str, key: str, graph: Any, callers: int, duration: float) -> int:
    """Calls made by ``callers`` SDK callers in ``duration`` seconds."""
    client = get_client(url=base, api_key=key)
    await client.runs.wait(None, graph.agent, input=graph.input)
    stop = time.perf_counter() + duration
    done = 0

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await client.runs.wait(None, graph.agent, input=graph.input)
            done += 1

    await asyncio.gather(*(caller() for _ in range(callers)))
    await client.aclose()
    return done


def _once(name: str, pid: int, base: str, key: str, graph: Any, args: Any) -> tuple[float, float]:
    """One load ``name`` on one server: (CPU ms per call, calls/s)."""
    cpu = bench._tree_cpu(pid)
    started = time.perf_counter()
    callers = int(name[3:])
    if name.startswith("sdk"):
        calls = float(asyncio.run(_sdk(base, key, graph, callers, args.duration)))
    else:
        body = {"assistant_id": graph.agent, "input": graph.input}
        wrk = harness._wrk(f"{base}/runs/wait", body, args.duration, callers, {"x-api-key": key})
        calls = wrk["rps"] * args.duration
    elapsed = time.perf_counter() - started
    calls = max(calls, 1.0)
    return (bench._tree_cpu(pid) - cpu) * 1000 / calls, calls / elapsed


def _compare(graph_name: str, args: Any, work: Path) -> None:
    graph = bench.GRAPHS[graph_name]
    home = work / "agentdock-home"
    home.mkdir()
    os.environ["AGENTDOCK_HOME"] = str(home)
    os.environ.pop("AGENTDOCK_DATABASE_URL", None)
    with open_store() as store:
        key = bench.add_key(store, graph.agent, graph.role).key
    servers = {
        "BASE": _serve(Path(args.base).resolve(), graph, dict(os.environ)),
        "NEW": _serve(Path(args.new).resolve(), graph, {**os.environ, **args.new_env}),
    }
    try:
        for label, (_, port) in servers.items():
            harness._wait_ready(harness.Server(label, [], "", {}, ready_path="/ready"), port, 120)
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
            for name in args.loads:
                for label in order:
                    process, port = servers[label]
                    base = f"http://127.0.0.1:{port}"
                    row = _once(name, process.pid, base, key, graph, args)
                    figures.setdefault((label, name), []).append(row)
    finally:
        for process, _ in servers.values():
            harness._stop(process)
    print(f"\n{graph_name} graph, medians of {args.rounds} rounds of {args.duration} s")
    print(f"{'load':8} {'CPU ms/call BASE':>17} {'NEW':>8} {'NEW/BASE':>9}   calls/s BASE    NEW")
    for name in args.loads:
        old, new = figures[("BASE", name)], figures[("NEW", name)]
        cpu_old = statistics.median(row[0] for row in old)
        cpu_new = statistics.median(row[0] for row in new)
        rate_old = statistics.median(row[1] for row in old)
        rate_new = statistics.median(row[1] for row in new)
        print(
            f"{name:8} {cpu_old:17.3f} {cpu_new:8.3f} {cpu_new / cpu_old:8.3f}x"
            f"   {rate_old:12.0f} {rate_new:6.0f} ({rate_new / rate_old:.3f}x)"
        )
        print(f"{'':8} rounds BASE {' '.join(f'{row[0]:.3f}' for row in old)}")
        print(f"{'':8} rounds NEW  {' '.join(f'{row[0]:.3f}' for row in new)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the checkout to compare against")
    parser.add_argument("new", help="the checkout with the change")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--loads", default="sdk8,wrk8,sdk32")
    parser.add_argument("--graphs", default="echo")
    parser.add_argument(
        "--new-env", action="append", default=[], help="NAME=VALUE for NEW's server only"
    )
    args = parser.parse_args()
    if any("=" not in item for item in args.new_env):
        raise SystemExit("--new-env takes NAME=VALUE")
    args.new_env = dict(item.split("=", 1) for item in args.new_env)
    args.loads = args.loads.split(",")
    for name in args.loads:
        if not (name[:3] in ("sdk", "wrk") and name[3:].isdigit()):
            raise SystemExit(f"--loads: {name!r} is neither sdk<callers> nor wrk<connections>")
    os.sched_setaffinity(0, {1})
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for graph_name in args.graphs.split(","):
        with tempfile.TemporaryDirectory(prefix="agentdock-served-ab-") as work:
            _compare(graph_name, args, Path(work))
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
