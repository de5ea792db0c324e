"""What clients without credentials cost a runtime by pushing huge frames at /ws/stream.

    uv run python benchmarks/ws_attack.py [--duration 30] [--attackers 20] [--frame-mb 16]

One `agentdock serve` (the echo graph, API-key auth, `expose.streaming: websocket`,
benchmarks/servers/echo-ws) pinned to core 0; on core 1, `wrk -t1 -c8` calls POST /invoke
with a valid key for --duration seconds, twice:

- baseline: nothing else;
- attack: meanwhile --attackers threads (in one process on core 1, at nice 19 so that they
  do not starve wrk of its core) open /ws/stream without credentials, read the server's
  answer and, whatever it is, send --frame-mb MB text frames as fast as the socket takes
  them, reconnecting whenever the server closes.

Reported: the server's RSS (VmRSS of the process, sampled every 0.25 s) before and at its
peak during each phase, the CPU seconds it used, the /invoke figures of both phases and
their ratio, and what the attackers achieved (connections, handshakes the server accepted,
frame bytes the kernel took from them).
Goals: RSS growth under attack < 50 MB; /invoke p99 under attack <= 2x the baseline's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from siblings import load

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"


features = load("http_features")
harness = features.harness


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _RssWatch(threading.Thread):
    """The process's RSS every 0.25 s: the first sample and the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.first = _rss_mb(pid)
        self.peak = self.first
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.25):
            self.peak = max(self.peak, _rss_mb(self.pid))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Attacker(threading.Thread):
    """Opens /ws/stream without credentials, reads the server's answer and, whatever it is,
    pushes frames of ``frame_bytes`` as fast as the socket takes them; again whenever the
    server closes."""

    def __init__(self, port: int, frame_bytes: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.frame_bytes = frame_bytes
        self.connections = 0
        self.accepted = 0
        self.pushed = 0
        self.upgrade = (
            f"GET /ws/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        # A masked text frame (mask 0: the payload goes as it is) of frame_bytes letters.
        self.header = bytes([0x81, 0xFF]) + frame_bytes.to_bytes(8, "big") + b"\x00\x00\x00\x00"

    def run(self) -> None:
        chunk = b"a" * (256 * 1024)
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
                    self.connections += 1
                    raw.sendall(self.upgrade)
                    answer = b""
                    while b"\r\n\r\n" not in answer:
                        part = raw.recv(4096)
                        if not part:
                            break
                        answer += part
                    if answer.startswith(b"HTTP/1.1 101"):
                        self.accepted += 1
                    while not self.stop.is_set():
                        raw.sendall(self.header)
                        sent = 0
                        while sent < self.frame_bytes and not self.stop.is_set():
                            raw.sendall(chunk)
                            sent += len(chunk)
                            self.pushed += len(chunk)
            except OSError:
                # Refused, reset or closed by the server. Again.
                time.sleep(0.01)


def _attack(port: int, count: int, frame_bytes: int, stop: Any, totals: Any) -> None:
    """The attackers' process: ``count`` threads until ``stop``; their sums into ``totals``."""
    os.sched_setaffinity(0, {1})
    os.nice(19)
    local = threading.Event()
    attackers = [_Attacker(port, frame_bytes, local) for _ in range(count)]
    for attacker in attackers:
        attacker.start()
    stop.wait()
    local.set()
    for attacker in attackers:
        attacker.join(10)
    totals.put(
        (
            sum(a.connections for a in attackers),
            sum(a.accepted for a in attackers),
            sum(a.pushed for a in attackers),
        )
    )


def _phase(
    server: Any, port: int, pid: int, args: argparse.Namespace, key: str, *, attack: bool
) -> tuple[dict[str, float], _RssWatch, float, tuple[int, int, int]]:
    context = multiprocessing.get_context("spawn")
    stop, totals = context.Event(), context.Queue()
    frame_bytes = int(args.frame_mb * 1024 * 1024)
    process = (
        context.Process(target=_attack, args=(port, args.attackers, frame_bytes, stop, totals))
        if attack
        else None
    )
    watch = _RssWatch(pid)
    watch.start()
    cpu = _cpu_seconds(pid)
    if process is not None:
        process.start()
    try:
        url = f"http://127.0.0.1:{port}/invoke"
        row = dict(harness._wrk(url, server.body, args.duration, 8, {"x-api-key": key}))
    finally:
        stop.set()
        achieved = totals.get(timeout=60) if process is not None else (0, 0, 0)
        if process is not None:
            process.join(30)
        watch.halt.set()
        watch.join()
    return row, watch, _cpu_seconds(pid) - cpu, achieved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--attackers", type=int, default=20)
    parser.add_argument("--frame-mb", type=float, default=16.0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of (baseline, attack), interleaved; the summary takes medians",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset (apt-get install wrk util-linux)")
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        home = Path(scratch)
        env = {"AGENTDOCK_HOME": str(home), "AGENTDOCK_LOG_FORMAT": "off"}
        dockfile = SERVERS / "echo-ws" / "Dockfile.yaml"
        key = features._api_key(home, "echo-ws")
        server = features._serve(dockfile, insecure=False, env=env)
        port = harness._free_port()
        process = harness._start(server, port)
        try:
            harness._wait_ready(server, port, 60)
            for _ in range(args.repeat):
                base = _phase(server, port, process.pid, args, key, attack=False)
                hit = _phase(server, port, process.pid, args, key, attack=True)
                rounds.append({"baseline": base, "attack": hit})
            after = _rss_mb(process.pid)
        finally:
            harness._stop(process)

    print(
        f"\n/invoke (wrk -t1 -c8) while {args.attackers} clients without credentials push "
        f"{args.frame_mb:g} MB frames at /ws/stream, {args.duration} s per phase"
    )
    print(
        f"{'round':<6} {'phase':<9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'server RSS MB':>16} {'CPU s':>6}  attackers"
    )
    for number, entry in enumerate(rounds, 1):
        for name in ("baseline", "attack"):
            row, rss, cpu, (connections, accepted, pushed) = entry[name]
            achieved = (
                f"{connections} connections, {accepted} accepted, {pushed / 1e6:.0f} MB sent"
                if name == "attack"
                else ""
            )
            print(
                f"{number:<6} {name:<9} {row['rps']:>7.0f} {row['p50']:>7.2f} {row['p99']:>8.2f} "
                f"{row['non_2xx']:>8.0f} {rss.first:>7.1f} -> {rss.peak:>6.1f} {cpu:>6.1f}  "
                f"{achieved}"
            )
    growth = max(e["attack"][1].peak - e["attack"][1].first for e in rounds)
    ratios = [e["attack"][0]["p99"] / e["baseline"][0]["p99"] for e in rounds]
    print(
        f"largest RSS growth during an attack: {growth:.1f} MB (goal < 50); "
        f"{after:.1f} MB at the end"
    )
    print(
        f"/invoke p99 attack / baseline: median {statistics.median(ratios):.2f}x "
        f"({' '.join(f'{r:.2f}' for r in ratios)}; goal <= 2x)"
    )


if __name__ == "__main__":
    main()
