"""``agentdock init``: scaffold a runnable example agent and its Dockfile."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import console, err_console, print_json
from agentdock_cli.scaffold import (
    AGENT_NAME_PATTERN,
    DEFAULT_TEMPLATE,
    ScaffoldConflictError,
    available_templates,
    default_agent_name,
    scaffold,
)

__all__ = ["PLUGIN_TEMPLATE", "init_command"]

#: The template that writes a plugin distribution, not an agent.
PLUGIN_TEMPLATE = "plugin"


def _check_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not AGENT_NAME_PATTERN.match(value):
        raise click.BadParameter(
            f"{value!r} is not a valid agent name: use a lowercase letter, "
            "then 2-63 of [a-z0-9_-] (e.g. my-agent)"
        )
    return value


@click.command("init")
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "-t",
    "--template",
    type=click.Choice(available_templates()),
    default=DEFAULT_TEMPLATE,
    show_default=True,
    help="Which example agent to scaffold (plugin: a plugin distribution instead).",
)
@click.option(
    "--name",
    callback=_check_name,
    help="Agent name for the Dockfile (default: derived from DIRECTORY's name).",
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def init_command(
    directory: Path, template: str, name: str | None, force: bool, as_json: bool
) -> None:
    """Scaffold an example agent, its Dockfile, tests and README into DIRECTORY (default .).

    With --template plugin: a plugin distribution (a policy, a telemetry sink, its entry
    point, tests that serve an agent with it, a README), named by --name.

    The agent runs offline with a fake chat model that reports token usage. Nothing is
    written when a file would be overwritten, unless --force is given.

    Exits 0 when written, 1 when files already exist, 2 on a usage error.
    """
    agent = name if name is not None else default_agent_name(directory)
    summary: dict[str, Any] = {
        "directory": str(directory),
        "template": template,
        "agent": agent,
    }
    try:
        written = scaffold(directory, template=template, name=agent, force=force)
    except ScaffoldConflictError as exc:
        if as_json:
            error = _conflict_message(exc, directory)
            print_json({"ok": False, **summary, "error": error, "conflicts": _paths(exc)})
        else:
            _print_conflicts(exc, directory)
        raise SystemExit(exitcodes.INVALID) from None
    if as_json:
        print_json({"ok": True, **summary, "files": [str(p) for p in written]})
    else:
        _print_created(written, directory, template, agent)
    raise SystemExit(exitcodes.OK)


def _paths(exc: ScaffoldConflictError) -> list[str]:
    return [str(p) for p in exc.conflicts]


def _conflict_message(exc: ScaffoldConflictError, directory: Path) -> str:
    count = len(exc.conflicts)
    if exc.forceable:
        files = "file already exists" if count == 1 else "files already exist"
        return f"{directory}: {count} {files}; nothing was written (pass --force to overwrite)"
    paths = "path is" if count == 1 else "paths are"
    return f"{directory}: {count} {paths} in the way and not files; nothing was written"


def _print_conflicts(exc: ScaffoldConflictError, directory: Path) -> None:
    from rich.markup import escape

    out = err_console()
    out.print(f"[red]✗ {escape(_conflict_message(exc, directory))}[/]")
    for path in exc.conflicts:
        out.print(f"  {escape(str(path))}")


def _print_created(written: list[Path], directory: Path, template: str, agent: str) -> None:
    from rich.markup import escape

    out = console()
    what = "plugin" if template == PLUGIN_TEMPLATE else "agent"
    out.print(
        f"[green]✓ Created {what}[/] [bold]{escape(agent)}[/] from template "
        f"[bold]{escape(template)}[/] in {escape(str(directory))}"
    )
    for path in written:
        out.print(f"  {escape(str(path))}")
    agentdock, python = runners()
    tests = shlex.quote(str(directory / "tests"))
    out.print("\nNext steps:")
    if template == PLUGIN_TEMPLATE:
        # Its tests import the plugin: installed (editable) into this environment first.
        project = shlex.quote(str(directory))
        if python.startswith("uv run"):
            install = f"uv pip install -e {project}"
        elif shutil.which("uv"):  # a uv environment may have no pip
            install = f"uv pip install --python {python} -e {project}"
        else:
            install = f"{python} -m pip install -e {project}"
        out.print(f"  {install}", markup=False, highlight=False)
    else:
        dockfile = shlex.quote(str(directory / "Dockfile.yaml"))
        out.print(f"  {agentdock} validate {dockfile}", markup=False, highlight=False)
    out.print(f"  {python} -m pytest {tests}", markup=False, highlight=False)


def runners(cwd: Path | None = None) -> tuple[str, str]:
    """How to start ``agentdock`` and the Python that has it, in commands a person pastes
    into the shell this command was started from.

    ``agentdock`` found on ``PATH`` as this very installation: plain ``agentdock`` and
    ``python``. Started by ``uv run`` (which puts the environment on ``PATH`` for that one
    command only), or not on ``PATH``, inside a uv project whose lock has AgentDock:
    ``uv run agentdock`` and ``uv run python``. Otherwise the full path of the ``agentdock``
    that runs (or of this interpreter, with ``-m agentdock_cli``).
    """
    here = Path.cwd() if cwd is None else cwd
    python = shlex.quote(sys.executable)
    under_uv = bool(os.environ.get("UV_RUN_RECURSION_DEPTH"))
    if not under_uv and _is_this_install(shutil.which("agentdock")):
        return "agentdock", "python" if _is_this_python(shutil.which("python")) else python
    if _uv_project_with_agentdock(here):
        return "uv run agentdock", "uv run python"
    script = Path(sys.argv[0])
    if script.name == "agentdock" and _is_this_install(str(script)):
        return shlex.quote(str(script.absolute())), python
    return f"{python} -m agentdock_cli", python


def _is_this_install(found: str | None) -> bool:
    """Whether ``found`` (the ``agentdock`` on PATH, maybe a link to it) is the console
    script of this interpreter's environment."""
    me = Path(sys.executable)
    return found is not None and Path(found).resolve().parent == me.parent.resolve()


def _is_this_python(found: str | None) -> bool:
    """Whether ``found`` (the ``python`` on PATH) is this interpreter, in this environment
    (a virtual environment's python links to a base one that other environments share)."""
    me = Path(sys.executable)
    return (
        found is not None
        and Path(found).parent.resolve() == me.parent.resolve()
        and Path(found).resolve() == me.resolve()
    )


def _uv_project_with_agentdock(start: Path) -> bool:
    """A ``uv.lock`` in ``start`` or above that pins AgentDock's CLI: ``uv run`` from here
    finds it."""
    for directory in (start, *start.parents):
        lock = directory / "uv.lock"
        if lock.is_file():
            try:
                return 'name = "agentdock-cli"' in lock.read_text(encoding="utf-8")
            except OSError:
                return False
    return False
