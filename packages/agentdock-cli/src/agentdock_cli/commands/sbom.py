"""``agentdock sbom AGENT [VERSION]``: the CycloneDX bill of materials of a version's
artifact, as the builder stored it beside the artifact in the registry store.

Without VERSION it is the active version's, else the newest's. ``--json`` prints the
SBOM document itself (what scanners read); without it, one line per component. Exit 5
when the agent, the version or an SBOM for it is not there. The SBOM is a file beside this
machine's registry store, which a control plane does not serve: with ``--server`` (or
``AGENTDOCK_SERVER``) the command exits 2 rather than read this machine's copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import print_json, print_table
from agentdock_cli.progress import reporting
from agentdock_cli.remote import refuse_server, server_option

__all__ = ["sbom_command"]


def _pick(rows: list[dict[str, Any]], agent: str, version: str | None) -> dict[str, Any]:
    from agentdock.deployment.errors import NotFound

    if version is not None:
        found = [row for row in rows if row["version"] == version]
        if not found:
            raise NotFound(f"{agent} has no version {version}", hint=f"agentdock versions {agent}")
        return found[0]
    if not rows:
        raise NotFound(f"{agent} has no recorded version", hint="agentdock deploy it first")
    active = [row for row in rows if row["active"]]
    return active[-1] if active else rows[-1]


def _sbom_of(row: dict[str, Any], agent: str) -> tuple[Path, dict[str, Any]]:
    from agentdock.deployment.errors import NotFound

    for artifact in row["artifacts"]:
        path = (artifact.get("details") or {}).get("sbom")
        if path and Path(path).is_file():
            try:
                return Path(path), json.loads(Path(path).read_text("utf-8"))
            except (OSError, ValueError):
                continue
    raise NotFound(
        f"no SBOM is stored for {agent} {row['version']}",
        hint="build the version again (agentdock deploy): builds write one",
    )


@click.command("sbom")
@click.argument("agent")
@click.argument("version", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the CycloneDX JSON document.")
@server_option
def sbom_command(agent: str, version: str | None, as_json: bool, server: str | None) -> None:
    """The CycloneDX SBOM of AGENT's VERSION (default: the active one, else the newest)."""
    from agentdock.deployment import versions

    refuse_server("sbom", server, "the control plane does not serve SBOMs")

    with reporting(as_json):
        row = _pick(versions(agent), agent, version)
        path, document = _sbom_of(row, agent)
    if as_json:
        print_json(document)
        raise SystemExit(exitcodes.OK)
    click.echo(f"{agent} {row['version']}: {path}")
    print_table(
        ("name", "version", "sha256"),
        [
            (
                str(c.get("name")),
                str(c.get("version")),
                next((h["content"][:16] for h in c.get("hashes", []) if h["alg"] == "SHA-256"), ""),
            )
            for c in document.get("components", [])
        ],
        whole=("name", "version"),
    )
    raise SystemExit(exitcodes.OK)
