"""Requests/s and latency of AgentDock /invoke against a hand-written server and LangServe.

    uv run python benchmarks/http_servers.py [--duration 10] [--connections 32]

Every server runs the same graphs (benchmarks/servers/echo_graphs.py), pinned to core 0
with taskset; wrk (Debian package `wrk`) runs on core 1 with one thread:
- (a) Litestar + `await graph.ainvoke`, written here (benchmarks/servers/bare_litestar.py)
- (b) `agentdock serve --insecure-no-auth` on the same graph (auth off, as in (a) and (c)),
      with its default policies and telemetry sinks (Prometheus, event logs, local collector)
- (b') the same with those telemetry sinks switched off by their environment variables
- (c) LangServe `add_routes` (benchmarks/servers/langserve_app.py), in its own virtual
      environment .bench/langserve, created on first run with uv
- (b0), with `--baseline DIR`: (b) served from the packages of an earlier checkout in DIR
      (`git worktree add DIR REV`), in the same rounds, for a before/after on one machine
for the synchronous-node graph and the async-node graph, in --repeat interleaved rounds
(median per server: figures move 10-20 % between runs on a shared machine). Also the cold
start of (b): process start to the first 200 from /ready, median of 5 once the bytecode
cache exists.
The CPU column is the server's own CPU time (user + system, the process and its children,
from /proc/<pid>/stat) over the measured window divided by the requests wrk counted in it:
steadier than requests/s on a machine shared with other work, which slows the server's
clock but hardly its CPU per request.

Only loopback addresses are used; every run is bounded by --duration. Every AgentDock server
runs with a throw-away AGENTDOCK_HOME, so its telemetry store starts empty and nothing is
written into the developer's .agentdock.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from startup import _sources
from throwaway_home import throwaway_home

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"
LANGSERVE_VENV = ROOT / ".bench" / "langserve"


@dataclass
class Server:
    name: str
    command: list[str]
    path: str
    body: dict[str, object]
    ready_path: str | None = None
    env: dict[str, str] | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _langserve_python() -> str:
    python = LANGSERVE_VENV / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv") or sys.exit("uv is needed to create the LangServe environment")
        subprocess.run([uv, "venv", "-q", str(LANGSERVE_VENV), "--python", "3.11"], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(python),
                "langserve[server]",
                "langgraph",
                "uvicorn",
            ],
            check=True,
        )
    return str(python)


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return int(response.status)


def _wait_ready(server: Server, port: int, deadline: float) -> float:
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    while time.perf_counter() - started < deadline:
        try:
            if server.ready_path:
                with urllib.request.urlopen(base + server.ready_path, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            elif _post(base + server.path, json.dumps(server.body).encode()) == 200:
                return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.02)
    raise SystemExit(f"{server.name} did not become ready within {deadline}s")


def _start(server: Server, port: int) -> subprocess.Popen[bytes]:
    command = [part.replace("{port}", str(port)) for part in server.command]
    env = {**os.environ, **(server.env or {})}
    return subprocess.Popen(
        ["taskset", "-c", "0", *command],
        cwd=SERVERS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (all their threads)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            # Fields after the command name (which may hold spaces), from field 3 on.
            fields = stat.rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _wrk(
    url: str,
    body: dict[str, object],
    duration: int,
    connections: int,
    headers: dict[str, str] | None = None,
    pid: int | None = None,
) -> dict[str, float]:
    """wrk's figures; with ``pid``, also the CPU µs that process spent per request served."""
    script = (
        'wrk.method = "POST"\n'
        'wrk.headers["content-type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
    )
    for name, value in (headers or {}).items():
        script += f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        subprocess.run(  # warm-up
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                f"-c{connections}",
                "-d2s",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            check=True,
        )
        cpu_before = _cpu_seconds(pid) if pid is not None else 0.0
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = _cpu_seconds(pid) - cpu_before if pid is not None else 0.0
    finally:
        os.unlink(handle.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    served = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "rps": rps,
        "cpu_us": cpu * 1e6 / served if served else 0.0,
        "p50": _millis(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _millis(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _millis(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _servers(graph: str, baseline: Path | None = None) -> list[Server]:
    python = sys.executable
    dockfile = SERVERS / f"echo-{graph}" / "Dockfile.yaml"
    uvicorn = ["-m", "uvicorn", "--port", "{port}", "--log-level", "warning", "--no-access-log"]
    env = {"BENCH_GRAPH": graph}
    agentdock = [python, "-m", "agentdock_cli", "serve", str(dockfile), "--insecure-no-auth"]
    agentdock += ["--port", "{port}"]
    earlier = (
        [
            Server(
                "(b0) baseline /invoke",
                agentdock,
                "/invoke",
                {"text": "hi"},
                ready_path="/ready",
                env={"PYTHONPATH": _sources(baseline)},
            )
        ]
        if baseline is not None
        else []
    )
    return [
        *earlier,
        Server(
            "(a) litestar+ainvoke",
            [python, *uvicorn, "bare_litestar:app"],
            "/invoke",
            {"text": "hi"},
            env=env,
        ),
        Server(
            "(b) agentdock /invoke",
            agentdock,
            "/invoke",
            {"text": "hi"},
            ready_path="/ready",
        ),
        Server(
            "(b') telemetry off",
            agentdock,
            "/invoke",
            {"text": "hi"},
            ready_path="/ready",
            env={
                "AGENTDOCK_METRICS": "off",
                "AGENTDOCK_LOG_FORMAT": "off",
                "AGENTDOCK_LOCALSTORE": "off",
            },
        ),
        Server(
            "(c) langserve",
            [_langserve_python(), *uvicorn, "langserve_app:app"],
            "/echo/invoke",
            {"input": {"text": "hi"}},
            env=env,
        ),
    ]


def _median_row(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def _cold_starts(server: Server, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        port = _free_port()
        process = _start(server, port)
        try:
            samples.append(_wait_ready(server, port, 60))
        finally:
            _stop(process)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--graphs", default="sync,async")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds over all servers; each figure is the median of its rounds",
    )
    parser.add_argument(
        "--cold-starts", type=int, default=5, help="starts of (b) to time (0: none)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an earlier commit (git worktree add DIR REV): its (b) is served "
        "too, as (b0), in the same rounds",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset (apt-get install wrk util-linux)")
    with throwaway_home():
        _measure(args)


def _measure(args: argparse.Namespace) -> None:
    for graph in args.graphs.split(","):
        servers = _servers(graph, args.baseline)
        runs: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
        # Rounds interleave the servers, so a slow spell of the machine hits them all alike.
        for _ in range(args.repeat):
            for server in servers:
                port = _free_port()
                process = _start(server, port)
                try:
                    _wait_ready(server, port, 60)
                    url = f"http://127.0.0.1:{port}{server.path}"
                    row = _wrk(url, server.body, args.duration, args.connections, pid=process.pid)
                    runs[server.name].append(row)
                finally:
                    _stop(process)
        results = {name: _median_row(rows) for name, rows in runs.items()}
        print(
            f"\n{graph} graph, wrk -t1 -c{args.connections} -d{args.duration}s, "
            f"median of {args.repeat} rounds"
        )
        header = (
            f"{'server':<24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} "
            f"{'non-2xx':>8}"
        )
        print(f"{header}  rounds req/s")
        for name, row in results.items():
            each = " ".join(f"{r['rps']:.0f}" for r in runs[name])
            print(
                f"{name:<24} {row['rps']:>9.0f} {row['p50']:>8.2f} {row['p99']:>8.2f} "
                f"{row['cpu_us']:>11.0f} {row['non_2xx']:>8.0f}  {each}"
            )
        rps = {s.name[: s.name.index(")") + 1]: results[s.name]["rps"] for s in servers}
        a, b, b_off, c = rps["(a)"], rps["(b)"], rps["(b')"], rps["(c)"]
        print(
            f"req/s:  (b)/(a) = {b / a:.2f}x   (b)/(c) = {b / c:.2f}x   "
            f"(b')/(a) = {b_off / a:.2f}x   (b')/(c) = {b_off / c:.2f}x"
        )
        # CPU per request the other way round: how many of (b)'s requests one of theirs costs.
        cpu = {s.name[: s.name.index(")") + 1]: results[s.name]["cpu_us"] for s in servers}
        a, b, b_off, c = cpu["(a)"], cpu["(b)"], cpu["(b')"], cpu["(c)"]
        print(
            f"CPU:    (a)/(b) = {a / b:.2f}x   (c)/(b) = {c / b:.2f}x   "
            f"(a)/(b') = {a / b_off:.2f}x   (c)/(b') = {c / b_off:.2f}x"
        )
        if "(b0)" in cpu:
            b0 = cpu["(b0)"]
            print(
                f"baseline: (a)/(b0) = {a / b0:.2f}x   (c)/(b0) = {c / b0:.2f}x   "
                f"(b0)/(b) = {b0 / b:.2f}x"
            )

    if args.cold_starts < 1:
        return
    # Cold start: Python compiles every module it imports that has no up-to-date bytecode.
    # The first start writes the bytecode cache (PYTHONDONTWRITEBYTECODE is lifted for it);
    # the median is over the starts after it, as on any machine after its first start and
    # in every image AgentDock builds (byte-compiled at build time).
    server = next(s for s in _servers("sync") if s.name.startswith("(b)"))
    server.env = {**(server.env or {}), "PYTHONDONTWRITEBYTECODE": ""}
    first = _cold_starts(server, 1)[0]
    samples = _cold_starts(server, args.cold_starts)
    print(
        f"\ncold start of (b), process start to /ready 200: median of {len(samples)} "
        f"{statistics.median(samples) * 1000:.0f} ms (min {min(samples) * 1000:.0f}, "
        f"max {max(samples) * 1000:.0f}); the first start, which writes the bytecode "
        f"cache where it is missing: {first * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
