"""What security and telemetry cost on /invoke: the same echo graph with them off and on.

    uv run python benchmarks/http_features.py [--duration 10] [--connections 32]
        [--only security|telemetry|model] [--threads]

Same harness as benchmarks/http_servers.py (server pinned to core 0, `wrk -t1` on core 1),
all in one run, every server `agentdock serve` on the synchronous echo graph:

security (goal: on / off >= 0.9)
- off        echo-plain, --insecure-no-auth (no auth, no policy)
- auth       echo-plain with an API key (x-api-key; roles; key verified against the registry)
- auth+pol   echo-secure with an API key, two redaction patterns and the injection check

telemetry (goal: on / off >= 0.98)
- off        echo-plain, --insecure-no-auth, no telemetry backend configured
- on         echo-observed, --insecure-no-auth: Prometheus (/metrics), OpenTelemetry spans
             to a local OTLP/HTTP receiver and LangFuse traces to a local fake LangFuse
- on, 10%    "on" with a tenth of the runs traced (OTEL_TRACES_SAMPLER_ARG=0.1,
             LANGFUSE_SAMPLE_RATE=0.1), as docs/tracing.md suggests for CPU-bound services

model agent (goal: on / off >= 0.99 in req/s, p50 within 1 %)
- off        model-plain: one node streams a fake chat model that answers after 20 ms with
             50 tokens (benchmarks/servers/model_graph.py), no telemetry backend
- on         model-observed: the same with Prometheus, OpenTelemetry and LangFuse on

The API key lives in a throw-away AGENTDOCK_HOME; the receivers are in-process HTTP
servers of this script that count what arrives (printed at the end). Besides req/s and
latency, each row has the server process's CPU per request (every thread, /proc/PID/stat,
over the measured wrk run) and off's CPU per request over it: the ratio the server core
would allow were it the server's alone.
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"

_HARNESS = ROOT / "benchmarks" / "http_servers.py"
_spec = importlib.util.spec_from_file_location("http_servers", _HARNESS)
assert _spec is not None and _spec.loader is not None
harness: Any = importlib.util.module_from_spec(_spec)
sys.modules["http_servers"] = harness
_spec.loader.exec_module(harness)


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Answers every POST with 200 and counts the bytes (an OTLP or LangFuse endpoint),
    keeping connections open between requests as a collector and LangFuse do."""

    protocol_version = "HTTP/1.1"

    received: ClassVar[dict[str, int]] = {"requests": 0, "bytes": 0}
    lock = threading.Lock()

    def do_POST(self) -> None:
        size = int(self.headers.get("content-length", 0))
        self.rfile.read(size)
        with self.lock:
            self.received["requests"] += 1
            self.received["bytes"] += size
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _receiver() -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _api_key(home: Path, agent: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentdock_cli",
            "key",
            "create",
            "--agent",
            agent,
            "--role",
            "caller",
            "--not-deployed",
            "--json",
        ],
        env={**os.environ, "AGENTDOCK_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)["key"])


def _serve(dockfile: Path, *, insecure: bool, env: dict[str, str]) -> Any:
    command = [sys.executable, "-m", "agentdock_cli", "serve", str(dockfile), "--port", "{port}"]
    if insecure:
        command.append("--insecure-no-auth")
    else:
        command += ["--host", "127.0.0.1"]
    return harness.Server(dockfile.parent.name, command, "/invoke", {"text": "hi"}, "/ready", env)


def _cpu_s(pid: int) -> float:
    """CPU seconds ``pid`` has used, all its threads (utime + stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of each live thread, by thread id (Python does not name its threads to
    the system: the busiest single threads are the event loop's and the telemetry's; the
    graph's worker threads share the work, each a little)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = "main" if task.name == str(pid) else task.name
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


def _measure(server: Any, args: argparse.Namespace, headers: dict[str, str]) -> dict[str, float]:
    """req/s and latency from wrk, and the server's CPU per request: steadier than req/s on
    a machine whose core 0 is not the server's alone. With ``--threads``, also each thread's
    CPU per request (``thread:NAME`` keys)."""
    port = harness._free_port()
    process = harness._start(server, port)
    try:
        harness._wait_ready(server, port, 180)
        url = f"http://127.0.0.1:{port}{server.path}"
        harness._wrk(url, server.body, 1, args.connections, headers)  # warm-up
        before = _cpu_s(process.pid)
        threads = _thread_cpu_s(process.pid) if args.threads else {}
        row = dict(_wrk_counted(url, server.body, args.duration, args.connections, headers))
        requests = max(row["requests"], 1)
        row["cpu_us"] = (_cpu_s(process.pid) - before) / requests * 1e6
        if args.threads:
            for name, spent in _thread_cpu_s(process.pid).items():
                row[f"thread:{name}"] = (spent - threads.get(name, 0.0)) / requests * 1e6
        return row
    finally:
        harness._stop(process)


def _wrk_counted(
    url: str, body: dict[str, Any], duration: int, connections: int, headers: dict[str, str]
) -> dict[str, float]:
    """One wrk run (core 1, no warm-up of its own): req/s, p50, p99, non-2xx and requests."""
    script = (
        'wrk.method = "POST"\n'
        'wrk.headers["content-type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
    )
    for name, value in headers.items():
        script += f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                *("taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s"),
                *("--latency", "-s", handle.name, url),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)

    def found(pattern: str) -> str:
        match = re.search(pattern, out)
        assert match is not None, out
        return match.group(1)

    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": float(found(r"Requests/sec:\s+([\d.]+)")),
        "p50": harness._millis(found(r"50%\s+([\d.]+\w+)")),
        "p99": harness._millis(found(r"99%\s+([\d.]+\w+)")),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "requests": float(found(r"(\d+) requests in")),
    }


def _table(title: str, rows: dict[str, dict[str, float]], goal: float) -> None:
    print(f"\n{title}")
    print(
        f"{'case':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'vs off':>7}"
        f" {'CPU µs/req':>11} {'off/CPU':>8}"
    )
    base, base_cpu = rows["off"]["rps"], rows["off"]["cpu_us"]
    for name, row in rows.items():
        if not base or not row["rps"]:
            print(f"{name:<12} no request was answered in time: no figures")
            continue
        print(
            f"{name:<12} {row['rps']:>9.0f} {row['p50']:>8.2f} {row['p99']:>8.2f} "
            f"{row['non_2xx']:>8.0f} {row['rps'] / base:>6.2f}x {row['cpu_us']:>11.0f}"
            f" {base_cpu / row['cpu_us']:>7.2f}x"
        )
    print(
        f"goal: the last row >= {goal}x of off (off/CPU: the throughput a server core"
        " alone would allow, relative to off)"
    )
    for name, row in rows.items():
        split = {k[7:]: v for k, v in row.items() if k.startswith("thread:") and v >= 0.5}
        if split:
            ranked = sorted(split.items(), key=lambda i: -i[1])
            rest = sum(v for _, v in ranked[6:])
            parts = ", ".join(f"{k} {v:.0f}" for k, v in ranked[:6])
            parts += f", {len(ranked) - 6} more {rest:.0f}" if len(ranked) > 6 else ""
            print(f"  {name}: CPU µs/req by thread: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--only", choices=("security", "telemetry", "model"), help="run one section only"
    )
    parser.add_argument(
        "--threads", action="store_true", help="also print each server thread's CPU per request"
    )
    args = parser.parse_args()
    sections = {args.only} if args.only else {"security", "telemetry", "model"}
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset (apt-get install wrk util-linux)")

    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        home = Path(scratch)
        quiet = {"AGENTDOCK_HOME": str(home), "AGENTDOCK_LOG_FORMAT": "off"}
        if "security" in sections:
            _security(home, quiet, args)
        if sections & {"telemetry", "model"}:
            _telemetry(quiet, args, sections)


def _security(home: Path, quiet: dict[str, str], args: argparse.Namespace) -> None:
    plain = SERVERS / "echo-plain" / "Dockfile.yaml"
    secure = SERVERS / "echo-secure" / "Dockfile.yaml"
    security = {
        "off": _measure(_serve(plain, insecure=True, env=quiet), args, {}),
        "auth": _measure(
            _serve(plain, insecure=False, env=quiet),
            args,
            {"x-api-key": _api_key(home, "echo-plain")},
        ),
        "auth+pol": _measure(
            _serve(secure, insecure=False, env=quiet),
            args,
            {"x-api-key": _api_key(home, "echo-secure")},
        ),
    }
    _table("security: API-key auth and policies", security, 0.9)


def _telemetry(quiet: dict[str, str], args: argparse.Namespace, sections: set[str]) -> None:
    plain = SERVERS / "echo-plain" / "Dockfile.yaml"
    observed = SERVERS / "echo-observed" / "Dockfile.yaml"
    otlp, otlp_url = _receiver()
    langfuse, langfuse_url = _receiver()
    telemetry_env = {
        **quiet,
        "BENCH_OTLP": otlp_url,
        "BENCH_LANGFUSE": langfuse_url,
        "LANGFUSE_PUBLIC": "pk-lf-bench",
        "LANGFUSE_SECRET": "sk-lf-bench",
    }
    # The sampling docs/tracing.md recommends for CPU-bound services: a tenth of the runs.
    sampled_env = {
        **telemetry_env,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        "LANGFUSE_SAMPLE_RATE": "0.1",
    }
    if "telemetry" in sections:
        telemetry = {
            "off": _measure(_serve(plain, insecure=True, env=quiet), args, {}),
            "on, 10%": _measure(_serve(observed, insecure=True, env=sampled_env), args, {}),
            "on": _measure(_serve(observed, insecure=True, env=telemetry_env), args, {}),
        }
        _table("telemetry: Prometheus + OpenTelemetry + LangFuse", telemetry, 0.95)
        print("goal with 10% sampling: >= 0.98x of off")
    if "model" in sections:
        model_plain = SERVERS / "model-plain" / "Dockfile.yaml"
        model_observed = SERVERS / "model-observed" / "Dockfile.yaml"
        model = {
            "off": _measure(_serve(model_plain, insecure=True, env=quiet), args, {}),
            "on": _measure(_serve(model_observed, insecure=True, env=telemetry_env), args, {}),
        }
        _table("a model that takes 20 ms and streams 50 tokens: all telemetry on", model, 0.99)
        if model["off"]["p50"]:
            p50 = model["on"]["p50"] / model["off"]["p50"]
            print(f"p50 on / off: {p50:.3f} (goal: within 1 %)")
    print(f"\nreceived by the OTLP and LangFuse endpoints: {_Receiver.received}")
    otlp.shutdown()
    langfuse.shutdown()


if __name__ == "__main__":
    main()
