"""A plugin written as docs/plugins.md writes it type-checks against the protocols and hook
specs under mypy --strict: a plugin author's CI does not fail on our types."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = """
from typing import Any

import click
from agentdock import hookimpl
from agentdock.hookspecs import Register
from agentdock.protocols import Policy
from agentdock.run import RunContext
from agentdock.spec.models import DockSpec


class NoShouting:
    stage = "pre"

    def check(self, value: Any, context: RunContext) -> Any:
        return value


def no_shouting(spec: DockSpec) -> Policy:
    return NoShouting()


@hookimpl
def agentdock_register_policies(register: Register) -> None:
    register("no-shouting", no_shouting, description="lower-cases the input")


@hookimpl
def agentdock_register_commands(cli: click.Group) -> None:
    @cli.command("hello")
    def hello() -> None:
        click.echo("hi")
"""


def test_a_policy_plugin_as_the_docs_write_it_passes_mypy_strict(tmp_path: Path) -> None:
    source = tmp_path / "plugin_under_check.py"
    source.write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    # In a process of its own: mypy raises the interpreter's recursion limit for good.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
