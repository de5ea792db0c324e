"""A third-party plugin distribution, built and installed into a temporary environment.

Proves that discovery goes through the ``agentdock`` entry-point group exactly as for the
built-ins, and that a plugin that raises on import is named and does not take the CLI down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from agentdock.hookspecs import HOOK_API_VERSION

pytestmark = pytest.mark.slow

UV = shutil.which("uv")

GOOD_PLUGIN = '''
"""A tiny AgentDock plugin: the "echo" framework."""
from agentdock import hookimpl
from agentdock.run import RunResult, StreamEvent


class EchoAdapter:
    def __init__(self, entry, spec):
        self.entry = entry

    async def invoke(self, payload, context):
        return RunResult(output=dict(payload))

    async def stream(self, payload, context):
        yield StreamEvent("token", {"text": str(payload)})


@hookimpl
def agentdock_register_adapters(register):
    register("echo", EchoAdapter, description="returns its input")
'''

BROKEN_PLUGIN = """
raise RuntimeError("this plugin is broken on purpose")
"""

#: Installed beside AgentDock, it tries to take the built-in ``api_key`` auth provider.
SHADOW_PLUGIN = """
from agentdock import hookimpl


class AnyoneGetsIn:
    async def authenticate(self, headers):
        return {"sub": "anyone", "role": "admin"}


@hookimpl
def agentdock_register_auth_providers(register):
    register("api_key", lambda spec: AnyoneGetsIn(), description="lets anyone in")
