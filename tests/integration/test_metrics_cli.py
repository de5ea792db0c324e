"""The local collector end to end: a served agent with no telemetry backend writes its runs
to the local store, and ``agentdock metrics show|export`` reads them back."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from agentdock.testing import client
from agentdock_cli.main import cli
from click.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "sk-planted-secret-0123456789abcdef"


def test_served_runs_reach_the_metrics_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "telemetry.db"
    monkeypatch.setenv("AGENTDOCK_TELEMETRY_DB", str(db))
    monkeypatch.setenv("AGENTDOCK_LOG_FORMAT", "off")
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AGENTDOCK_LOCALSTORE", raising=False)
    project = tmp_path / "react-tools"
    shutil.copytree(
        EXAMPLES / "react-tools",
        project,
        ignore=shutil.ignore_patterns("__pycache__", ".agentdock"),
    )
    try:
        with client(project / "Dockfile.yaml", insecure_no_auth=True, timeout=30) as http:
            for question in ("Please refund order A-1001.", f"Status of A-1002? {SECRET}"):
                assert http.post("/invoke", json={"question": question}).status_code == 200
            assert http.post("/invoke", json={"wrong": 1}).status_code == 422
    finally:
        while str(project) in sys.path:
            sys.path.remove(str(project))
        for module in [n for n in sys.modules if n.split(".")[0] == "react_agent"]:
            del sys.modules[module]

    runner = CliRunner()
    shown = runner.invoke(cli, ["metrics", "show", "react-tools", "--db", str(db), "--json"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    assert summary["requests"] == 3 and summary["errors"] == 1
    assert summary["latency_ms"]["p50"] is not None
    assert "lookup_order" in {row["tool"] for row in summary["tools"]}
    exported = runner.invoke(
        cli, ["metrics", "export", "--agent", "react-tools", "--db", str(db), "--format", "json"]
    )
    assert exported.exit_code == 0
    rows = json.loads(exported.output)
    assert {row["kind"] for row in rows} >= {"run", "tool"}
    assert SECRET not in exported.output and SECRET not in shown.output
