"""``agentdock validate``: a precise verdict on a Dockfile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import console, err_console, print_json

if TYPE_CHECKING:
    from agentdock.findings import Finding, ValidationReport
    from agentdock.plugins import PluginManager

__all__ = ["parse_env_pairs", "validate_command"]


def parse_env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("A=1", "B=x=y")`` → ``{"A": "1", "B": "x=y"}``; a pair without ``=`` is a usage error."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not (name[0].isalpha() or name[0] == "_"):
            raise click.BadParameter(f"expected KEY=VALUE, got {pair.split('=')[0]!r}=…"
                                     if sep else f"expected KEY=VALUE, got {pair!r}",
                                     param_hint="--env")
        env[name] = value
    return env


@click.command("validate")
@click.argument("file", required=False, default="Dockfile.yaml", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE",
              help="Value for ${KEY}; wins over the environment and .env. Repeatable.")
@click.option("--allow-unresolved", is_flag=True,
              help="Keep unresolved ${VAR} placeholders (a warning instead of 4001).")
@click.option("--skip-imports", is_flag=True,
              help="Do not import the entrypoint or I/O classes.")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of failed imports.")
def validate_command(
    file: Path,
    strict: bool,
    as_json: bool,
    env_pairs: tuple[str, ...],
    allow_unresolved: bool,
    skip_imports: bool,
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
        plugins=manager,
    )
    _report_plugin_errors(manager, quiet=as_json)
    code = exitcodes.OK if report.ok else exitcodes.INVALID
    if not target.exists():
        code = exitcodes.NOT_FOUND
    if as_json:
        print_json(report.to_dict())
    else:
        _print_human(report, verbose=verbose)
    raise SystemExit(code)


def _report_plugin_errors(manager: PluginManager, *, quiet: bool) -> None:
    errors = manager.errors()
    if not errors:
        return
    out = err_console()
    for err in errors:
        where = f" ({err.distribution})" if err.distribution else ""
        line = f"plugin {err.name}{where} failed to load: {err.error}"
        if quiet:
            click.echo(f"warning: {line}", err=True)
        else:
            out.print(f"[yellow]warning:[/] {line}", markup=True)


def _print_human(report: ValidationReport, *, verbose: bool) -> None:
    out = console()
    name = report.file or "<mapping>"
    if report.ok:
        out.print(f"[green]✓ Validated successfully[/] {name}")
        _print_summary(out, report.spec)
    else:
        errors = len(report.errors)
        out.print(f"[red]✗ {name}: {errors} error{'s' if errors != 1 else ''}[/]")
    for finding in report.errors:
        _print_finding(out, finding, "red", "error", verbose)
    for finding in report.warnings:
        _print_finding(out, finding, "yellow", "warning", verbose)


def _print_finding(out: Any, finding: Finding, colour: str, label: str, verbose: bool) -> None:
    from rich.markup import escape

    where = f"{finding.file}:{finding.line}" if finding.file and finding.line else ""
    path = finding.dotted_path or "<root>"
    out.print(
        f"  [{colour}]{label} {int(finding.code)}[/] [bold]{finding.name}[/] "
        f"{escape(path)}" + (f"  [dim]{escape(where)}[/]" if where else "")
    )
    out.print(f"      {escape(finding.message)}")
    if finding.hint:
        out.print(f"      [dim]hint:[/] {escape(finding.hint)}")
    if verbose and finding.detail:
        out.print(f"[dim]{escape(finding.detail.rstrip())}[/]")


def _print_summary(out: Any, spec: Any) -> None:
    if spec is None:
        return
    auth = spec.auth.mode
    if spec.auth.api_keys is not None and spec.auth.api_keys.enabled and auth != "api_key":
        auth += " + api keys"
    exposure = []
    if spec.expose.rest:
        exposure.append("rest")
    if spec.expose.streaming != "none":
        exposure.append(spec.expose.streaming)
    rows = [
        ("agent", f"{spec.agent.name} (version {spec.version} Dockfile)"),
        ("framework", spec.agent.framework),
        ("model", f"{spec.model.provider}/{spec.model.name}"),
        ("auth", auth),
        ("exposure", f"{', '.join(exposure)} on {spec.expose.host}:{spec.expose.port}"),
    ]
    from rich.markup import escape

    for key, value in rows:
        out.print(f"  [dim]{key:<10}[/] {escape(value)}")
