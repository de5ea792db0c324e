"""The readiness audit before a deploy: its high findings are printed on stderr before
anything is built, and ``deploy --strict`` refuses to go on while any remains."""

from __future__ import annotations

from pathlib import Path

import click

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import fail

__all__ = ["audit_before_deploy"]


def audit_before_deploy(file: Path, *, strict: bool, as_json: bool) -> None:
    """Audit the Dockfile's directory; print each high finding; exit 1 under ``strict``."""
    from agentdock.plugins import get_plugin_manager
    from agentdock.readiness import AuditError, Level, audit

    project = file if file.is_dir() else file.parent
    if not project.is_dir():
        return  # the deploy itself reports the missing file
    try:
        report = audit(project, plugins=get_plugin_manager())
    except AuditError:
        return
    high = report.at_or_above(Level.HIGH)
    for f in high:
        click.echo(
            click.style("audit: ", fg="red") + f"{f.file}:{f.line} {f.rule}: {f.message}",
            err=True,
        )
    if high and strict:
        fail(
            exitcodes.INVALID,
            "AuditBlocked",
            f"{len(high)} high-level audit finding(s) in {project}: not deploying (--strict)",
            as_json,
            hint="fix them, or accept them in a baseline: agentdock audit --write-baseline",
        )
