"""``agentdock postgres runtime-role AGENT``: the least-privilege role for an agent's runtimes.

Prints the SQL (:mod:`.runtimerole`) to run as the registry's owner; with ``--apply`` runs
it against ``AGENTDOCK_DATABASE_URL`` with a generated password and prints the runtime's
database URL once, for ``AGENTDOCK_RUNTIME_DATABASE_URL``. Exit codes: 0 ok, 1 invalid input
or the database refused, 2 usage.
"""

from __future__ import annotations

import json
import os
import re
import sys

import click

__all__ = ["postgres_command"]

_AGENT = re.compile(r"^[a-z][a-z0-9_-]{2,63}$")
_INSTANCE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"ok": False, "error": "RuntimeRoleError", "message": message}))
    else:
        click.echo(f"✗ {message}", err=True)
    sys.exit(1)


@click.group("postgres")
def postgres_command() -> None:
    """The PostgreSQL registry (AGENTDOCK_DATABASE_URL)."""


@postgres_command.command("runtime-role")
@click.argument("agent")
@click.option("--instance", default="", metavar="NAME", help="A per-tenant instance.")
@click.option("--role", "role_name", default=None, help="The role's name (default: derived).")
@click.option("--apply", is_flag=True, help="Create it now and print the runtime's URL once.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def runtime_role_command(
    agent: str, instance: str, role_name: str | None, apply: bool, as_json: bool
) -> None:
    """A database role that may only read AGENT's keys (and record their last use)."""
    from agentdock.registry import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV, RegistryError

    from agentdock_plugins.postgres.runtimerole import apply_role, default_role_name, role_sql

    if not _AGENT.match(agent):
        _fail(f"invalid agent name {agent!r}", as_json)
    if instance and not _INSTANCE.match(instance):
        _fail(f"invalid instance name {instance!r}", as_json)
    role = role_name or default_role_name(agent, instance)
    if not apply:
        script = role_sql(agent, instance, role)
        if as_json:
            click.echo(json.dumps({"ok": True, "role": role, "sql": script}))
        else:
            click.echo(f"-- run as the registry's owner, then: ALTER ROLE {role} PASSWORD '...';")
            click.echo(script, nl=False)
        return
    url = os.environ.get(DATABASE_URL_ENV, "")
    if not url.startswith(("postgres://", "postgresql://", "postgresql+")):
        _fail(f"--apply needs {DATABASE_URL_ENV}=postgresql://... (the owner's URL)", as_json)
    try:
        runtime = apply_role(url, agent, instance, role)
    except RegistryError as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        click.echo(json.dumps({"ok": True, "role": role, "url": runtime}))
    else:
        click.echo(f"✓ role {role} may read {agent}'s keys only. Give its runtimes:", err=True)
        click.echo(f"{RUNTIME_DATABASE_URL_ENV}={runtime}")
