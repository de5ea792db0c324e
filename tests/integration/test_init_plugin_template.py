"""``agentdock init --template plugin``: the plugin distribution it writes is built,
installed (as a wheel, into a directory of its own) and its own tests pass; AgentDock then
finds it through its entry point and checks a Dockfile's entry against its schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

UV = shutil.which("uv")


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_plugin_template_builds_installs_and_passes_its_tests(tmp_path: Path) -> None:
    if UV is None:
        pytest.fail("uv is required to build the generated plugin")
    project = tmp_path / "my-guard"
    written = json.loads(
        _run(
            sys.executable,
            "-m",
            "agentdock_cli",
            "init",
            str(project),
            "--template",
            "plugin",
            "--name",
            "my-guard",
            "--json",
        )
    )
    names = {Path(f).relative_to(project).as_posix() for f in written["files"]}
    assert names == {
        "README.md",
        "pyproject.toml",
        "src/my_guard/__init__.py",
        "tests/Dockfile.yaml",
        "tests/echo_agent.py",
        "tests/test_plugin.py",
    }
    _run(UV, "build", "--wheel", "--out-dir", str(tmp_path / "wheels"), str(project))
    site = tmp_path / "site"
    wheel = next((tmp_path / "wheels").glob("*.whl"))
    _run(UV, "pip", "install", "--no-deps", "--target", str(site), str(wheel))
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("AGENTDOCK_LOAD_PLUGINS", None)
    # Its own tests, against the installed wheel (not the source tree).
    _run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests",
        env=env,
        cwd=project,
    )
    # AgentDock finds it by its entry point...
    document = json.loads(_run(sys.executable, "-m", "agentdock_cli", "plugins", "--json", env=env))
    plugin = next(p for p in document["plugins"] if p["name"] == "my_guard")
    assert plugin["distribution"] == "my-guard" and plugin["builtin"] is False
    assert [p["name"] for p in plugin["provides"]["policies"]] == ["my_guard"]
    # ... and checks a Dockfile's entry against the schema it declares.
    dockfile = project / "tests" / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace("words: [darn]", "words: darn"))
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentdock_cli",
            "validate",
            str(dockfile),
            "--skip-imports",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    [error] = json.loads(checked.stdout)["errors"]
    assert (error["code"], error["path"]) == (4011, "plugins.my_guard.words")
