"""``agentdock schema``: print the Dockfile JSON Schema, or its reference table."""

from __future__ import annotations

import json

import click

from agentdock_cli import exitcodes

__all__ = ["schema_command"]


@click.command("schema")
@click.option(
    "--version",
    "version",
    type=click.Choice(["1.0", "1.1"]),
    default="1.1",
    show_default=True,
    help="Dockfile version whose schema to print.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="The JSON Schema itself, or the Markdown reference table rendered from it.",
)
@click.option(
    "--plugins",
    "with_plugins",
    is_flag=True,
    help="Add the installed plugins' policies and sinks, with their configuration schemas, "
    "under the plugins block (1.1).",
)
def schema_command(version: str, fmt: str, with_plugins: bool) -> None:
    """Print the Dockfile JSON Schema (point your editor's YAML support at it)."""
    from agentdock.spec.schema import load_schema

    schema = load_schema(version)
    if with_plugins:
        from agentdock.plugins import get_plugin_manager
        from agentdock.spec.pluginblock import schema_with_plugins

        schema = schema_with_plugins(schema, get_plugin_manager())
    if fmt == "markdown":
        from agentdock.spec.reference import render_reference

        click.echo(render_reference(version, schema=schema), nl=False)
    else:
        click.echo(json.dumps(schema, indent=2))
    raise SystemExit(exitcodes.OK)
