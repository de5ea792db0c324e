"""A least-privilege PostgreSQL role for the runtimes of one agent (and instance).

A runtime given ``AGENTDOCK_DATABASE_URL`` holds the registry owner's credentials: code in
the agent could insert keys, change roles and rewrite the audit log. The role this module
creates can do two things only: read its agent's and instance's key rows, and set their
``last_used_at``. It sees nothing else of the registry.

How, without changing a query of the store: the role gets a schema of its own name holding
two views, ``agents`` (its agent's row) and ``api_keys`` (its agent's and instance's rows),
and its ``search_path`` is that schema alone, so the store's unqualified ``api_keys`` and
``agents`` are the views for it. The views belong to the registry's owner and read the
tables with the owner's rights; the role gets ``SELECT`` on them, ``UPDATE (last_used_at)``
on ``api_keys`` (a simple view, so PostgreSQL updates the table through it, only for the
rows it shows), and no right on any table. They are ``security_barrier`` views: a function
the role could create (PostgreSQL before 15 lets everyone create in ``public``) cannot make
the view leak rows it filters out. ``LISTEN`` (key changes) needs no right.

The LangGraph Platform API's threads and runs (:mod:`agentdock.registry.platformrows`) are
read and written the same way: views of ``platform_threads``, ``platform_runs`` and
``platform_run_events`` showing the agent's rows alone, ``WITH CHECK OPTION`` so a row
the role writes is its agent's, with ``SELECT``, ``INSERT``, ``UPDATE`` and ``DELETE``.

:func:`role_sql` is the script (its password left out when printed);
:func:`apply_role` runs it as the owner with a generated password and returns the runtime's
URL, to be put in ``AGENTDOCK_RUNTIME_DATABASE_URL``.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["apply_role", "default_role_name", "role_sql", "runtime_url"]

_UNSAFE = re.compile(r"[^a-z0-9_]")
_KEY_COLUMNS = (
    "id, agent_id, role, hashed_key, hash_algorithm, created_at, created_by, expires_at, "
    "revoked_at, rotated_at, grace_until, replaced_by, last_used_at, instance, pepper_id"
)


#: The Platform API's tables, each seen by the role as a view of its agent's rows.
_PLATFORM_TABLES = ("platform_threads", "platform_runs", "platform_run_events")


def default_role_name(agent: str, instance: str = "") -> str:
    """``agentdock_rt_<agent>[_<instance>]`` as a plain identifier (at most 63 bytes)."""
    name = "agentdock_rt_" + _UNSAFE.sub("_", agent.lower())
    if instance:
        name += "_" + _UNSAFE.sub("_", instance.lower())
    return name[:63]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def role_sql(agent: str, instance: str, role: str, password: str | None = None) -> str:
    """The script that creates (or brings up to date) ``role`` for ``agent``'s runtimes;
    run it as the registry's owner. Idempotent."""
    r, a, i = _ident(role), _literal(agent), _literal(instance)
    login = f"LOGIN PASSWORD {_literal(password)}" if password is not None else "LOGIN"
    # Every name and value below is quoted by _ident or _literal (DDL takes no parameters).
    platform = "".join(
        f"CREATE OR REPLACE VIEW {r}.{table} WITH (security_barrier) AS\n"  # noqa: S608
        f"    SELECT * FROM public.{table} WHERE agent = {a} WITH CASCADED CHECK OPTION;\n"
        for table in _PLATFORM_TABLES
    )
    return f"""\
BEGIN;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(role)}) THEN
        CREATE ROLE {r};
    END IF;
END $$;
ALTER ROLE {r} WITH {login} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE SCHEMA IF NOT EXISTS {r};
REVOKE ALL ON SCHEMA {r} FROM PUBLIC;
GRANT USAGE ON SCHEMA {r} TO {r};
CREATE OR REPLACE VIEW {r}.agents WITH (security_barrier) AS
    SELECT id, name, created_at FROM public.agents WHERE name = {a};
CREATE OR REPLACE VIEW {r}.api_keys WITH (security_barrier) AS
    SELECT {_KEY_COLUMNS} FROM public.api_keys
    WHERE agent_id = (SELECT id FROM public.agents WHERE name = {a}) AND instance = {i};
{platform}REVOKE ALL ON ALL TABLES IN SCHEMA {r} FROM {r};
GRANT SELECT ON {r}.agents, {r}.api_keys TO {r};
GRANT UPDATE (last_used_at) ON {r}.api_keys TO {r};
GRANT SELECT, INSERT, UPDATE, DELETE ON {r}.platform_threads, {r}.platform_runs,
    {r}.platform_run_events TO {r};
ALTER ROLE {r} SET search_path = {r};
COMMIT;
"""  # noqa: S608


def runtime_url(owner_url: str, role: str, password: str) -> str:
    """``owner_url`` with the role's name and password instead of the owner's."""
    parts = urlsplit(owner_url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def apply_role(owner_url: str, agent: str, instance: str, role: str) -> str:
    """Run :func:`role_sql` as the owner with a new random password; the runtime's URL.

    :raises RegistryError: the database refused (the password never in the message).
    """
    import psycopg
    from agentdock.registry import RegistryError, redact_url

    from agentdock_plugins.postgres.store import _libpq_url, _scrub

    password = secrets.token_urlsafe(24)
    try:
        with psycopg.connect(_libpq_url(owner_url), autocommit=True) as conn:
            conn.execute(role_sql(agent, instance, role, password).encode("utf-8"))
    except psycopg.Error as exc:
        message = _scrub(str(exc), owner_url).replace(password, "***")
        raise RegistryError(
            f"cannot create the role {role} in {redact_url(owner_url)}: {message}"
        ) from None
    return runtime_url(owner_url, role, password)
