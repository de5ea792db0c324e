"""The ``agentdock`` command: a thin layer over the Python API."""

from __future__ import annotations

import sys

import click

from agentdock_cli import __version__
from agentdock_cli.commands.audit import audit_command
from agentdock_cli.commands.deploy import deploy_command, rollback_command
from agentdock_cli.commands.hardware import hardware_command
from agentdock_cli.commands.init import init_command
from agentdock_cli.commands.key import key_command
from agentdock_cli.commands.lifecycle import (
    cleanup_command,
    instances_command,
    logs_command,
    rm_command,
    status_command,
    stop_command,
    versions_command,
)
from agentdock_cli.commands.metrics import metrics_command
from agentdock_cli.commands.plugins import plugins_command
from agentdock_cli.commands.schema import schema_command
from agentdock_cli.commands.serve import serve_command
from agentdock_cli.commands.token import token_command
from agentdock_cli.commands.validate import validate_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentdock")
def cli() -> None:
    """AgentDock: turn an agent and one Dockfile into a secure, observable service.

    Exit codes: 0 ok, 1 invalid input or spec, 2 usage, 3 build failed,
    4 deploy or health check failed, 5 not found.
    """


cli.add_command(init_command)
cli.add_command(validate_command)
cli.add_command(schema_command)
cli.add_command(plugins_command)
cli.add_command(serve_command)
cli.add_command(deploy_command)
cli.add_command(rollback_command)
cli.add_command(status_command)
cli.add_command(versions_command)
cli.add_command(logs_command)
cli.add_command(stop_command)
cli.add_command(cleanup_command)
cli.add_command(rm_command)
cli.add_command(hardware_command)
cli.add_command(instances_command)
cli.add_command(metrics_command)
cli.add_command(key_command)
cli.add_command(token_command)
cli.add_command(audit_command)


def main() -> None:
    """Console-script entry point: add plugin commands, then run."""
    if _wants_plugin_commands(sys.argv[1:]):
        from agentdock.plugins import get_plugin_manager

        get_plugin_manager().register_commands(cli)
    cli(prog_name="agentdock")


def _wants_plugin_commands(args: list[str]) -> bool:
    """Built-in commands need no plugin commands; anything else might be one."""
    first = next((a for a in args if not a.startswith("-")), None)
    return first is None or first not in cli.commands
