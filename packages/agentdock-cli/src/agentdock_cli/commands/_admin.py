"""What ``agentdock key`` and ``agentdock token`` share: the registry, the actor, the spec.

The registry is the one of the AgentDock home found from the working directory
(:mod:`agentdock.home`) unless ``--registry`` names a file. Commands that only read open
it without creating it; a command that writes and finds none creates it and says where.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import err_console, print_json

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "AGENT_NAME",
    "ROLE_NAME",
    "actor",
    "check_agent",
    "check_role",
    "fail",
    "json_option",
    "load_spec",
    "missing_registry",
    "open_registry",
    "registry_option",
    "require_defined_role",
    "require_known_agent",
    "roles_of",
]

AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{2,63}$")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{2,32}$")

#: ``--registry``, shared by the commands that read or write the registry directly.
registry_option = click.option(
    "--registry",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Registry database (default: $AGENTDOCK_HOME/registry.db, else the nearest "
    ".agentdock/registry.db up from here).",
)
#: ``--json`` of the commands that print one JSON object.
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def actor() -> str:
    """Who runs the command (:func:`agentdock.deployment.workspace.actor`). Imported on
    use: every CLI command loads this module, and the deployment package is heavy."""
    from agentdock.deployment.workspace import actor as who

    return who()


def fail(
    code: int, error: str, message: str, as_json: bool, hint: str | None = None, **extra: Any
) -> NoReturn:
    """Report one error (rich on stderr, or one JSON document) and exit with ``code``."""
    if as_json:
        print_json(
            {"ok": False, "error": error, "message": message, **extra}
            | ({"hint": hint} if hint else {})
        )
    else:
        from rich.markup import escape

        out = err_console()
        out.print(f"[red]✗[/red] {escape(message)}", markup=True, highlight=False)
        if hint:
            out.print(f"  hint: {hint}", markup=False, highlight=False)
    raise SystemExit(code)


def check_agent(agent: str, as_json: bool) -> None:
    if not AGENT_NAME.match(agent):
        fail(
            exitcodes.INVALID,
            "InvalidAgentName",
            f"invalid agent name {agent!r}: expected ^[a-z][a-z0-9_-]{{2,63}}$",
            as_json,
        )


def open_registry(path: Path | None, as_json: bool, *, create: bool = True) -> Any:
    """The registry at ``path`` or of the home found from here.

    ``create`` False: a missing registry raises :class:`~agentdock.registry.RegistryNotFound`
    (the caller says what that means for it) and nothing is written. ``create`` True: a new
    one is created, and a line on stderr says where.
    """
    import os

    from agentdock.home import locate_home
    from agentdock.registry import DATABASE_URL_ENV, RegistryError, RegistryNotFound, open_store

    location = locate_home() if path is None else None
    target = location.registry if location is not None else path
    assert target is not None  # one of the two is given
    new = (
        create
        and not (path is None and os.environ.get(DATABASE_URL_ENV))
        and not (target.is_file())
    )
    try:
        store = open_store(path, create=create)
    except RegistryNotFound:
        raise
    except RegistryError as exc:
        fail(exitcodes.INVALID, "RegistryError", str(exc), as_json)
    if new:
        said = location.creating() if location is not None else f"created a new registry at {path}"
        from rich.markup import escape

        err_console().print(f"[yellow]![/yellow] {escape(said)}", markup=True, highlight=False)
    return store


def missing_registry(exc: Any, code: int, error: str, as_json: bool, what: str = "") -> None:
    """Report a :class:`~agentdock.registry.RegistryNotFound` and exit with ``code``."""
    fail(
        code,
        error,
        f"{what}{exc}",
        as_json,
        hint="run this where the agent was deployed from (or below it), set AGENTDOCK_HOME "
        "to the directory holding its registry.db, or pass --registry",
    )


def require_known_agent(store: Any, agent: str, code: int, as_json: bool, hint: str) -> None:
    """Exit with ``code`` when the registry has never heard of ``agent`` (a typo, most
    often: the message suggests the closest names)."""
    from agentdock.deployment.workspace import did_you_mean
    from agentdock.registry import describe_store

    known = store.list_agents()
    if agent not in known:
        store.close()
        fail(
            code,
            "UnknownAgent",
            f"no agent named {agent!r} in the registry {describe_store(store)}"
            + did_you_mean(agent, known),
            as_json,
            hint=hint,
        )


def load_spec(file: Path, as_json: bool, env: dict[str, str] | None = None) -> Any:
    """The validated spec of ``file`` (placeholders resolved); exit 1 when invalid."""
    from agentdock.validation import DockfileError, load

    try:
        return load(file, env=env)
    except DockfileError as exc:
        fail(exitcodes.INVALID, "InvalidDockfile", str(exc), as_json)
    except FileNotFoundError:
        fail(exitcodes.NOT_FOUND, "NotFound", f"no Dockfile at {file}", as_json)
    raise AssertionError("unreachable")


def roles_of(spec: DockSpec) -> dict[str, frozenset[str]]:
    from agentdock.auth import roles_from_spec

    return roles_from_spec(spec.auth)


def check_role(
    role: str, file: Path | None, as_json: bool, env: dict[str, str] | None = None
) -> None:
    """A role must match the name pattern and, with a Dockfile, be one of its roles."""
    if not ROLE_NAME.match(role):
        fail(
            exitcodes.INVALID,
            "InvalidRole",
            f"invalid role name {role!r}: expected ^[a-z][a-z0-9_-]{{2,32}}$",
            as_json,
        )
    if file is None:
        return
    require_defined_role(load_spec(file, as_json, env), role, file, as_json)


def require_defined_role(spec: DockSpec, role: str, file: Path, as_json: bool) -> None:
    """Exit 1 (``UnknownRole``) unless ``role`` is one of the roles ``file`` defines."""
    roles = roles_of(spec)
    if role not in roles:
        fail(
            exitcodes.INVALID,
            "UnknownRole",
            f"role {role!r} is not defined in {file} (roles: {', '.join(sorted(roles))})",
            as_json,
        )
