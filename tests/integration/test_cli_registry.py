"""Which registry the CLI reads: the one found up from the working directory, never one
created by a command that only reads, and named in every "not found" message."""

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
from deploy_fakes import FakePlugin

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with no AgentDock home in it or above it (the walk searches it, then
    stops: its parent is a ceiling)."""
    monkeypatch.delenv("AGENTDOCK_HOME", raising=False)
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    monkeypatch.delenv("AGENTDOCK_TELEMETRY_DB", raising=False)
    monkeypatch.setenv("AGENTDOCK_CEILING_DIRECTORIES", str(tmp_path.parent))
    return tmp_path


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI's plugin manager: the built-ins and the in-process fake builder and target."""
    plugin = FakePlugin()
    manager = make_plugin_manager(entry_points=True, plugins=[("fake", plugin)])
    monkeypatch.setattr("agentdock.plugins.get_plugin_manager", lambda: manager)
    return manager, plugin


def project(root: Path, name: str = "my-agent") -> Path:
    dest = root / name
    shutil.copytree(ECHO, dest, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    return dest


def deployed(root: Path, manager: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """echo deployed from ``root`` (where its registry is created), like the README does."""
    dest = project(root)
    monkeypatch.chdir(root)
    deploy(dest / "Dockfile.yaml", target="fake", plugins=manager, check_imports=False)
    monkeypatch.chdir(dest)
    assert (root / ".agentdock" / "registry.db").is_file()
    return dest


def everything(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_status_from_inside_the_project_reads_the_registry_above(
    root: Path, fakes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, _ = fakes
    dest = deployed(root, manager, monkeypatch)
    before = everything(root)
    for cwd in (dest, dest / "echo"):
        code, out, err = run_cli(["status", "echo", "--json"], cwd=cwd)
        assert code == 0, out + err
        info = json.loads(out)
        assert (info["agent"], info["version"], info["health"]) == ("echo", "0.1.0", "running")
        code, out, _ = run_cli(["versions", "echo", "--json"], cwd=cwd)
        assert code == 0 and [v["version"] for v in json.loads(out)["versions"]] == ["0.1.0"]
    assert everything(root) == before  # nothing created in the project


@pytest.mark.parametrize(
    "args",
    [
        ["status", "my-agent"],
        ["instances", "my-agent"],
        ["versions", "my-agent"],
        ["logs", "my-agent"],
        ["stop", "my-agent"],
        ["cleanup", "my-agent"],
        ["cleanup"],
        ["rollback", "my-agent"],
        ["rm", "my-agent", "--yes"],
        ["key", "revoke", "my-agent", "000000000000"],
        ["key", "rotate", "my-agent", "000000000000"],
        ["key", "list", "--agent", "my-agent"],
    ],
)
def test_read_only_commands_without_a_registry_create_nothing(
    root: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = project(root)
    code, out, err = run_cli(args, cwd=dest)
    assert code == 5, out + err
    assert "no registry found" in err
    assert f"{dest}" in err  # where it looked
    assert not list(root.rglob(".agentdock")), everything(root)
    code, out, _ = run_cli([*args, "--json"], cwd=dest)
    assert code == 5 and "no registry found" in out
    assert not list(root.rglob(".agentdock"))


def test_key_list_and_metrics_without_a_registry(root: Path) -> None:
    dest = project(root)
    code, out, err = run_cli(["key", "list"], cwd=dest)
    assert code == 0 and "No API keys: no registry found" in err
    code, out, _ = run_cli(["key", "list", "--json"], cwd=dest)
    assert code == 0 and json.loads(out) == {"ok": True, "keys": [], "registry": None}
    code, out, err = run_cli(["metrics", "show", "my-agent"], cwd=dest)
    assert code == 5 and str(dest / ".agentdock" / "telemetry" / "telemetry.db") in err
    assert not list(root.rglob(".agentdock"))


def test_not_found_messages_name_the_registry_and_suggest(
    root: Path, fakes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, _ = fakes
    dest = deployed(root, manager, monkeypatch)
    registry = str(root / ".agentdock" / "registry.db")
    code, out, err = run_cli(["status", "ehco"], cwd=dest)
    assert code == 5
    assert f"no agent named 'ehco' in the registry {registry}" in err
    assert "did you mean 'echo'?" in err
    code, out, _ = run_cli(["status", "echo", "--instance", "acme", "--json"], cwd=dest)
    assert code == 5 and registry in json.loads(out)["detail"]
    code, out, _ = run_cli(["rollback", "echo", "9.9.9", "--json"], cwd=dest)
    assert code == 5 and registry in json.loads(out.splitlines()[-1])["detail"]


def test_a_writing_command_says_where_it_creates_the_registry(
    root: Path, fakes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = project(root)
    code, out, _ = run_cli(["deploy", "--json", "--target", "fake"], cwd=dest)
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines()]
    (created,) = [e for e in events if e.get("step") == "registry"]
    assert created["path"] == str(dest / ".agentdock" / "registry.db")
    assert "no registry found" in created["message"]
    # The next deploy, from below, finds it and says nothing of it.
    code, out, _ = run_cli(
        ["deploy", "../Dockfile.yaml", "--json", "--target", "fake"], dest / "echo"
    )
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines()]
    assert "registry" not in [e.get("step") for e in events] and events[-1]["noop"]

    fresh = root / "other"
    fresh.mkdir()
    code, out, err = run_cli(
        ["key", "create", "--agent", "later", "--role", "developer", "--not-deployed"], cwd=fresh
    )
    assert code == 0, err
    assert f"created {fresh / '.agentdock' / 'registry.db'}" in err
    with open_store(fresh / ".agentdock" / "registry.db") as store:
        assert [k.agent for k in store.list_api_keys()] == ["later"]


def test_stopping_a_stopped_agent_says_so_and_succeeds(
    root: Path, fakes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``docker stop`` of a stopped container: nothing to do is no failure; an agent
    the registry does not know is still 5."""
    manager, _ = fakes
    dest = deployed(root, manager, monkeypatch)
    code, out, err = run_cli(["stop", "echo", "--json"], cwd=dest)
    assert code == 0, out + err
    first = json.loads(out)
    assert (first["status"], first["already_stopped"]) == ("stopped", False)
    code, out, err = run_cli(["stop", "echo", "--json"], cwd=dest)
    assert code == 0, out + err
    again = json.loads(out)
    assert again["ok"] is True and again["already_stopped"] is True
    assert (again["agent"], again["version"], again["status"]) == ("echo", "0.1.0", "stopped")
    assert again["deployment_id"] == first["deployment_id"]
    code, out, err = run_cli(["stop", "echo"], cwd=dest)
    assert code == 0, out + err
    assert "echo is already stopped (0.1.0)" in out
    code, out, err = run_cli(["stop", "ghost"], cwd=dest)
    assert code == 5, out + err
