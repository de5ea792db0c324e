"""``agentdock validate``: a precise verdict on a Dockfile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import print_json

if TYPE_CHECKING:
    from agentdock.findings import Finding, ValidationReport

__all__ = ["parse_env_pairs", "validate_command"]


def parse_env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("A=1", "B=x=y")`` → ``{"A": "1", "B": "x=y"}``; a pair without ``=`` is a usage error."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not (name[0].isalpha() or name[0] == "_"):
            raise click.BadParameter(
                f"expected KEY=VALUE, got {pair.split('=')[0]!r}=…"
                if sep
                else f"expected KEY=VALUE, got {pair!r}",
                param_hint="--env",
            )
        env[name] = value
    return env


@click.command("validate")
@click.argument("file", required=False, default="Dockfile.yaml", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Value for ${KEY}; wins over the environment and .env. Repeatable.",
)
@click.option(
    "--allow-unresolved",
    is_flag=True,
    help="Keep unresolved ${VAR} placeholders (a warning instead of 4001).",
)
@click.option("--skip-imports", is_flag=True, help="Do not import the entrypoint or I/O classes.")
@click.option(
    "--no-build",
    is_flag=True,
    help="Import a builder entrypoint (build_graph) but do not call it.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of failed imports.")
def validate_command(
    file: Path,
    strict: bool,
    as_json: bool,
    env_pairs: tuple[str, ...],
    allow_unresolved: bool,
    skip_imports: bool,
    no_build: bool,
    verbose: bool,
) -> None:
    """Validate FILE (default ./Dockfile.yaml) and report every finding.

    Exits 0 when valid, 1 when not, 5 when FILE does not exist.
    """
    env = parse_env_pairs(env_pairs)
    from agentdock.plugins import get_plugin_manager
    from agentdock.validation import validate

    target = file / "Dockfile.yaml" if file.is_dir() else file
    manager = get_plugin_manager()
    report = validate(
        target,
        strict=strict,
        env=env,
        allow_unresolved=allow_unresolved,
        skip_imports=skip_imports,
        build=not no_build,
        plugins=manager,
    )
    code = exitcodes.OK if report.ok else exitcodes.INVALID
    if not target.exists():
        code = exitcodes.NOT_FOUND
    if as_json:
        print_json(report.to_dict())
    else:
        print_report(report, verbose=verbose)
    raise SystemExit(code)


# Plain click styling rather than rich: `validate` runs in CI loops and must start fast.
def print_report(report: ValidationReport, *, verbose: bool) -> None:
    name = report.file or "<mapping>"
    if report.ok:
        click.echo(click.style("✓ Validated successfully", fg="green") + f" {name}")
        for key, value in report.summary.items():
            click.echo(f"  {click.style(f'{key:<10}', dim=True)} {value}")
    else:
        count = len(report.errors)
        click.secho(f"✗ {name}: {count} error{'s' if count != 1 else ''}", fg="red")
    for finding in report.errors:
        _print_finding(finding, "red", "error", verbose)
    for finding in report.warnings:
        _print_finding(finding, "yellow", "warning", verbose)


def _print_finding(finding: Finding, colour: str, label: str, verbose: bool) -> None:
    where = f"  {finding.file}:{finding.line}" if finding.file and finding.line else ""
    head = click.style(f"{label} {int(finding.code)}", fg=colour)
    path = finding.dotted_path or "<root>"
    click.echo(
        f"  {head} {click.style(finding.name, bold=True)} {path}" + click.style(where, dim=True)
    )
    click.echo(f"      {finding.message}")
    if finding.hint:
        click.echo(f"      {click.style('hint:', dim=True)} {finding.hint}")
    if verbose and finding.detail:
        click.secho(finding.detail.rstrip(), dim=True)
