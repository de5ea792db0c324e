"""What a ``runs.wait`` answer costs the langgraph-sdk client: its CPU per call against
``agentdock serve`` and against servers that only replay fixed bytes.

    uv run --frozen python benchmarks/sdk_client_cost.py [--duration 3] [--concurrency 1,8,32]
        [--flavours async,sync] [--rounds 2]

The SDK client does its own work for every call (builds the request, encodes the body and
decodes the answer with ``orjson`` in the default thread pool, runs httpx and httpcore), and
some of that work depends on what the server answers: how many header lines, whether the
body comes with ``content-length`` or chunked, in one TCP segment or several, whether a
``location`` header makes ``request_reconnect`` validate it, whether the connection is kept.
This measures the client's CPU per call (``time.process_time`` of this process, which runs
only the client; pinned to core 1) against:

- ``agentdock``: ``agentdock serve`` of benchmarks/servers/echo-secure (API-key auth on), on
  core 0, answering ``POST /runs/wait``;
- ``replay, as served``: a minimal asyncio server (uvloop when installed, on core 0) that
  answers every request with the exact bytes ``agentdock serve`` answered (captured at the
  start), head and body in two writes as uvicorn writes them;
- ``replay, one write``: the same bytes in one write;
- ``replay, bare head``: only ``content-type`` and ``content-length``, one write;
- ``replay, langgraph dev's shape``: the answer as ``langgraph dev`` frames it (``location``,
  ``content-location``, ``vary``, a chunked body: head, chunk and end in three writes) with
  the same JSON body.

The replay servers cost next to nothing, so the difference between the ``agentdock`` and
``replay, as served`` rows is what the client spends because our server is slower (fewer
answers per wake-up of its event loop), and the differences between replay rows are what the
bytes themselves cost it. ``--flavours sync`` also drives the sync client (``get_sync_client``)
from C threads. Each row: client CPU ms per call, calls/s, TCP connections opened per
call (httpcore's pool, counted as benchmarks/langgraph_dev.py counts them), medians of
``--rounds`` rounds, the targets taken in turn within each round; and the calls that failed
in all rounds (the sync client's pool, shared by threads, fails a few with "Bad file
descriptor" when it closes a connection another thread reads, or loses an answer, which
then fails after the 10 s timeout this script gives the sync client instead of the SDK's
300 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from agentdock.registry import open_store
from langgraph_sdk import get_client, get_sync_client
from siblings import load

bench = load("langgraph_dev")
harness = bench.harness
GRAPH = bench.GRAPHS["echo"]
#: How long a replay server keeps an idle connection (uvicorn's default ``timeout_keep_alive``).
KEEP_ALIVE_SEC = 5.0
#: The sync client's timeout (see :func:`_sync_load`).
SYNC_TIMEOUT_SEC = 10.0
#: The replays, by name: how each frames the captured answer (see the docstring).
REPLAYS = {
    "replay, as served": "split",
    "replay, one write": "one",
    "replay, bare head": "bare",
    "replay, langgraph dev's shape": "chunked",
}


def _capture(port: int, key: str) -> bytes:
    """The raw bytes ``agentdock serve`` answers to one ``POST /runs/wait``."""
    body = b'{"assistant_id":"%s","input":{"text":"hi"}}' % GRAPH.agent.encode()
    request = (
        b"POST /runs/wait HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"x-api-key: %s\r\ncontent-length: %d\r\n\r\n%s" % (key.encode(), len(body), body)
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _answer_length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def _answer_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(data) + 1


def _framings(answer: bytes) -> dict[str, list[bytes]]:
    """The writes each replay mode answers with, from the captured ``answer``."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    bare = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    run = "/threads/01a24db2-e3f7-711d-b6e7-28e63a001a73/runs/01a24db2-e3f7-711d-b6e7-28e5cea95008"
    chunked = b"\r\n".join(
        [
            lines[0],
            *[line for line in lines[1:] if line.lower().startswith((b"date:", b"server:"))],
            b"location: %s/join" % run.encode(),
            b"content-location: %s" % run.encode(),
            b"content-type: application/json",
            b"vary: Origin",
            b"transfer-encoding: chunked",
        ]
    )
    return {
        "split": [head + b"\r\n\r\n", body],
        "one": [answer],
        "bare": [bare % len(body) + body],
        "chunked": [chunked + b"\r\n\r\n", b"%x\r\n%s\r\n" % (len(body), body), b"0\r\n\r\n"],
    }


