"""Rate limits across the worker processes of one real ``agentdock serve --workers 2``.

Every worker writes its metrics to files of its own (``PROMETHEUS_MULTIPROC_DIR``, named by
its pid): read one by one, they tell how many of a caller's requests each worker admitted
and refused. Both workers handling the caller and exactly the budget admitted in all proves
the budget is shared: two budgets of 20 would admit at least 21 between two workers that
each saw a request. With ``AGENTDOCK_REDIS_URL`` set, killing Redis mid-run leaves the
workers limiting from the spend they last heard of, together.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from processes import stop, wait_ready

pytestmark = pytest.mark.slow
pytest_plugins = ("redisserver",)

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"
SECRET = "planted-workers-secret-0123456789abcdef-01"
BUDGET = 20

DOCKFILE = f"""\
version: "1.1"
agent: {{name: echo, entrypoint: "echo.graph:build_graph", framework: langgraph}}
model: {{provider: custom, name: echo, extra: {{offline: true}}}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
  output: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
auth:
  mode: jwt
  jwt: {{secret_key: "${{JWT_SECRET}}"}}
  rate_limits: {{developer: "{BUDGET}/h"}}
expose: {{rest: true, streaming: sse, port: 8080}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(sub: str, role: str = "developer") -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": sub, "role": role, "agent": "echo", "iat": now, "exp": now + 600}
    return {"authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}


class Served:
    """A running ``serve --workers 2`` and the directory of its workers' metric files."""

    def __init__(self, proc: subprocess.Popen[bytes], base: str, metrics: Path) -> None:
        self.proc = proc
        self.base = base
        self.metrics = metrics
        self.sent = 0

    def burst(self, n: int, headers: dict[str, str]) -> list[int]:
        """``n`` concurrent requests, each on a connection of its own (the kernel hands each
        to whichever worker accepts first); their statuses."""

        async def main() -> list[int]:
            limits = httpx.Limits(max_keepalive_connections=0, max_connections=n)
            async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as http:
                responses = await asyncio.gather(
                    *(http.post("/invoke", json={"text": "x"}, headers=headers) for _ in range(n))
                )
            return [r.status_code for r in responses]

        statuses = asyncio.run(main())
        self.sent += n
        assert set(statuses) <= {200, 429}, statuses
        return statuses

    def metrics_text(self) -> str:
        """``GET /metrics`` (merged over the workers), as an admin."""
        response = httpx.get(f"{self.base}/metrics", headers=token("root", "admin"), timeout=10)
        assert response.status_code == 200, response.text
        return response.text

    def per_worker(self) -> dict[str, tuple[int, int]]:
        """pid → (admitted, refused) once the workers' counters account for every request
        sent (telemetry reaches the metrics a moment after the response)."""
        deadline = time.monotonic() + 30
        while True:
            counts = {pid: _counts(files) for pid, files in _files_by_pid(self.metrics).items()}
            if sum(a + r for a, r in counts.values()) == self.sent:
                return counts
            assert time.monotonic() < deadline, (counts, self.sent)
            time.sleep(0.1)


def _files_by_pid(directory: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in directory.glob("counter_*.db"):
        found.setdefault(path.stem.rsplit("_", 1)[1], []).append(path)
    return found


def _counts(files: list[Path]) -> tuple[int, int]:
    """(invoke runs that ended ok, requests refused by a rate limit) in one worker's files."""
    text = _render(files)
    return (
        int(_sample(text, 'agentdock_runs_total{mode="invoke",status="ok"}')),
        int(_sample(text, "agentdock_rate_limited_requests_total")),
    )


def _render(files: list[Path]) -> str:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    with tempfile.TemporaryDirectory() as one:
        for path in files:
            shutil.copy(path, one)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=one)
        return generate_latest(registry).decode()


def _sample(text: str, series: str) -> float:
    match = re.search("^" + re.escape(series) + r" (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@contextmanager
def serve(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    root = tmp_path / "proj"
    shutil.copytree(ECHO / "echo", root / "echo", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "Dockfile.yaml").write_text(DOCKFILE)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    environ = {k: v for k, v in os.environ.items() if k != "AGENTDOCK_REDIS_URL"}
    environ.update(
        {
            "JWT_SECRET": SECRET,
            "AGENTDOCK_HOME": str(tmp_path / "home"),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
    )
    port = free_port()
    command = [sys.executable, "-m", "agentdock_cli", "serve", str(root / "Dockfile.yaml")]
    command += ["--workers", "2", "--port", str(port), "--json"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, cwd=root
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        yield Served(proc, base, metrics)
    finally:
        stop(proc)


def reach_both_workers(served: Served, headers: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Send this (spent) caller more bursts until each worker has had some of its requests."""
    counts = served.per_worker()
    for _ in range(20):
        if len(counts) == 2 and all(a + r for a, r in counts.values()):
            return counts
        assert served.burst(10, headers).count(200) == 0
        counts = served.per_worker()
    pytest.fail(f"the requests never reached both workers: {counts}")


def test_two_workers_share_one_budget_without_redis(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        ann = token("ann")
        assert served.burst(60, ann).count(200) == BUDGET
        counts = reach_both_workers(served, ann)
        # Both workers had the caller's requests, and BUDGET were admitted in all: a worker
        # refused it with fewer than BUDGET admitted by itself.
        assert sum(admitted for admitted, _ in counts.values()) == BUDGET
        assert any(admitted < BUDGET and refused for admitted, refused in counts.values())
        # Another caller has a budget of its own.
        assert served.burst(30, token("bob")).count(200) == BUDGET


def test_workers_keep_the_spend_when_redis_dies_mid_run(
    tmp_path: Path, redis_servers: Callable[..., Any]
) -> None:
    """Both workers copy what Redis answers into the table they share: killed Redis leaves
    them limiting from the spend they last heard of, so the budget holds exactly."""
    redis = redis_servers()
    with serve(tmp_path, {"AGENTDOCK_REDIS_URL": redis.url}) as served:
        ann = token("ann")
        assert served.burst(12, ann).count(200) == 12
        # A worker whose Redis answer came later than its client waits (a loaded machine)
        # limited alone for a while already: then the documented bound, not the exact one.
        early = _sample(served.metrics_text(), "agentdock_ratelimit_fallbacks_total")
        redis.kill()
        after = served.burst(30, ann).count(200)
        if early == 0:
            assert after == BUDGET - 12
        else:
            assert after <= BUDGET
        counts = reach_both_workers(served, ann)
        assert sum(admitted for admitted, _ in counts.values()) == 12 + after
        text = served.metrics_text()
        # Every worker that has served since Redis died limits locally, and says so.
        assert _sample(text, "agentdock_ratelimit_fallbacks_total") >= 1
        assert _sample(text, 'agentdock_ratelimit_backend{state="local"}') >= 1
