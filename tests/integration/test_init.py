"""`agentdock init`: scaffolded projects validate and pass their own tests; no clobbering."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import agentdock
import pytest
from _cli import run_cli
from agentdock_cli.scaffold import (
    AGENT_NAME_PATTERN,
    InvalidAgentNameError,
    ScaffoldConflictError,
    UnknownTemplateError,
    available_templates,
    default_agent_name,
    plan,
    scaffold,
)

TEMPLATES = ["langchain", "langgraph"]
COMMON_FILES = {
    ".env.example",
    ".gitignore",
    "Dockfile.yaml",
    "README.md",
    "agent/__init__.py",
    "agent/model.py",
    "tests/conftest.py",
    "tests/test_agent.py",
}
ENTRY_FILES = {"langgraph": "agent/graph.py", "langchain": "agent/chain.py"}


invoke = run_cli


def invoke_json(args: list[str], cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    code, out, _ = invoke([*args, "--json"], cwd)
    document = json.loads(out)  # exactly one JSON object on stdout
    assert isinstance(document, dict)
    return code, document


def files_under(directory: Path) -> set[str]:
    return {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_bundled_templates() -> None:
    # The agent templates, and a plugin distribution (test_init_plugin_template.py).
    assert available_templates() == [*TEMPLATES, "plugin"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffolded_project_validates_and_passes_its_tests(tmp_path: Path, template: str) -> None:
    project = tmp_path / "my-agent"
    code, out, _ = invoke(["init", str(project), "--template", template])
    assert code == 0, out
    assert files_under(project) == COMMON_FILES | {ENTRY_FILES[template]}
    assert "✓" in out
    assert f"validate {project / 'Dockfile.yaml'}" in out  # how: see the next-steps tests

    dockfile = (project / "Dockfile.yaml").read_text(encoding="utf-8")
    assert "name: my-agent\n" in dockfile
    assert f"framework: {template}\n" in dockfile
    # The Dockfile's own ${VAR} references survive rendering.
    assert '"${AGENT_MODEL_NAME:-offline-fake}"' in dockfile
    assert "${NAME}" in (project / ".env.example").read_text(encoding="utf-8")

    report = agentdock.validate(project / "Dockfile.yaml")
    assert report.ok, [f.one_line() for f in report.errors]
    assert report.warnings == (), [f.one_line() for f in report.warnings]
    assert report.spec.agent.name == "my-agent"
    assert report.spec.model.name == "offline-fake"

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout


def test_python_dash_m_init_with_json(tmp_path: Path) -> None:
    project = tmp_path / "sub" / "support_bot"
    completed = subprocess.run(
        [sys.executable, "-m", "agentdock_cli", "init", str(project), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document == {
        "ok": True,
        "directory": str(project),
        "template": "langgraph",
        "agent": "support_bot",
        "files": sorted(document["files"]),
    }
    assert {Path(f).relative_to(project).as_posix() for f in document["files"]} == (
        COMMON_FILES | {ENTRY_FILES["langgraph"]}
    )
    assert all(Path(f).is_file() for f in document["files"])


def test_defaults_to_the_current_directory(tmp_path: Path) -> None:
    here = tmp_path / "Weather Bot"
    here.mkdir()
    code, document = invoke_json(["init"], cwd=here)
    assert code == 0
    assert document["directory"] == "."
    assert document["agent"] == "weather-bot"
    assert (here / "Dockfile.yaml").is_file()
    assert "name: weather-bot\n" in (here / "Dockfile.yaml").read_text(encoding="utf-8")


def test_name_option_overrides_the_directory(tmp_path: Path) -> None:
    code, document = invoke_json(["init", str(tmp_path / "x"), "--name", "billing_agent"])
    assert code == 0
    assert document["agent"] == "billing_agent"
    dockfile = (tmp_path / "x" / "Dockfile.yaml").read_text(encoding="utf-8")
    assert "name: billing_agent\n" in dockfile


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("mine\n", encoding="utf-8")
    (project / "agent").mkdir()
    (project / "agent" / "model.py").write_text("MODEL = 1\n", encoding="utf-8")

    code, _out, err = invoke(["init", str(project)])
    assert code == 1
    assert "--force" in err
    assert str(project / "README.md") in err
    assert str(project / "agent" / "model.py") in err
    assert (project / "README.md").read_text(encoding="utf-8") == "mine\n"
    assert (project / "agent" / "model.py").read_text(encoding="utf-8") == "MODEL = 1\n"
    assert files_under(project) == {"README.md", "agent/model.py"}


def test_refusal_as_json(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "Dockfile.yaml").write_text("version: '1.1'\n", encoding="utf-8")
    code, document = invoke_json(["init", str(project), "--template", "langchain"])
    assert code == 1
    assert document["ok"] is False
    assert document["template"] == "langchain"
    assert document["agent"] == "proj"
    assert document["conflicts"] == [str(project / "Dockfile.yaml")]
    assert "--force" in document["error"]
    assert files_under(project) == {"Dockfile.yaml"}


def test_force_overwrites(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("mine\n", encoding="utf-8")
    (project / "notes.txt").write_text("keep me\n", encoding="utf-8")
    code, _out, _err = invoke(["init", str(project), "--force"])
    assert code == 0
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# proj\n")
    assert "agentdock validate" in readme
    assert (project / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    assert agentdock.validate(project, skip_imports=True).ok


def test_unknown_template_is_a_usage_error(tmp_path: Path) -> None:
    code, _out, err = invoke(["init", str(tmp_path / "p"), "--template", "crewai"])
    assert code == 2
    assert "langgraph" in err
    assert "langchain" in err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("name", ["X", "ab", "1agent", "my agent", "Agent", "a" * 65])
def test_invalid_name_is_a_usage_error(tmp_path: Path, name: str) -> None:
    code, _out, err = invoke(["init", str(tmp_path / "p"), "--name", name])
    assert code == 2
    assert "--name" in err
    assert not (tmp_path / "p").exists()


def test_target_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x", encoding="utf-8")
    code, _out, _err = invoke(["init", str(target)])
    assert code == 2
    assert target.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("chat", "chat"),
        ("My Bot", "my-bot"),
        ("invoice_copilot", "invoice_copilot"),
        ("x", "agent-x"),
        ("ab", "agent-ab"),
        ("9lives", "agent-9lives"),
        ("--", "agent"),
        ("Ünïcode Agent!", "n-code-agent"),
        ("a" * 80, "a" * 64),
    ],
)
def test_default_agent_name(directory: str, expected: str) -> None:
    name = default_agent_name(Path("/somewhere") / directory)
    assert name == expected
    assert AGENT_NAME_PATTERN.match(name)


def test_python_api(tmp_path: Path) -> None:
    written = scaffold(tmp_path / "api", template="langchain", name="api-agent")
    planned = plan("langchain", "api-agent")
    assert written == [tmp_path / "api" / Path(*f.relative.parts) for f in planned]
    for path, planned_file in zip(written, planned, strict=True):
        assert path.read_bytes() == planned_file.content

    with pytest.raises(ScaffoldConflictError) as excinfo:
        scaffold(tmp_path / "api", template="langchain", name="api-agent")
    assert excinfo.value.conflicts == written
    assert scaffold(tmp_path / "api", template="langchain", name="api-agent", force=True)

    with pytest.raises(UnknownTemplateError, match="langgraph"):
        scaffold(tmp_path / "other", template="nope")
    with pytest.raises(InvalidAgentNameError):
        scaffold(tmp_path / "other", name="Bad Name")
    assert not (tmp_path / "other").exists()


def test_dollar_escapes_in_templates() -> None:
    # Every $ in a rendered template is either the agent name or text kept verbatim.
    for template in TEMPLATES:
        for planned in plan(template, "zz-probe"):
            text = planned.content.decode("utf-8")
            assert "$agent_name" not in text
            assert "$template" not in text


# -- the printed next steps work when pasted -----------------------------------------------

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _shell_env(path: str) -> dict[str, str]:
    """A login shell's environment: no uv run variables, no virtual environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("UV") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = path
    return env


