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
def schema_command(version: str, fmt: str) -> None:
    """Print the Dockfile JSON Schema (point your editor's YAML support at it)."""
    if fmt == "markdown":
        from agentdock.spec.reference import render_reference

        click.echo(render_reference(version), nl=False)
    else:
        from agentdock.spec.schema import load_schema

        click.echo(json.dumps(load_schema(version), indent=2))
    raise SystemExit(exitcodes.OK)
