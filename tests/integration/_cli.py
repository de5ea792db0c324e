"""Running the `agentdock` click group in-process, from a given working directory."""

from __future__ import annotations

import os
from pathlib import Path

from agentdock_cli.main import cli
from click.testing import CliRunner


def run_cli(args: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``agentdock ARGS`` run in ``cwd``."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr
