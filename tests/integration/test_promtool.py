"""``promtool check metrics`` on a real scrape of ``/metrics`` after traffic: no errors, no
warnings. Skips without promtool, unless ``AGENTDOCK_REQUIRE_SERVERS=1`` (then it fails)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from agentdock.testing import client
from processes import require_binary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "sk-planted-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool", "Debian: apt-get install prometheus")


@pytest.fixture
def react_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("AGENTDOCK_LOG_FORMAT", "off")
    monkeypatch.setenv("AGENTDOCK_TELEMETRY_DB", str(tmp_path / "telemetry.db"))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    project = tmp_path / "react-tools"
    shutil.copytree(
        EXAMPLES / "react-tools",
        project,
        ignore=shutil.ignore_patterns("__pycache__", ".agentdock"),
    )
    try:
        with client(project / "Dockfile.yaml", insecure_no_auth=True, timeout=30) as http:
            yield http
    finally:
        while str(project) in sys.path:
            sys.path.remove(str(project))
        for name in [n for n in sys.modules if n.split(".")[0] == "react_agent"]:
            del sys.modules[name]


def test_scrape_after_traffic_passes_promtool(promtool: str, react_tools: httpx.Client) -> None:
    http = react_tools
    assert http.post("/invoke", json={"question": "Please refund order A-1001."}).status_code == 200
    assert http.post("/invoke", json={"question": f"status of A-1002 {SECRET}"}).status_code == 200
    assert http.post("/invoke", json={"nope": 1}).status_code == 422
    assert http.post("/invoke", content=b"{not json").status_code == 400
    with http.stream("GET", "/stream", params={"input": '{"question": "refund A-1001"}'}) as r:
        assert r.status_code == 200
        r.read()
    for path in ("/health", "/ready", "/schema", f"/{SECRET}", "/random/123"):
        http.get(path)
    scrape = http.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    body = scrape.text
    assert 'agentdock_http_requests_total{method="POST",route="/invoke",status="200"} 2.0' in body
    assert 'agentdock_runs_total{mode="invoke",status="ok"}' in body
    assert "agentdock_run_duration_seconds_bucket" in body
    assert "process_resident_memory_bytes" in body
    assert SECRET not in body
    assert "/random/123" not in body

    checked = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == "", (
        checked.stdout + checked.stderr
    )