def _next_steps(out: str) -> list[str]:
    lines = out.splitlines()
    steps = [line.strip() for line in lines[lines.index("Next steps:") + 1 :] if line.strip()]
    assert len(steps) == 2, out
    return steps


def _paste(steps: list[str], cwd: Path, env: dict[str, str]) -> None:
    for step in steps:
        done = subprocess.run(
            ["bash", "-c", step], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{step}\n{done.stdout}\n{done.stderr}"


def test_next_steps_with_agentdock_on_path(tmp_path: Path) -> None:
    env = _shell_env(f"{VENV_BIN}:/usr/bin:/bin")
    done = subprocess.run(
        ["agentdock", "init", "my-agent"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    steps = _next_steps(done.stdout)
    assert steps == ["agentdock validate my-agent/Dockfile.yaml", "python -m pytest my-agent/tests"]
    _paste(steps, tmp_path, env)


def test_next_steps_after_uv_run_in_a_uv_project(tmp_path: Path) -> None:
    uv = shutil.which("uv") or os.environ.get("UV")
    assert uv, "uv is needed to run AgentDock's own commands (README)"
    # What `uv run agentdock init` sees: its environment first on PATH, for this command only.
    shell = _shell_env(f"{Path(uv).parent}:/usr/bin:/bin")
    under_uv = {**shell, "PATH": f"{VENV_BIN}:{shell['PATH']}", "UV_RUN_RECURSION_DEPTH": "1"}
    target = tmp_path / "my agent"
    done = subprocess.run(
        ["agentdock", "init", str(target), "--name", "my-agent"],
        cwd=REPO,
        env=under_uv,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    steps = _next_steps(done.stdout)
    assert steps == [
        f"uv run agentdock validate '{target}/Dockfile.yaml'",
        f"uv run python -m pytest '{target}/tests'",
    ]
    # Pasted into the shell that ran `uv run` (frozen: the lock is not touched here).
    _paste(steps, REPO, {**shell, "UV_FROZEN": "1", "UV_OFFLINE": "1"})


def test_next_steps_with_neither(tmp_path: Path) -> None:
    env = _shell_env("/usr/bin:/bin")
    done = subprocess.run(
        [sys.executable, "-m", "agentdock_cli", "init", "my-agent"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    steps = _next_steps(done.stdout)
    assert steps[0] == f"{sys.executable} -m agentdock_cli validate my-agent/Dockfile.yaml"
    _paste(steps, tmp_path, env)
