"""The CLI imports core only: the commands of plugins (``serve``, ``hardware``, ``metrics``)
come through ``agentdock_register_commands``, and a built-in command loads no plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


def _agentdock(*args: str, plugins: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTDOCK_LOAD_PLUGINS": plugins}
    return subprocess.run(
        [sys.executable, "-m", "agentdock_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _listed(help_text: str) -> set[str]:
    commands = help_text.split("Commands:", 1)[1]
    return {line.split()[0] for line in commands.splitlines() if line.strip()}


def test_each_plugin_command_comes_with_its_plugin() -> None:
    only_hardware = _agentdock("--help", plugins="hardware")
    assert only_hardware.returncode == 0, only_hardware.stderr
    listed = _listed(only_hardware.stdout)
    assert {"hardware", "validate", "deploy"} <= listed
    assert not listed & {"serve", "metrics"}

    every = _listed(_agentdock("--help", plugins="hardware,litestar,localstore").stdout)
    assert {"hardware", "serve", "metrics"} <= every


def test_a_command_whose_plugin_is_not_loaded_is_a_usage_error() -> None:
    result = _agentdock("metrics", "show", "echo", plugins="hardware")
    assert result.returncode == 2
    assert "No such command 'metrics'" in result.stderr


def test_a_built_in_command_loads_no_plugin() -> None:
    probe = textwrap.dedent(
        """
        import json, sys
        from agentdock_cli.main import main
        sys.argv = ["agentdock", "schema"]
        try:
            main()
        except SystemExit:
            pass
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in
                        {"agentdock_plugins", "agentdock_runtime"})
        print(json.dumps(loaded), file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert json.loads(result.stdout)["$schema"]
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