def _replay_server(port: int, writes: list[bytes]) -> None:
    """Answer every request on ``port`` with ``writes`` (one ``transport.write`` each).

    A connection idle for :data:`KEEP_ALIVE_SEC` is closed, as uvicorn closes it: a client
    that lost track of a connection (the sync SDK client's pool, shared by threads, can)
    then fails one call instead of waiting for its read timeout (300 s)."""

    class Replay(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""
            self.idle = asyncio.get_running_loop().call_later(KEEP_ALIVE_SEC, transport.close)

        def connection_lost(self, exc: Exception | None) -> None:
            self.idle.cancel()

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                total = _answer_length(self.buffer[: end + 4])
                if total > len(self.buffer):
                    return
                self.buffer = self.buffer[total:]
                for part in writes:
                    self.transport.write(part)
                self.idle.cancel()
                self.idle = asyncio.get_running_loop().call_later(
                    KEEP_ALIVE_SEC, self.transport.close
                )

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Replay, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


async def _async_load(base: str, key: str, callers: int, duration: float) -> dict[str, float]:
    client = get_client(url=base, api_key=key)
    connections = bench._Connections(client)
    await client.runs.wait(None, GRAPH.agent, input=GRAPH.input)
    calls = 0

    async def caller(stop: float) -> None:
        nonlocal calls
        while time.perf_counter() < stop:
            out = await client.runs.wait(None, GRAPH.agent, input=GRAPH.input)
            if out != {"text": "HI"}:
                raise AssertionError(out)
            calls += 1

    await asyncio.gather(*(caller(time.perf_counter() + 0.5) for _ in range(callers)))
    calls, opened = 0, connections.opened
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(started + duration) for _ in range(callers)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.aclose()
    return {
        "client_ms": cpu * 1000 / calls,
        "cps": calls / elapsed,
        "new_connections": (connections.opened - opened) / calls,
        "failed": 0.0,
    }


def _sync_load(base: str, key: str, callers: int, duration: float) -> dict[str, float]:
    # A 10 s timeout instead of the SDK's 300 s read timeout: now and then httpcore's pool,
    # shared by threads, loses a response (one thread reads a connection another closed or
    # reuses), and that call then fails, counted, instead of holding the round for minutes.
    # It changes no call that gets its answer, so not the CPU per call measured.
    client = get_sync_client(url=base, api_key=key, timeout=SYNC_TIMEOUT_SEC)
    connections = bench._Connections(client)
    client.runs.wait(None, GRAPH.agent, input=GRAPH.input)
    counts = [0] * callers
    failures = [0] * callers
    stop = [0.0]
    barrier = threading.Barrier(callers + 1)

    def caller(index: int) -> None:
        barrier.wait()
        while time.perf_counter() < stop[0]:
            # httpcore's sync pool, shared by threads, now and then fails a call with
            # "Bad file descriptor" (a connection closed by another thread): counted.
            try:
                out = client.runs.wait(None, GRAPH.agent, input=GRAPH.input)
            except Exception:
                failures[index] += 1
                continue
            if out != {"text": "HI"}:
                raise AssertionError(out)
            counts[index] += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    cpu, started, opened = time.process_time(), time.perf_counter(), connections.opened
    stop[0] = started + duration
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    client.close()
    calls = sum(counts)
    return {
        "client_ms": cpu * 1000 / calls,
        "cps": calls / elapsed,
        "new_connections": (connections.opened - opened) / calls,
        "failed": float(sum(failures)),
    }


def _load(flavour: str, base: str, key: str, callers: int, duration: float) -> dict[str, float]:
    if flavour == "async":
        return asyncio.run(_async_load(base, key, callers, duration))
    return _sync_load(base, key, callers, duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--flavours", default="async")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--replay", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:  # the replay server's own process
        answer = Path(args.replay[1]).read_bytes()
        _replay_server(int(args.replay[0]), _framings(answer)[args.mode])
        return
    concurrency = [int(c) for c in args.concurrency.split(",")]
    flavours = args.flavours.split(",")
    os.sched_setaffinity(0, {1})
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="agentdock-sdk-cost-") as work:
        home = Path(work) / "home"
        home.mkdir()
        os.environ["AGENTDOCK_HOME"] = str(home)
        os.environ.pop("AGENTDOCK_DATABASE_URL", None)
        with open_store() as store:
            key = bench.add_key(store, GRAPH.agent, GRAPH.role).key
        processes: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            port = harness._free_port()
            command = [sys.executable, "-m", "agentdock_cli", "serve", str(GRAPH.dockfile)]
            command += ["--host", "127.0.0.1", "--port", str(port)]
            processes["agentdock"] = (
                bench._start(command, GRAPH.dockfile.parent, dict(os.environ)),
                port,
            )
            ready = harness.Server("agentdock", [], "", {}, ready_path="/ready")
            harness._wait_ready(ready, port, 120)
            answer = _capture(port, key)
            print("agentdock answers:", answer)
            captured = Path(work) / "answer"
            captured.write_bytes(answer)
            for name, mode in REPLAYS.items():
                port = harness._free_port()
                command = [sys.executable, __file__, "--replay", str(port), str(captured)]
                processes[name] = (
                    bench._start([*command, "--mode", mode], Path(work), dict(os.environ)),
                    port,
                )
                harness._wait_ready(harness.Server(name, [], "/", {}), port, 30)
            rows: dict[tuple[str, str, int], list[dict[str, float]]] = {}
            for _ in range(args.rounds):
                for flavour in flavours:
                    for callers in concurrency:
                        for name, (_, port) in processes.items():
                            figures = _load(
                                flavour, f"http://127.0.0.1:{port}", key, callers, args.duration
                            )
                            rows.setdefault((flavour, name, callers), []).append(figures)
        finally:
            for process, _ in processes.values():
                harness._stop(process)
    print(f"\nclient CPU per runs.wait, medians of {args.rounds} rounds of {args.duration} s")
    print(
        f"{'client':6} {'server':30} {'callers':>7} {'CPU ms':>7} {'calls/s':>8} {'new conn.':>9} "
        f"{'failed':>6}"
    )
    for (flavour, name, callers), runs in rows.items():
        med = {field: statistics.median(run[field] for run in runs) for field in runs[0]}
        print(
            f"{flavour:6} {name:30} {callers:7} {med['client_ms']:7.3f} {med['cps']:8.0f} "
            f"{med['new_connections']:9.3f} {sum(run['failed'] for run in runs):6.0f}"
        )
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
