"""Shell completion, as the README documents it: the ``agentdock`` console script prints a
completion script for bash, zsh and fish (Click's), and bash completes with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _agentdock_completion agentdock"),
        ("zsh", "#compdef agentdock"),
        ("fish", "complete --no-files --command agentdock"),
    ],
)
def test_the_console_script_prints_a_completion_script(shell: str, marker: str) -> None:
    done = subprocess.run(
        ["agentdock"],
        env=_env(_AGENTDOCK_COMPLETE=f"{shell}_source"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout


def test_bash_completes_commands_and_subcommands() -> None:
    script = (
        'eval "$(_AGENTDOCK_COMPLETE=bash_source agentdock)"\n'
        "COMP_WORDS=(agentdock r); COMP_CWORD=1; _agentdock_completion agentdock\n"
        'echo "${COMPREPLY[*]}"\n'
        "COMPREPLY=()\n"
        "COMP_WORDS=(agentdock key cr); COMP_CWORD=2; _agentdock_completion agentdock\n"
        'echo "${COMPREPLY[*]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", script], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    commands, subcommands = done.stdout.splitlines()
    assert {"rm", "rollback"} <= set(commands.split()) and subcommands == "create"
