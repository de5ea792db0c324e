"""`langgraph dev` against `agentdock serve` (auth on) on the same graph, through langgraph-sdk.

    uv run --frozen python benchmarks/langgraph_dev.py [--duration 5] [--concurrency 8,32]
        [--calls 100] [--graphs echo,chat] [--repeat 1] [--clients async,sync]

The peers, one at a time, each pinned to core 0 with taskset:

- (a) ``langgraph dev`` from ``langgraph-cli[inmem]`` (the in-memory LangGraph API server that
  users run locally), started with ``--no-reload --no-browser`` from a langgraph.json this
  script writes in a temporary directory (the graph's file by its absolute path). It lives in
  its own virtual environment, .bench/langgraph-dev, created on the first run with

      uv venv .bench/langgraph-dev --python 3.11
      uv pip install --python .bench/langgraph-dev/bin/python 'langgraph-cli[inmem]'

  (not in the workspace's lock: langgraph-api pins its own langgraph and langchain-core).
  It needs no LangSmith key or licence to run locally; it is started with no LangSmith or
  LangChain key in its environment, with ``LANGSMITH_TRACING=false``,
  ``LANGCHAIN_TRACING_V2=false`` and ``LANGGRAPH_CLI_NO_ANALYTICS=1`` (the CLI otherwise
  posts a usage record), and with its defaults otherwise (10 concurrent runs per worker).
- (b) ``agentdock serve`` of the same graph's Dockfile with ``auth.mode: api_key`` (one key
  made in a throw-away ``AGENTDOCK_HOME``), its policies and its default telemetry.

The graphs: ``echo`` (benchmarks/servers/echo_graphs.py behind
benchmarks/servers/echo-secure: API-key auth, two redaction patterns, the injection check)
and ``chat`` (examples/chat: a one-node graph around its offline chat model).

The load is langgraph-sdk as a user gets it, with its defaults (httpx's default pool limits:
100 connections, 20 kept alive), in this process, pinned to core 1: the async client
(``get_client(url=…, api_key=…)``, which sends the key as ``x-api-key``; langgraph dev has
no auth and ignores it) and, with ``--clients async,sync`` (the default), also the sync
client (``get_sync_client``, which ``RemoteGraph.invoke`` uses) shared by C threads. For
each client and each ``--concurrency`` C, C callers loop on ``runs.wait(None, graph,
input=…)`` for ``--duration`` seconds (after one second of warm-up): calls/s, p50 and p99 of
a call; then ``--calls`` sequential ``runs.stream`` calls of the async client, time from the
request to the first event (``metadata``): p50 and p99. The two clients cost different CPU
per call (benchmarks/sdk_client_cost.py: the async one runs ``orjson`` in the default thread
pool for every call and spends about twice as much at 32 callers as at 8, whatever the
server), so where the client's core is full the sync rows say more about the servers. Also,
for each client and concurrency, per call: the server's CPU time (its process tree's
user+system time), which a busy machine moves less than wall time, the client's CPU time,
and the TCP connections the client opened (counted in its httpx pool: httpcore's pool closes
any connection that falls idle while more than 20 are open, so a server slow enough to have
more than 20 calls in flight at once pays a new connection for most calls); and this
process's CPU share (near 100 % means the client, not the server, was the limit). When
``wrk`` is installed, it drives ``POST /runs/wait`` over 32 kept-alive connections for
``--duration`` seconds: requests/s, p50, p99 and the server's CPU per request, the server's
cost with no Python client in the way. Ratio columns are AgentDock / langgraph dev of the
same run; on a shared machine compare the ratios, and read the load averages printed with
them.
The sync client's pool (httpcore), shared by threads, now and then fails a call with "Bad
file descriptor" when it closes a connection another thread reads: such calls are counted
among the failed calls, not timed. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.registry import open_store
from langgraph_sdk import get_client, get_sync_client
from siblings import load

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"
LGDEV_VENV = ROOT / ".bench" / "langgraph-dev"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

harness = load("http_servers")
# The auth tests' key helper (tests/auth_support.py): a key stored as `key create` stores it.
sys.path.insert(0, str(ROOT / "tests"))
from auth_support import add_key  # type: ignore[import-not-found]  # noqa: E402


@dataclass(frozen=True)
class Graph:
    """One graph as both servers load it, and the call that exercises it."""

    agent: str  # the Dockfile's agent.name, also the graph's name in langgraph.json
    dockfile: Path
    role: str  # the Dockfile role the benchmark key gets
    directory: Path  # put on sys.path by langgraph dev (its "dependencies")
    source: str  # file:function, relative to ``directory``
    input: dict[str, str]
    expect: str  # found in the answer of a correct run


GRAPHS = {
    "echo": Graph(
        "echo-secure",
        SERVERS / "echo-secure" / "Dockfile.yaml",
        "caller",
        SERVERS,
        "echo_graphs.py:build_graph",
        {"text": "hi"},
        "HI",
    ),
    "chat": Graph(
        "chat",
        ROOT / "examples" / "chat" / "Dockfile.yaml",
        "developer",
        ROOT / "examples" / "chat",
        "agent/graph.py:build_graph",
        {"question": "hi"},
        "You asked: hi",
    ),
}


def _lgdev_command() -> Path:
    """The ``langgraph`` CLI of the throw-away environment, created when missing."""
    command = LGDEV_VENV / "bin" / "langgraph"
    if not command.exists():
        uv = shutil.which("uv") or sys.exit("uv is needed to create the langgraph dev environment")
        subprocess.run([uv, "venv", "-q", str(LGDEV_VENV), "--python", "3.11"], check=True)
        python = str(LGDEV_VENV / "bin" / "python")
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", python, "langgraph-cli[inmem]"], check=True
        )
    return command


def _lgdev_env() -> dict[str, str]:
    """The environment of ``langgraph dev``: no LangSmith key, tracing and analytics off."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_"))
    }
    env.update(
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
    )
    return env


