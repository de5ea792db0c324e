"""Several worker processes, one view: PROMETHEUS_MULTIPROC_DIR merges their samples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WORKER = """
import asyncio, sys
from agentdock_plugins.prometheus.sink import PrometheusSink
runs = int(sys.argv[1])
sink = PrometheusSink()
assert sink.multiprocess_dir is not None
event = {"event": "run_end", "version": "1.0", "timestamp": "2026-11-25T16:40:00Z",
         "agent": "a", "run_id": None, "trace_id": None, "span_id": None,
         "data": {"mode": "invoke", "status": "ok", "latency_ms": 5.0,
                  "tokens_input": 2, "tokens_output": 3, "cost_usd": 0.5}}
asyncio.run(sink.emit([event] * runs))
for _ in range(runs):
    sink.http.record("/invoke", "POST", 200, 0.01)
sink.http.in_flight.inc()
if sys.argv[2] == "exit":
    asyncio.run(sink.flush())
"""

SCRAPE = """
import sys
from agentdock_plugins.prometheus.sink import PrometheusSink
sys.stdout.write(PrometheusSink().render_metrics()[0].decode())
"""


def _python(code: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _sample(body: str, prefix: str) -> float:
    lines = [line for line in body.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, (prefix, lines)
    return float(lines[0].rsplit(" ", 1)[1])


def test_workers_report_one_merged_view(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _python(WORKER, "3", "stay", env=env)
    _python(WORKER, "4", "exit", env=env)
    body = _python(SCRAPE, env=env)
    assert _sample(body, 'agentdock_runs_total{mode="invoke",status="ok"}') == 7
    assert _sample(body, 'agentdock_tokens_total{direction="input"}') == 14
    assert _sample(body, "agentdock_cost_usd_total") == 3.5
    assert (
        _sample(body, 'agentdock_http_requests_total{method="POST",route="/invoke",status="200"}')
        == 7
    )
    # The worker that flushed (shut down) left the in-flight sum; the other one counts.
    assert _sample(body, "agentdock_http_requests_in_flight") == 1
    assert "process_resident_memory_bytes" not in body
