"""``agentdock rm``, ``cleanup`` and ``instances`` through the CLI: confirmation, reasons,
freed bytes, exit codes (the in-process fake builder and target stand in for real ones)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from agentdock import make_plugin_manager
from agentdock.deployment import deploy
from agentdock.registry import open_store
from agentdock_cli.main import cli
from click.testing import CliRunner
from deploy_fakes import FakePlugin

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    plugin = FakePlugin()
    manager = make_plugin_manager(entry_points=True, plugins=[("fake", plugin)])
    monkeypatch.setattr("agentdock.plugins.get_plugin_manager", lambda: manager)
    return manager, plugin


@pytest.fixture
def released(tmp_path: Path, fakes: Any) -> Any:
    """echo 0.1.0 then 0.1.1 deployed (0.1.1 serves)."""
    manager, plugin = fakes
    project = tmp_path / "echo"
    shutil.copytree(ECHO, project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    for _ in range(2):
        deploy(project / "Dockfile.yaml", target="fake", plugins=manager, check_imports=False)
        graph = project / "echo" / "graph.py"
        graph.write_text(graph.read_text() + "\n# change\n")
    return plugin


def test_rm_without_yes_and_without_a_terminal_refuses(released: FakePlugin) -> None:
    code, out, err = run_cli(["rm", "echo"])  # CliRunner: no terminal
    assert code == 2
    assert "refusing to remove echo (every instance) without confirmation: pass --yes" in err
    code, out, _ = run_cli(["rm", "echo", "--json"])
    assert code == 2 and json.loads(out)["error"] == "ConfirmationRequired"
    assert released.target.running  # nothing stopped


def test_rm_asks_in_a_terminal(released: FakePlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentdock_cli.commands.lifecycle._interactive", lambda: True)
    said_no = CliRunner().invoke(cli, ["rm", "echo"], input="n\n")
    assert said_no.exit_code == 1
    assert "stop    echo 0.1.1" in said_no.stderr and "delete  0.1.0" in said_no.stderr
    assert "Nothing was stopped or removed." in said_no.stderr
    assert released.target.running
    said_yes = CliRunner().invoke(cli, ["rm", "echo"], input="y\n")
    assert said_yes.exit_code == 0, said_yes.output
    assert "Stopped echo 0.1.1" in said_yes.stdout
    assert "Removed 2 artifact(s), freed " in said_yes.stdout
    assert released.target.running == {}


def test_rm_yes_json_reports_freed_bytes_and_keeps_the_history(
    released: FakePlugin, tmp_path: Path
) -> None:
    code, out, err = run_cli(["rm", "echo", "--yes", "--json"])
    assert code == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["ok"] and [d["version"] for d in result["stopped"]] == ["0.1.1"]
    assert sorted(r["version"] for r in result["removed"]) == ["0.1.0", "0.1.1"]
    assert result["freed_bytes"] == sum(r["freed_bytes"] for r in result["removed"]) > 0
    assert released.target.running == {}
    code, out, _ = run_cli(["versions", "echo", "--json"])
    assert code == 0 and [v["version"] for v in json.loads(out)["versions"]] == ["0.1.0", "0.1.1"]
    with open_store() as store:
        assert "agent.remove" in [e.action for e in store.list_audit(agent="echo")]
    code, out, err = run_cli(["rm", "ehco", "--yes"])
    assert code == 5 and "did you mean 'echo'?" in err
    assert str(tmp_path / "home" / "registry.db") in err


def test_cleanup_says_why_and_frees_a_stopped_agent(released: FakePlugin) -> None:
    code, out, _ = run_cli(["cleanup", "echo", "--keep", "0"])
    assert code == 0
    assert "Removed 0 artifact(s)" in out
    assert "0.1.1  fake:" in out and "(serves the default instance)" in out
    assert "(rollback target of the default instance)" in out
    assert run_cli(["stop", "echo"])[0] == 0
    code, out, _ = run_cli(["cleanup", "echo", "--keep", "0", "--json"])
    result = json.loads(out)
    assert code == 0 and [r["version"] for r in result["kept"]] == ["0.1.0"]  # the rollback's
    assert result["kept"][0]["reason"] == "rollback target of the default instance (stopped)"
    assert [r["version"] for r in result["removed"]] == ["0.1.1"]
    assert result["freed_bytes"] > 0
    code, out, _ = run_cli(["rollback", "echo", "--json"])
    assert code == 0 and json.loads(out.splitlines()[-1])["version"] == "0.1.0"


def test_instances_with_none_says_so(released: FakePlugin) -> None:
    code, out, _ = run_cli(["instances", "echo"])
    assert code == 0
    assert (
        out.strip() == "echo has no named instances (its default instance: agentdock status echo)"
    )
    code, out, _ = run_cli(["instances", "echo", "--json"])
    assert code == 0 and json.loads(out) == {"ok": True, "agent": "echo", "instances": []}


def test_instances_piped_is_tab_separated(released: FakePlugin, tmp_path: Path) -> None:
    dockfile = str(tmp_path / "echo" / "Dockfile.yaml")
    code, out, err = run_cli(["deploy", dockfile, "--instance", "acme", "--target", "fake"])
    assert code == 0, out + err
    code, out, _ = run_cli(["instances", "echo"])
    header, row = out.splitlines()
    assert header.split("\t")[:3] == ["instance", "version", "status"]
    assert row.split("\t")[:3] == ["acme", "0.1.2", "active"]