def _start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", "0", *command],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _tree_cpu(pid: int) -> float:
    """User+system CPU seconds of ``pid`` and its descendants (read from /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    tree, total = {pid}, 0.0
    for candidate in sorted(parents):  # a child has a larger pid unless pids wrapped
        if candidate in tree or parents[candidate] in tree:
            tree.add(candidate)
            total += times.get(candidate, 0.0)
    return total


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _throughput(
    call: Any, callers: int, duration: float, pid: int, connections: _Connections
) -> dict[str, float]:
    """Calls/s, p50 and p99 ms of ``call`` looped by ``callers`` for ``duration`` s, and
    per call: the server's CPU ms, the client's CPU ms and the connections the client opened."""
    latencies: list[float] = []
    errors = 0

    async def caller(stop: float, record: bool) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            if record:
                latencies.append((time.perf_counter() - started) * 1000)

    warm = time.perf_counter() + 1.0
    await asyncio.gather(*(caller(warm, False) for _ in range(callers)))
    errors = 0
    server_cpu, opened = _tree_cpu(pid), connections.opened
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(caller(started + duration, True) for _ in range(callers)))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu
    server_cpu = _tree_cpu(pid) - server_cpu
    if not latencies:
        raise SystemExit(f"no call succeeded ({errors} failed)")
    # Calls that started in the window and ended just after it count too (a few at most).
    calls = len(latencies)
    return {
        "cps": calls / elapsed,
        "p50": statistics.median(latencies),
        "p99": _percentile(latencies, 0.99),
        "errors": float(errors),
        "client_cpu": client_cpu / elapsed,
        "server_ms": server_cpu * 1000 / calls,
        "client_ms": client_cpu * 1000 / calls,
        "new_connections": (connections.opened - opened) / calls,
    }


def _throughput_sync(
    call: Any, callers: int, duration: float, pid: int, connections: _Connections
) -> dict[str, float]:
    """:func:`_throughput` with ``callers`` threads calling the sync client's ``call``."""
    latencies: list[list[float]] = [[] for _ in range(callers)]
    failures = [0] * callers

    def caller(index: int, stop: float, record: bool) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                call()
            except Exception:
                failures[index] += 1
                continue
            if record:
                latencies[index].append((time.perf_counter() - started) * 1000)

    def run(stop: float, record: bool) -> None:
        threads = [threading.Thread(target=caller, args=(i, stop, record)) for i in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    run(time.perf_counter() + 1.0, False)
    failures[:] = [0] * callers
    server_cpu, opened = _tree_cpu(pid), connections.opened
    cpu = time.process_time()
    started = time.perf_counter()
    run(started + duration, True)
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu
    server_cpu = _tree_cpu(pid) - server_cpu
    samples = [ms for per_thread in latencies for ms in per_thread]
    if not samples:
        raise SystemExit(f"no call succeeded ({sum(failures)} failed)")
    calls = len(samples)
    return {
        "cps": calls / elapsed,
        "p50": statistics.median(samples),
        "p99": _percentile(samples, 0.99),
        "errors": float(sum(failures)),
        "client_cpu": client_cpu / elapsed,
        "server_ms": server_cpu * 1000 / calls,
        "client_ms": client_cpu * 1000 / calls,
        "new_connections": (connections.opened - opened) / calls,
    }


class _Connections:
    """Counts the TCP connections the SDK client's pool opens (httpx's transport keeps
    httpcore's pool as ``_pool``; with another layout the count stays ``nan``)."""

    def __init__(self, client: Any) -> None:
        self.opened = 0.0
        pool = getattr(getattr(client.http.client, "_transport", None), "_pool", None)
        if pool is None or not hasattr(pool, "create_connection"):
            self.opened = float("nan")
            return
        create = pool.create_connection

        def counted(origin: Any) -> Any:
            self.opened += 1
            return create(origin)

        pool.create_connection = counted


async def _first_events(open_stream: Any, calls: int) -> dict[str, float]:
    """p50 and p99 ms from a ``runs.stream`` request to its first event."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await open_stream()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "p99": _percentile(times, 0.99)}


async def _drive(
    base: str, key: str | None, graph: Graph, pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    client = get_client(url=base, api_key=key)
    connections = _Connections(client)

    async def wait() -> None:
        out = await client.runs.wait(None, graph.agent, input=graph.input)
        if graph.expect not in json.dumps(out):
            raise AssertionError(out)

    async def first_event() -> None:
        parts = client.runs.stream(None, graph.agent, input=graph.input)
        async for part in parts:
            if part.event == "metadata":
                await parts.aclose()  # type: ignore[attr-defined]
                return
        raise AssertionError("the stream ended without a metadata event")

    await wait()  # a correct answer before anything is timed
    figures: dict[str, Any] = {}
    if "async" in args.clients:
        for callers in args.concurrency:
            figures[f"async{callers}"] = await _throughput(
                wait, callers, args.duration, pid, connections
            )
    figures["ttfe"] = await _first_events(first_event, args.calls)
    await client.aclose()
    if "sync" in args.clients:
        figures.update(await asyncio.to_thread(_drive_sync, base, key, graph, pid, args))
    return figures


def _drive_sync(
    base: str, key: str | None, graph: Graph, pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The sync client's rows: one client shared by every caller thread."""
    client = get_sync_client(url=base, api_key=key)
    connections = _Connections(client)

    def wait() -> None:
        out = client.runs.wait(None, graph.agent, input=graph.input)
        if graph.expect not in json.dumps(out):
            raise AssertionError(out)

    wait()
    figures = {
        f"sync{callers}": _throughput_sync(wait, callers, args.duration, pid, connections)
        for callers in args.concurrency
    }
    client.close()
    return figures


def _measure(name: str, graph: Graph, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    port = harness._free_port()
    if name == "langgraph dev":
        config = work / "langgraph.json"
        config.write_text(
            json.dumps(
                {
                    "dependencies": [str(graph.directory)],
                    "graphs": {graph.agent: f"{graph.directory}/{graph.source}"},
                }
            )
        )
        command = [str(_lgdev_command()), "dev", "--config", str(config), "--port", str(port)]
        command += ["--host", "127.0.0.1", "--no-browser", "--no-reload"]
        command += ["--server-log-level", "warning"]
        server = harness.Server(name, command, "", {}, ready_path="/ok")
        process, key = _start(command, work, _lgdev_env()), None
    else:
        home = work / "agentdock-home"
        home.mkdir(exist_ok=True)
        os.environ["AGENTDOCK_HOME"] = str(home)  # the key and the server's registry
        os.environ.pop("AGENTDOCK_DATABASE_URL", None)
        env = dict(os.environ)
        with open_store() as store:
            key = add_key(store, graph.agent, graph.role).key
        command = [sys.executable, "-m", "agentdock_cli", "serve", str(graph.dockfile)]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        server = harness.Server(name, command, "", {}, ready_path="/ready")
        process = _start(command, graph.dockfile.parent, env)
    try:
        harness._wait_ready(server, port, 120)
        base = f"http://127.0.0.1:{port}"
        figures = asyncio.run(_drive(base, key, graph, process.pid, args))
        if shutil.which("wrk"):  # the server's capacity, with no Python client in the way
            body = {"assistant_id": graph.agent, "input": graph.input}
            headers = {"x-api-key": key} if key else {}
            server_cpu = _tree_cpu(process.pid)
            wrk = harness._wrk(f"{base}/runs/wait", body, args.duration, 32, headers)
            server_cpu = _tree_cpu(process.pid) - server_cpu
            figures["wrk"] = {name: wrk[name] for name in ("rps", "p50", "p99", "non_2xx")}
            figures["wrk"]["server_ms"] = server_cpu * 1000 / max(1.0, wrk["rps"] * args.duration)
        return figures
    finally:
        harness._stop(process)


def _median(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in rows[0].items():
        if isinstance(value, dict):
            out[field] = _median([row[field] for row in rows])
        else:
            out[field] = statistics.median(row[field] for row in rows)
    return out


def _ratio(ours: float, theirs: float) -> str:
    """``ours / theirs`` as a ratio column (a peer that served nothing has no ratio)."""
    return f"{ours / theirs:7.2f}x" if theirs else f"{'n/a':>8}"


def _rows(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """The runs.wait rows measured: (key in the figures, client, callers)."""
    return [(f"{client}{c}", client, c) for client in args.clients for c in args.concurrency]


def _report(graph: str, results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    lg, ad = results["langgraph dev"], results["agentdock"]
    print(f"\n{graph} graph, runs.wait for {args.duration} s per concurrency, median of rounds")
    print(
        f"{'':14} {'':>6} {'langgraph dev':>26} {'agentdock (api_key)':>26} "
        f"{'agentdock / langgraph dev':>26}"
    )
    print(
        f"{'':14} {'conc.':>6} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8} {'p50':>8} {'p99':>8}"
    )
    for row, client, callers in _rows(args):
        a, b = lg[row], ad[row]
        print(
            f"{'runs.wait ' + client:14} {callers:>6} "
            f"{a['cps']:8.0f} {a['p50']:8.2f} {a['p99']:8.2f} "
            f"{b['cps']:8.0f} {b['p50']:8.2f} {b['p99']:8.2f} {_ratio(b['cps'], a['cps'])} "
            f"{_ratio(b['p50'], a['p50'])} {_ratio(b['p99'], a['p99'])}"
        )
    a, b = lg["ttfe"], ad["ttfe"]
    print(
        f"{'stream 1st ev.':14} {1:>6} {'':8} {a['p50']:8.2f} {a['p99']:8.2f} "
        f"{'':8} {b['p50']:8.2f} {b['p99']:8.2f} {'':8} "
        f"{_ratio(b['p50'], a['p50'])} {_ratio(b['p99'], a['p99'])}"
    )
    if "wrk" in lg and "wrk" in ad:
        a, b = lg["wrk"], ad["wrk"]
        print(
            f"{'wrk /runs/wait':14} {32:>6} {a['rps']:8.0f} {a['p50']:8.2f} {a['p99']:8.2f} "
            f"{b['rps']:8.0f} {b['p50']:8.2f} {b['p99']:8.2f} {_ratio(b['rps'], a['rps'])} "
            f"{_ratio(b['p50'], a['p50'])} {_ratio(b['p99'], a['p99'])}"
            f"   (non-2xx: {a['non_2xx']:.0f} / {b['non_2xx']:.0f})"
        )
        share = _ratio(b["server_ms"], a["server_ms"]).strip()
        print(
            f"per wrk request at 32 connections: server CPU langgraph dev "
            f"{a['server_ms']:.2f} ms, agentdock {b['server_ms']:.2f} ms ({share})"
        )
    for row, client, callers in _rows(args):
        a, b = lg[row], ad[row]
        share = _ratio(b["server_ms"], a["server_ms"]).strip()
        print(
            f"per runs.wait ({client} client) at {callers} callers: "
            f"server CPU langgraph dev {a['server_ms']:.2f} "
            f"ms, agentdock {b['server_ms']:.2f} ms ({share}); "
            f"client CPU {a['client_ms']:.2f} / {b['client_ms']:.2f} ms; new connections "
            f"{a['new_connections']:.2f} / {b['new_connections']:.2f}"
        )
    shares = ", ".join(
        f"{name} {figures[row]['client_cpu'] * 100:.0f} % ({row})"
        for name, figures in results.items()
        for row, _, _ in _rows(args)
    )
    errors = sum(
        figures[row]["errors"] for figures in results.values() for row, _, _ in _rows(args)
    )
    print(f"client CPU share (core 1): {shares}; failed calls: {errors:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--graphs", default="echo,chat")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds")
    parser.add_argument("--clients", default="async,sync", help="SDK flavours: async, sync")
    args = parser.parse_args()
    args.clients = [c for c in ("async", "sync") if c in args.clients.split(",")]
    if not args.clients:
        raise SystemExit("--clients takes async, sync or both")
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if shutil.which("taskset") is None:
        raise SystemExit("needs taskset (apt-get install util-linux)")
    _lgdev_command()
    os.sched_setaffinity(0, {1})  # the clients; the servers are started on core 0
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in args.graphs.split(","):
        graph = GRAPHS[name]
        runs: dict[str, list[dict[str, Any]]] = {"langgraph dev": [], "agentdock": []}
        for _ in range(args.repeat):
            for server in runs:
                with tempfile.TemporaryDirectory(prefix="agentdock-lgdev-bench-") as work:
                    runs[server].append(_measure(server, graph, args, Path(work)))
        _report(name, {server: _median(rows) for server, rows in runs.items()}, args)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
