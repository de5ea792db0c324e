"""``agentdock audit``: a deployment-readiness audit of agent code, read without running it.

Exit codes as every command's: 0 done (no finding at ``--fail-on`` or above), 1 findings at
that level remain (or a bad baseline or rule id), 2 usage, 5 PATH does not exist.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import fail

if TYPE_CHECKING:
    from agentdock.readiness import AuditReport

__all__ = ["audit_command"]

_FAIL_LEVELS = ("high", "medium", "low", "none")


@click.command("audit")
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "csv", "markdown"]),
    default="text",
    show_default=True,
    help="What to print on stdout.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write every format, env.template and dependencies.dot (and .svg) here.",
)
@click.option(
    "--fail-on",
    # Checked in the command, so that with --json a bad value is a JSON error too.
    metavar="[" + "|".join(_FAIL_LEVELS) + "]",
    default="none",
    show_default=True,
    help="Exit 1 when a finding at this level or above remains.",
)
@click.option(
    "--rules",
    "rule_values",
    multiple=True,
    metavar="IDS",
    help="Only these rule ids (comma-separated, repeatable).",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Hide the findings this baseline file accepts.",
)
@click.option(
    "--write-baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write a baseline accepting every finding shown (fill in each reason), plus the "
    "--baseline entries that still match, reasons kept.",
)
@click.option(
    "--max-file-size",
    type=click.IntRange(1),
    default=None,
    help="Skip (and list) files larger than this many bytes (default 1,000,000).",
)
@click.option(
    "--include-tests",
    is_flag=True,
    help="Audit test code too (tests/, test_*.py, conftest.py), left out by default.",
)
def audit_command(
    path: Path,
    fmt: str,
    as_json: bool,
    out_dir: Path | None,
    fail_on: str,
    rule_values: tuple[str, ...],
    baseline: Path | None,
    write_baseline: Path | None,
    max_file_size: int | None,
    include_tests: bool,
) -> None:
    """Audit PATH (default .) for deployment readiness: each directory holding a Dockfile is
    an agent (or each Python package, where there is none). Nothing is imported or run."""
    import json

    from agentdock.plugins import get_plugin_manager
    from agentdock.readiness import AuditError, Level, audit
    from agentdock.readiness.baseline import baseline_document
    from agentdock.readiness.formats import render
    from agentdock.readiness.sources import DEFAULT_MAX_BYTES

    if as_json:
        fmt = "json"
    machine = fmt in ("json", "sarif")
    fail_on = fail_on.strip().lower()
    if fail_on not in _FAIL_LEVELS:
        known = ", ".join(_FAIL_LEVELS)
        fail(
            exitcodes.USAGE, "UsageError", f"--fail-on: {fail_on!r} is not one of {known}", machine
        )
    try:
        report = audit(
            path,
            plugins=get_plugin_manager(),
            # Every --rules value joined: a value naming no id ("") is refused.
            rules=",".join(rule_values) if rule_values else None,
            baseline=baseline,
            max_file_bytes=max_file_size or DEFAULT_MAX_BYTES,
            include_tests=include_tests,
        )
    except AuditError as exc:
        fail(exc.exit_code, exc.error, str(exc), machine)
    try:
        if write_baseline is not None:
            document = baseline_document(report.findings, kept=report.accepted)
            write_baseline.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if out_dir is not None:
            _write_out(report, out_dir)
    except OSError as exc:
        where = exc.filename or out_dir or write_baseline
        fail(exitcodes.INVALID, "OutputError", f"{where}: {exc.strerror or exc}", machine)
    click.echo(render(report, fmt), nl=False)
    failing = [] if fail_on == "none" else report.at_or_above(Level.parse(fail_on))
    raise SystemExit(exitcodes.INVALID if failing else exitcodes.OK)


def _write_out(report: AuditReport, out_dir: Path) -> None:
    from agentdock.readiness.formats import render, to_dot, to_env_template

    out_dir.mkdir(parents=True, exist_ok=True)
    names = {
        "text": "audit.txt",
        "json": "audit.json",
        "sarif": "audit.sarif",
        "csv": "matrix.csv",
        "markdown": "audit.md",
    }
    for fmt, name in names.items():
        (out_dir / name).write_text(render(report, fmt), encoding="utf-8")
    (out_dir / "env.template").write_text(to_env_template(report), encoding="utf-8")
    dot = out_dir / "dependencies.dot"
    dot.write_text(to_dot(report), encoding="utf-8")
    graphviz = shutil.which("dot")
    if graphviz is not None:
        subprocess.run(
            [graphviz, "-Tsvg", str(dot), "-o", str(out_dir / "dependencies.svg")],
            check=False,
            capture_output=True,
            timeout=60,
        )
