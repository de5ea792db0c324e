"""``agentdock plugins``: what is loaded, what each plugin provides, and what failed."""

from __future__ import annotations

from typing import Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import console, print_json

__all__ = ["plugins_command", "plugins_document"]


def plugins_document() -> dict[str, Any]:
    """The loaded plugins as a JSON-ready document (also the ``--json`` output)."""
    from agentdock.hookspecs import HOOK_API_VERSION
    from agentdock.plugins import KINDS, get_plugin_manager

    manager = get_plugin_manager()
    provides: dict[str, dict[str, list[dict[str, str]]]] = {}
    for kind in KINDS:
        for reg in manager.registrations(kind).values():
            provides.setdefault(reg.plugin, {}).setdefault(kind, []).append(
                {"name": reg.name, "description": reg.description}
            )
    return {
        "hook_api": HOOK_API_VERSION,
        "plugins": [
            {
                "name": info.name,
                "module": info.module,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "hooks": list(info.hooks),
                "provides": provides.get(info.name, {}),
            }
            for info in manager.plugins()
        ],
        "errors": [
            {"name": e.name, "distribution": e.distribution, "error": e.error}
            for e in manager.errors()
        ],
        "conflicts": manager.conflicts(),
    }


def _manager_errors() -> list[Any]:
    from agentdock.plugins import get_plugin_manager

    return get_plugin_manager().errors()


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Show each failed plugin's traceback.")
def plugins_command(as_json: bool, verbose: bool) -> None:
    """List loaded plugins, what each provides, and plugins that failed to load."""
    document = plugins_document()
    if as_json:
        print_json(document)
        raise SystemExit(exitcodes.OK)
    from rich.markup import escape
    from rich.table import Table

    table = Table("plugin", "version", "source", "provides", box=None, pad_edge=False)
    for plugin in document["plugins"]:
        provided = (
            "; ".join(
                f"{kind}: {', '.join(item['name'] for item in items)}"
                for kind, items in plugin["provides"].items()
            )
            or ", ".join(plugin["hooks"])
            or "-"
        )
        source = "built-in" if plugin["builtin"] else (plugin["distribution"] or "in-process")
        table.add_row(
            escape(plugin["name"]), plugin["version"] or "-", escape(source), escape(provided)
        )
    out = console()
    out.print(f"hook API {document['hook_api']}")
    out.print(table)
    details = {e.name: e.detail for e in _manager_errors()} if verbose else {}
    for error in document["errors"]:
        out.print(f"[red]✗ {escape(error['name'])}[/] failed to load: {escape(error['error'])}")
        if details.get(error["name"]):
            out.print(escape(details[error["name"]].rstrip()), highlight=False)
    for conflict in document["conflicts"]:
        out.print(f"[yellow]warning:[/] {escape(conflict)}")
    raise SystemExit(exitcodes.OK)