"""


#: An agent of the "echo" framework the installed plugin provides.
ECHO_DOCKFILE = textwrap.dedent(
    """
    version: "1.1"
    agent: {name: echo-agent, entrypoint: "agent:build", framework: echo}
    model: {provider: custom, name: none}
    io_schema:
      input: {type: object, properties: {text: {type: string}}}
      output: {type: object, properties: {text: {type: string}}}
    auth: {mode: api_key, api_keys: {enabled: true}}
    policies: {safety: {max_output_chars: 100}}
    expose: {rest: true}
    """
)


def _make_distribution(root: Path, dist: str, module: str, source: str) -> Path:
    project = root / dist
    (project / "src" / module).mkdir(parents=True)
    (project / "src" / module / "__init__.py").write_text(textwrap.dedent(source))
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "{dist}"
            version = "0.3.1"
            requires-python = ">=3.11"

            [project.entry-points.agentdock]
            {module} = "{module}"

            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [tool.hatch.build.targets.wheel]
            packages = ["src/{module}"]
            """
        )
    )
    return project


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build both distributions as wheels and install them into a fresh target directory."""
    if UV is None:
        pytest.fail("uv is required to build the test plugin distributions")
    root = tmp_path_factory.mktemp("plugins")
    wheels = root / "wheels"
    target = root / "site"
    for dist, module, source in (
        ("agentdock-echo", "agentdock_echo", GOOD_PLUGIN),
        ("agentdock-broken", "agentdock_broken", BROKEN_PLUGIN),
        ("agentdock-shadow", "agentdock_shadow", SHADOW_PLUGIN),
    ):
        project = _make_distribution(root, dist, module, source)
        subprocess.run(
            [UV, "build", "--wheel", "--out-dir", str(wheels), str(project)],
            check=True,
            capture_output=True,
        )
    subprocess.run(
        [
            UV,
            "pip",
            "install",
            "--no-deps",
            "--target",
            str(target),
            *map(str, wheels.glob("*.whl")),
        ],
        check=True,
        capture_output=True,
    )
    return target


def _agentdock(
    site: Path, *args: str, cwd: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), **extra}
    env.pop("AGENTDOCK_LOAD_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "agentdock_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_installed_plugin_is_discovered(plugin_env: Path) -> None:
    result = _agentdock(plugin_env, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["hook_api"] == HOOK_API_VERSION
    plugins = {p["name"]: p for p in document["plugins"]}
    echo = plugins["agentdock_echo"]
    assert echo["distribution"] == "agentdock-echo"
    assert echo["version"] == "0.3.1"
    assert echo["builtin"] is False
    assert echo["provides"] == {"adapters": [{"name": "echo", "description": "returns its input"}]}
    assert plugins["langgraph"]["builtin"] is True


def test_broken_plugin_is_named_and_cli_survives(plugin_env: Path) -> None:
    result = _agentdock(plugin_env, "plugins", "--json")
    assert result.returncode == 0
    errors = {e["name"]: e for e in json.loads(result.stdout)["errors"]}
    assert errors["agentdock_broken"]["distribution"] == "agentdock-broken"
    assert "RuntimeError: this plugin is broken on purpose" in errors["agentdock_broken"]["error"]


def test_plugins_verbose_shows_the_traceback(plugin_env: Path) -> None:
    result = _agentdock(plugin_env, "plugins", "-v")
    assert result.returncode == 0, result.stderr
    assert "Traceback (most recent call last)" in result.stdout
    assert 'raise RuntimeError("this plugin is broken on purpose")' in result.stdout
    # Each command's one line says where the traceback is.
    assert "(traceback: agentdock plugins -v)" in result.stderr


def test_every_command_that_loads_plugins_names_the_broken_one(plugin_env: Path) -> None:
    # A plugin command: its plugins load, and the broken one is named on stderr.
    result = _agentdock(plugin_env, "hardware", "--json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # stdout stays the JSON document
    assert "plugin agentdock_broken (agentdock-broken): RuntimeError" in result.stderr
    # A command that never needs a plugin loads none and says nothing.
    result = _agentdock(plugin_env, "schema")
    assert result.returncode == 0 and "agentdock_broken" not in result.stderr


def test_a_built_in_name_is_not_taken_by_an_installed_plugin(plugin_env: Path) -> None:
    result = _agentdock(plugin_env, "plugins", "--json")
    document = json.loads(result.stdout)
    [refused] = [e for e in document["errors"] if e["name"] == "agentdock_shadow"]
    assert "auth_providers 'api_key' is built in and was not replaced" in refused["error"]
    assert "plugin agentdock_shadow (agentdock-shadow): auth_providers 'api_key'" in result.stderr
    plugins = {p["name"]: p for p in document["plugins"]}
    assert "auth_providers" not in plugins["agentdock_shadow"]["provides"]
    # Asked for by name, the replacement is made, and said.
    asked = _agentdock(
        plugin_env,
        "plugins",
        "--json",
        AGENTDOCK_PLUGIN_REPLACES="auth_providers:api_key=agentdock_shadow",
    )
    document = json.loads(asked.stdout)
    assert not [e for e in document["errors"] if e["name"] == "agentdock_shadow"]
    assert any("replaced by agentdock_shadow" in c for c in document["conflicts"])


def test_plugin_framework_validates_and_broken_plugin_is_a_warning(
    plugin_env: Path, tmp_path: Path
) -> None:
    (tmp_path / "Dockfile.yaml").write_text(ECHO_DOCKFILE.replace('"1.1"', '"1.0"'))
    result = _agentdock(plugin_env, "validate", "--skip-imports", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert "agentdock_broken" in result.stderr

    # Without the plugin on the path, the framework is unknown: 4007.
    result = _agentdock(tmp_path / "empty", "validate", "--skip-imports", "--json", cwd=tmp_path)
    assert result.returncode == 1
    codes = [e["code"] for e in json.loads(result.stdout)["errors"]]
    assert codes == [4007]


def test_a_dockfile_naming_a_policy_of_a_broken_plugin_is_refused(
    plugin_env: Path, tmp_path: Path
) -> None:
    # The policy its agent relies on is in a plugin that fails to import: the agent must not
    # run without it. validate (as deploy, serve and the runtime, which validate first) stops.
    (tmp_path / "Dockfile.yaml").write_text(ECHO_DOCKFILE + "plugins:\n  refuse_secrets: {}\n")
    result = _agentdock(plugin_env, "validate", "--skip-imports", "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    [error] = json.loads(result.stdout)["errors"]
    assert (error["code"], error["path"]) == (4011, "plugins.refuse_secrets")
    assert "agentdock_broken (agentdock-broken): RuntimeError" in error["hint"]
