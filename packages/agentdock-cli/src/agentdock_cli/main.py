"""The ``agentdock`` command: a thin layer over the Python API.

The CLI imports core only. Commands that belong to a plugin (``serve`` with the built-in
server, ``hardware`` with the hardware profiles, ``metrics`` with the local telemetry store,
and any third-party command) come through the ``agentdock_register_commands`` hook, asked
for only when a name is not a built-in command or the whole list is wanted (help,
completion): ``agentdock validate`` loads no plugin.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import click

from agentdock_cli import __version__
from agentdock_cli.commands.audit import audit_command
from agentdock_cli.commands.audit_log import audit_log_command
from agentdock_cli.commands.deploy import build_command, deploy_command, rollback_command
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
from agentdock_cli.commands.plugins import plugins_command
from agentdock_cli.commands.sbom import sbom_command
from agentdock_cli.commands.schema import schema_command
from agentdock_cli.commands.token import token_command
from agentdock_cli.commands.validate import validate_command

if TYPE_CHECKING:
    from agentdock.plugins import PluginError

__all__ = ["cli", "main", "report_plugin_errors"]


class _AgentDockGroup(click.Group):
    """The root group: built-in commands, then those plugins add, loaded on first need."""

    _plugin_commands_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugin_commands_added:
            return
        self._plugin_commands_added = True
        from agentdock.plugins import get_plugin_manager

        report_plugin_errors()
        get_plugin_manager().register_commands(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._plugin_commands_added:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)


@click.group(cls=_AgentDockGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentdock")
def cli() -> None:
    """AgentDock: turn an agent and one Dockfile into a secure, observable service.

    Exit codes: 0 ok, 1 invalid input or spec, 2 usage, 3 build failed,
    4 deploy or health check failed, 5 not found.
    """
    report_plugin_errors()


_reporting = False


def report_plugin_errors() -> None:
    """Print every plugin error on stderr, one line each, whichever command loads plugins
    (a plugin that failed to import, a hook that raised, a built-in name refused to it):
    a plugin that is not there must never go unnoticed."""
    global _reporting
    if _reporting:
        return
    _reporting = True
    from agentdock.plugins import get_plugin_manager

    get_plugin_manager().add_error_listener(_print_plugin_error)


def _print_plugin_error(err: PluginError) -> None:
    where = f" ({err.distribution})" if err.distribution else ""
    click.echo(
        click.style("warning: ", fg="yellow")
        + f"plugin {err.name}{where}: {err.error}"
        + (" (traceback: agentdock plugins -v)" if err.detail else ""),
        err=True,
    )


cli.add_command(init_command)
cli.add_command(validate_command)
cli.add_command(schema_command)
cli.add_command(plugins_command)
cli.add_command(build_command)
cli.add_command(deploy_command)
cli.add_command(rollback_command)
cli.add_command(status_command)
cli.add_command(versions_command)
cli.add_command(sbom_command)
cli.add_command(logs_command)
cli.add_command(stop_command)
cli.add_command(cleanup_command)
cli.add_command(rm_command)
cli.add_command(instances_command)
cli.add_command(key_command)
cli.add_command(token_command)
cli.add_command(audit_log_command)
cli.add_command(audit_command)


def main() -> None:
    """Console-script entry point.

    The youngest generation is collected every 50,000 allocations rather than 700 while the
    command runs: a command imports much and frees little, and ``serve`` imports LangGraph,
    Litestar and the plugins before it serves (the runtime's ``quiet_startup``, which a
    serving process ends when it freezes its start-up heap)."""
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    cli(prog_name="agentdock")
