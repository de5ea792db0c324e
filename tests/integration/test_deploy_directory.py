"""``agentdock deploy DIR``: every agent of a directory of agents, each its own deployment,
all validated before anything is built, stopping at the first failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from agentdock.deployment import BuildFailed, InvalidDeployInput, deploy_directory
from agentdock.registry import open_store
from deploy_fakes import FakePlugin

pytest_plugins = ("deploy_fixtures",)

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


def _agent(root: Path, folder: str, name: str) -> Path:
    dest = root / folder
    shutil.copytree(ECHO, dest, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    dockfile = dest / "Dockfile.yaml"
    text = dockfile.read_text().replace("  name: echo\n", f"  name: {name}\n", 1)
    dockfile.write_text(text + "\ndeploy:\n  target: fake\n")
    return dest


@pytest.fixture
def agents(tmp_path: Path) -> Path:
    root = tmp_path / "agents"
    _agent(root, "one", "alpha")
    _agent(root, "two", "zeta")
    return root


def _deployments(agent: str) -> list[str]:
    with open_store() as store:
        return [d.status for d in store.list_deployments(agent)]


def test_every_agent_is_deployed_as_its_own(agents: Path, fakes: tuple[Any, FakePlugin]) -> None:
    manager, plugin = fakes
    steps: list[tuple[str, str]] = []
    done = deploy_directory(
        agents,
        plugins=manager,
        check_imports=False,
        progress=lambda step, message, **_: steps.append((step, message)),
    )
    assert [(d.agent, d.version, d.status) for d in done] == [
        ("alpha", "0.1.0", "active"),
        ("zeta", "0.1.0", "active"),
    ]
    assert [m for s, m in steps if s == "agent"] == ["alpha (1 of 2)", "zeta (2 of 2)"]
    assert done[0].endpoint != done[1].endpoint
    assert all(d.api_key for d in done)
    assert _deployments("alpha") == ["active"] and _deployments("zeta") == ["active"]
    again = deploy_directory(agents, plugins=manager, check_imports=False)
    assert [d.noop for d in again] == [True, True]
    assert len(plugin.target.running) == 2


def test_an_invalid_dockfile_refuses_the_whole_directory(
    agents: Path, fakes: tuple[Any, FakePlugin]
) -> None:
    manager, _ = fakes
    broken = agents / "two" / "Dockfile.yaml"
    broken.write_text(broken.read_text().replace("  entrypoint:", "  entrypiont:", 1))
    with pytest.raises(InvalidDeployInput) as refused:
        deploy_directory(agents, plugins=manager, check_imports=False)
    assert str(broken) in refused.value.cause
    assert _deployments("alpha") == []


def test_two_agents_of_one_name_are_refused_naming_both(
    agents: Path, fakes: tuple[Any, FakePlugin]
) -> None:
    manager, _ = fakes
    _agent(agents, "three", "alpha")
    with pytest.raises(InvalidDeployInput) as refused:
        deploy_directory(agents, plugins=manager, check_imports=False)
    cause = refused.value.cause
    assert "alpha" in cause and "one/Dockfile.yaml" in cause and "three/Dockfile.yaml" in cause
    assert _deployments("alpha") == []


def test_the_first_failure_stops_and_names_what_was_deployed(
    agents: Path, fakes: tuple[Any, FakePlugin]
) -> None:
    manager, plugin = fakes
    original = plugin.builder.build

    def build(request: Any, progress: Any) -> Any:
        if request.agent == "zeta":
            raise BuildFailed("the build of zeta broke")
        return original(request, progress)

    plugin.builder.build = build
    with pytest.raises(BuildFailed) as failed:
        deploy_directory(agents, plugins=manager, check_imports=False)
    assert failed.value.exit_code == 3
    assert failed.value.cause == ("agent zeta: the build of zeta broke (deployed before it: alpha)")
    assert _deployments("alpha") == ["active"] and _deployments("zeta") == []


def test_the_command_deploys_a_directory_and_refuses_per_agent_options(
    agents: Path, cli_fakes: FakePlugin, tmp_path: Path
) -> None:
    code, out, err = run_cli(["deploy", str(agents), "--json"])
    assert code == 0, out + err
    result = json.loads(out.splitlines()[-1])
    assert [a["agent"] for a in result["agents"]] == ["alpha", "zeta"]
    assert all(a["api_key"].startswith("adk_") for a in result["agents"])

    code, out, err = run_cli(["deploy", str(agents), "--version", "9.9.9"])
    assert code == 2 and "--version" in err, out + err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(["deploy", str(empty), "--json"])
    assert code == 1 and "holds no agent" in out, out + err


def test_a_refusal_prints_its_cause_as_text_not_markup(agents: Path, cli_fakes: FakePlugin) -> None:
    dockfile = agents / "one" / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace("  name: alpha\n", "  name: Alpha!\n"))
    code, out, err = run_cli(["deploy", str(dockfile)])
    assert code == 1, out + err
    assert "^[a-z][a-z0-9_-]{2,63}$" in err
