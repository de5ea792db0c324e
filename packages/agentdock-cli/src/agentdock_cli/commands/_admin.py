"""What ``agentdock key`` and ``agentdock token`` share: the registry, the actor, the spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentdock.deployment.workspace import actor

from agentdock_cli import exitcodes
from agentdock_cli.output import err_console, print_json

__all__ = [
    "AGENT_NAME",
    "ROLE_NAME",
    "actor",
    "check_agent",
    "check_role",
    "fail",
    "load_spec",
    "open_registry",
    "roles_of",
]

AGENT_NAME = re.compile(r"^[a-z][a-z0-9_-]{2,63}$")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{2,32}$")


def fail(code: int, error: str, message: str, as_json: bool, **extra: Any) -> None:
    """Report one error (rich on stderr, or one JSON document) and exit with ``code``."""
    if as_json:
        print_json({"ok": False, "error": error, "message": message, **extra})
    else:
        err_console().print(f"[red]✗[/red] {message}", markup=True)
    raise SystemExit(code)


def check_agent(agent: str, as_json: bool) -> None:
    if not AGENT_NAME.match(agent):
        fail(
            exitcodes.INVALID,
            "InvalidAgentName",
            f"invalid agent name {agent!r}: expected ^[a-z][a-z0-9_-]{{2,63}}$",
            as_json,
        )


def open_registry(path: Path | None, as_json: bool) -> Any:
    from agentdock.registry import RegistryError, open_store

    try:
        return open_store(path)
    except RegistryError as exc:
        fail(exitcodes.INVALID, "RegistryError", str(exc), as_json)
        raise AssertionError("unreachable") from None


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


def roles_of(spec: Any) -> dict[str, frozenset[str]]:
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
    spec = load_spec(file, as_json, env)
    roles = roles_of(spec)
    if role not in roles:
        fail(
            exitcodes.INVALID,
            "UnknownRole",
            f"role {role!r} is not defined in {file} (roles: {', '.join(sorted(roles))})",
            as_json,
        )
