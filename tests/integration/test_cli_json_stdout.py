"""With ``--json`` stdout is machine-read: a single-document command prints exactly one JSON
document there (its progress goes to stderr), and ``deploy``, ``build`` and ``rollback``
one JSON event per line. Each command runs through the CLI against the in-process fake
builder and target, and its whole stdout is parsed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from deploy_fakes import FakePlugin

pytest_plugins = ("deploy_fixtures",)

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


@pytest.fixture
def project(tmp_path: Path, cli_fakes: FakePlugin) -> Path:
    """echo 0.1.0 then 0.1.1 deployed on the fake target through the CLI (0.1.1 serves)."""
    dest = tmp_path / "echo"
    shutil.copytree(ECHO, dest, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    graph = dest / "echo" / "graph.py"
    for _ in range(2):
        lines = _events(["deploy", str(dest / "Dockfile.yaml"), "--target", "fake"], dest)
        assert lines[-1]["event"] == "result" and lines[-1]["ok"] is True
        graph.write_text(graph.read_text() + "\n# change\n")
    return dest


def _events(args: list[str], cwd: Path) -> list[dict[str, Any]]:
    code, out, err = run_cli([*args, "--json"], cwd=cwd)
    assert code == 0, out + err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and all(isinstance(line, dict) and "event" in line for line in lines)
    return lines


def _document(args: list[str], cwd: Path, code: int | None = 0) -> dict[str, Any]:
    """The one JSON document on stdout (json.loads of the whole of it); ``code`` None: any
    exit code (a failure is one document too)."""
    status, out, err = run_cli([*args, "--json"], cwd=cwd)
    assert code is None or status == code, out + err
    document = json.loads(out)  # raises on a second line: progress mixed in
    assert isinstance(document, dict)
    return document


#: Single-document commands that change nothing deployed (``metrics show`` finds no
#: telemetry here: exit 5, its error the document).
READERS = [
    ["status", "echo"],
    ["instances", "echo"],
    ["versions", "echo"],
    ["key", "list", "--agent", "echo"],
    ["key", "create", "--agent", "echo", "--role", "developer", "--not-deployed"],
    ["audit-log", "list"],
    ["audit-log", "verify"],
    ["plugins"],
    ["validate", "Dockfile.yaml"],
    ["audit", "."],
    ["metrics", "show", "echo"],
    ["hardware"],
]


def test_every_single_document_command_prints_one_document(project: Path) -> None:
    for args in READERS:
        _document(args, project, code=None)
    rolled = _events(["rollback", "echo"], project)
    assert rolled[-1]["version"] == "0.1.0"
    stopped = _document(["stop", "echo"], project)
    assert stopped["ok"] is True and stopped["version"] == "0.1.0"
    cleaned = _document(["cleanup", "echo", "--keep", "1"], project)
    assert cleaned["ok"] is True and isinstance(cleaned["removed"], list)
    removed = _document(["rm", "echo", "--yes"], project)
    assert removed["ok"] is True and removed["removed"]
    # the refusal without --yes, and a failure, are one document too
    refused = _document(["rm", "echo"], project, code=2)
    assert refused["ok"] is False
    missing = _document(["cleanup", "ghost"], project, code=5)
    assert missing["ok"] is False


def test_progress_of_a_single_document_command_goes_to_stderr(project: Path) -> None:
    code, out, err = run_cli(["rm", "echo", "--yes", "--json"], cwd=project)
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True
    progress = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {p["step"] for p in progress} >= {"stop", "remove"}
    assert all(p["event"] == "progress" for p in progress)
