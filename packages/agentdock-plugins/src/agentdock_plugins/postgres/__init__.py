"""Built-in plugin: the ``postgres`` registry store (psycopg 3 with a connection pool).

Chosen when ``AGENTDOCK_DATABASE_URL`` is a ``postgresql://`` URL.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_stores"]


def _store(url: str) -> Any:
    from agentdock_plugins.postgres.store import PostgresStore

    return PostgresStore(url)


@hookimpl
def agentdock_register_stores(register: Any) -> None:
    register("postgres", _store, "the registry in PostgreSQL (psycopg 3, pooled)")
