"""Built-in plugin: the ``postgres`` registry store (psycopg 3 with a connection pool).

Chosen when ``AGENTDOCK_DATABASE_URL`` is a ``postgresql://`` URL. Adds ``agentdock postgres
runtime-role``: a role that may only read one agent's keys, for its runtimes.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_commands", "agentdock_register_stores"]


def _store(url: str) -> Any:
    from agentdock_plugins.postgres.store import PostgresStore

    return PostgresStore(url)


@hookimpl
def agentdock_register_stores(register: Any) -> None:
    register("postgres", _store, "the registry in PostgreSQL (psycopg 3, pooled)")


@hookimpl
def agentdock_register_commands(cli: Any) -> None:
    from agentdock_plugins.postgres.commands import postgres_command

    cli.add_command(postgres_command)
