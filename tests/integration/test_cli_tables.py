"""Tables for people and for pipes: nothing cut short when stdout is not a terminal (where
rich would assume 80 columns), nothing cut with an ellipsis in a narrow terminal, and the
agent's name printed as written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _cli import run_cli
from agentdock_plugins.localstore.store import COLUMNS, connect, insert_rows

AGENT = "my-agent-with-a-name-long-enough-to-be-cut"


@pytest.fixture
def telemetry(tmp_path: Path) -> Path:
    db = tmp_path / "telemetry.db"
    conn = connect(db)
    row = dict.fromkeys(COLUMNS)
    row.update(ts=time.time(), agent=AGENT, kind="run", status="ok", duration_ms=3.0)
    insert_rows(conn, [tuple(row[c] for c in COLUMNS)])
    conn.commit()
    conn.close()
    return db


def test_metrics_piped_names_the_agent_as_written(telemetry: Path) -> None:
    code, out, _ = run_cli(["metrics", "show", AGENT, "--db", str(telemetry)])
    assert code == 0
    title, *rows = out.splitlines()
    assert title.startswith(f"# metrics of {AGENT} since ")
    assert rows[0] == "requests\t1" and "latency p50\t3.0 ms" in rows


def test_metrics_in_a_narrow_terminal(telemetry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws for a terminal ...
    monkeypatch.setenv("COLUMNS", "40")  # ... 40 columns wide
    code, out, _ = run_cli(["metrics", "show", AGENT, "--db", str(telemetry)])
    assert code == 0
    assert f"metrics of {AGENT}" in " ".join(out.split())  # folded, not capitalised
    assert "…" not in out and "M" + AGENT[1:] not in out


def test_key_list_in_a_narrow_terminal_folds_instead_of_cutting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    code, _, _ = run_cli(
        ["key", "create", "--agent", AGENT, "--role", "developer", "--not-deployed"]
    )
    assert code == 0
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = run_cli(["key", "list"])
    assert code == 0 and "┃" in out  # a rich table
    assert "…" not in out
    assert AGENT in "".join(line.split("│")[2].strip() for line in out.splitlines() if "│" in line)
