"""Clients holding a local agent's URL through deploy → deploy (a changed version) → rollback
(printed, not asserted).

    uv run python benchmarks/endpoint_switch.py [--rate 200] [--settle 5] [--cycles 1]

A fresh AgentDock home and a copy of examples/echo, through the Python API. Once the first
version serves, two clients call `POST /invoke` on the URL its deploy printed, each about
``--rate`` times a second, each in a process of its own: one keeps its connection alive
(as an HTTP client library's pool does), one opens a connection for every request (as
curl does). Then: a quiet period, the deploy of a one-line change (its answers carry a
"!"), a quiet period, the rollback, a quiet period; with ``--cycles N``, N-1 more deploys
of the change (its bundle is built: no build) and rollbacks, each followed by a quiet period.

For each client and phase: requests, failed requests (goal: 0; by kind), the longest gap
between two answers, p50/p99 latency, and which versions answered. The baseline, in the
same run, is the first quiet period: the longest gap a client sees when nothing is
deployed; the ratio says how much longer the longest gap of a switch is.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "echo"


def client(
    url: str, key: str, rate: float, keep_alive: bool, started: Any, stop: Any, out: Any
) -> None:
    """Call ``url`` at ``rate`` per second until ``stop`` is set (``started`` is set at the
    first answer); send back every call as ``(sent, answered, outcome)`` (monotonic times,
    shared by the processes of a machine)."""
    import httpx

    calls: list[tuple[float, float, str]] = []
    limits = httpx.Limits(max_keepalive_connections=1 if keep_alive else 0)
    headers = {"x-api-key": key}
    with httpx.Client(timeout=10.0, trust_env=False, limits=limits) as http:
        start = time.monotonic()
        n = 0
        while not stop.is_set():
            due = start + n / rate
            n += 1
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent = time.monotonic()
            try:
                resp = http.post(url, json={"text": "hi"}, headers=headers)
                outcome = (
                    f"ok {resp.json()['text']}"
                    if resp.status_code == 200
                    else f"HTTP {resp.status_code}"
                )
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            calls.append((sent, time.monotonic(), outcome))
            if outcome.startswith("ok"):
                started.set()
    out.send(calls)
    out.close()


def summarize(calls: list[tuple[float, float, str]], start: float, end: float) -> dict[str, Any]:
    inside = [c for c in calls if start <= c[0] < end]
    answered = sorted(c[1] for c in inside if c[2].startswith("ok"))
    edges = [start, *answered, end]
    gaps = [(b - a, a - start) for a, b in itertools.pairwise(edges)]
    gap, gap_at = max(gaps)
    latencies = sorted(c[1] - c[0] for c in inside if c[2].startswith("ok"))
    failures = collections.Counter(c[2] for c in inside if not c[2].startswith("ok"))
    versions = collections.Counter(c[2][3:] for c in inside if c[2].startswith("ok"))
    return {
        "requests": len(inside),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "longest gap ms": 1000 * gap,
        "gap at s": gap_at,
        "p50 ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99 ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "answers": dict(versions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of each client")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of each quiet period")
    parser.add_argument("--cycles", type=int, default=1, help="deploy → rollback cycles")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as tmp:
        os.environ["AGENTDOCK_HOME"] = str(Path(tmp) / "home")
        import agentdock

        project = Path(tmp) / "echo"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
        dockfile = project / "Dockfile.yaml"
        first = agentdock.deploy(dockfile, check_imports=False)
        assert first.endpoint and first.api_key
        url = f"{first.endpoint}/invoke"
        print(f"{first.agent} {first.version} serves {first.endpoint}")

        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        clients = {}
        for name, keep_alive in (("keep-alive", True), ("new connection each", False)):
            ours, theirs = ctx.Pipe(duplex=False)
            started = ctx.Event()
            proc = ctx.Process(
                target=client,
                args=(url, first.api_key, args.rate, keep_alive, started, stop, theirs),
            )
            proc.start()
            clients[name] = (proc, ours)
            started.wait(60)
        time.sleep(0.5)

        marks: dict[str, tuple[float, float]] = {}
        steps: list[tuple[float, str]] = []

        def noted(step: str, message: str, **_fields: Any) -> None:
            if step in {"health", "promote", "activate", "retire"}:
                steps.append((time.monotonic(), f"{step}: {message}"))

        def phase(name: str, action: Any) -> Any:
            t0 = time.monotonic()
            result = action()
            marks[name] = (t0, time.monotonic())
            return result

        phase("quiet (baseline)", lambda: time.sleep(args.settle))
        graph = project / "echo" / "graph.py"
        graph.write_text(graph.read_text().replace(".upper()}", '.upper() + "!"}'))
        released = []
        for cycle in range(1, args.cycles + 1):
            tag = "" if cycle == 1 else f" #{cycle}"
            released.append(
                phase(
                    f"deploy 0.1.1{tag}",
                    lambda: agentdock.deploy(dockfile, check_imports=False, progress=noted),
                )
            )
            phase(f"after deploy{tag}", lambda: time.sleep(args.settle))
            released.append(
                phase(
                    f"rollback 0.1.0{tag}",
                    lambda: agentdock.rollback(first.agent, "0.1.0", progress=noted),
                )
            )
            phase(f"after rollback{tag}", lambda: time.sleep(args.settle))
        stop.set()
        calls = {}
        for name, (proc, pipe) in clients.items():
            calls[name] = pipe.recv()
            proc.join(30)
        agentdock.stop(first.agent)

        endpoints = {first.endpoint, *(r.endpoint for r in released)}
        print(
            f"endpoints: {sorted(endpoints)} over {len(released)} releases "
            f"({'the same' if len(endpoints) == 1 else 'MOVED'})"
        )
        for name, (start, end) in marks.items():
            if name.startswith(("deploy", "rollback")):
                seen = [f"{at - start:.1f}s {what}" for at, what in steps if start <= at <= end]
                print(f"{name} took {end - start:.1f} s: " + "; ".join(seen))
        # The switch itself: from the new version's promotion to the end of the command
        # (the old one stopped and drained), apart from the build and start before it.
        rows: list[tuple[str, float, float]] = []
        for name, (start, end) in marks.items():
            rows.append((name, start, end))
            promoted = [at for at, what in steps if start <= at <= end and "promote" in what]
            if promoted:
                rows.append(("  its switch", promoted[0], end))
        for name, made in calls.items():
            print(f"\nclient: {name}, {args.rate:g} requests/s")
            baseline = summarize(made, *marks["quiet (baseline)"])["longest gap ms"]
            header = f"  {'phase':<18}{'requests':>9}{'failed':>8}{'longest gap':>13}"
            print(header + f"{'× quiet':>9}{'at':>7}{'p50':>8}{'p99':>8}  answers")
            for phase_name, start, end in rows:
                row = summarize(made, start, end)
                print(
                    f"  {phase_name:<18}{row['requests']:>9}{row['failed']:>8}"
                    f"{row['longest gap ms']:>10.1f} ms{row['longest gap ms'] / baseline:>8.1f}×"
                    f"{row['gap at s']:>6.1f}s"
                    f"{row['p50 ms']:>6.1f}ms{row['p99 ms']:>6.1f}ms  {row['answers']}"
                    + (f"  failures: {row['failures']}" if row["failed"] else "")
                )
            total = summarize(made, min(s for s, _ in marks.values()), time.monotonic())
            switches = [summarize(made, a, b) for n, a, b in rows if n.strip() == "its switch"]
            print(
                f"  total: {total['requests']} requests, {total['failed']} failed; "
                f"{len(switches)} switches, longest gap in one "
                f"{max(w['longest gap ms'] for w in switches):.1f} ms "
                f"(quiet baseline {baseline:.1f} ms)"
            )


if __name__ == "__main__":
    main()
