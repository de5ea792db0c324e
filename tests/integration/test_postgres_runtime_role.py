"""``agentdock postgres runtime-role``: a runtime of a PostgreSQL registry can read its own
agent's keys and record their last use, and nothing more: no other agent's keys, no key
inserted, no role changed, no audit row read or touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from agentdock.registry import open_store
from agentdock.registry.platformrows import PlatformRows, ThreadRow
from agentdock_plugins.auth.apikey import ApiKeyProvider, ApiKeyVerifier, LazyRegistry
from agentdock_plugins.postgres.runtimerole import role_sql
from agentdock_runtime.errors import KeyRevoked
from auth_support import add_key

pytest_plugins = ("pgserver",)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "agentdock_cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _refused(url: str, statement: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement.encode())
        except psycopg.Error as exc:
            return type(exc).__name__
    return "done"


def test_the_runtime_role_reads_its_own_keys_and_nothing_else(pg_url: str) -> None:
    import asyncio

    with open_store(url=pg_url) as store:
        mine = add_key(store, "echo")
        tenant = add_key(store, "echo", instance="acme")
        other = add_key(store, "other_agent", role="admin")
        store.append_audit("key.create", actor="ann", agent="echo")
    printed = _cli("postgres", "runtime-role", "echo", env={"AGENTDOCK_DATABASE_URL": pg_url})
    assert printed.returncode == 0, printed.stderr
    assert (
        "CREATE OR REPLACE VIEW" in printed.stdout
        and "PASSWORD" not in printed.stdout.split("\n", 1)[1]
    )
    done = _cli(
        "postgres", "runtime-role", "echo", "--apply", "--json",
        env={"AGENTDOCK_DATABASE_URL": pg_url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    url = json.loads(done.stdout)["url"]
    assert url != pg_url and "agentdock_rt_echo" in url

    runtime = LazyRegistry(url=url)
    try:
        assert runtime.get_api_key(mine.key_id) is not None
        assert runtime.get_api_key(tenant.key_id) is None  # another instance's
        assert runtime.get_api_key(other.key_id) is None  # another agent's
        assert runtime.touch_api_keys({mine.key_id: 123.0, other.key_id: 456.0}) == 1
        verifier = ApiKeyVerifier(runtime, "echo", cache_ttl=3600, touch_interval=3600)
        provider = ApiKeyProvider(verifier)
        assert asyncio.run(provider.authenticate({"x-api-key": mine.key}))["role"]
        with open_store(url=pg_url) as store:
            store.revoke_api_key(agent="echo", key_id=mine.key_id)
        verifier.refresh()
        with pytest.raises(KeyRevoked):
            asyncio.run(provider.authenticate({"x-api-key": mine.key}))
    finally:
        runtime.close()
    with open_store(url=pg_url) as store:
        assert store.get_api_key(mine.key_id).last_used_at == 123.0  # type: ignore[union-attr]
        assert store.get_api_key(other.key_id).last_used_at is None  # type: ignore[union-attr]

    attempts = {
        "insert_key": "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, "
        "created_at) SELECT 'forgedforged', id, 'admin', 'x', 'sha256', 0 FROM agents",
        "change_role": "UPDATE api_keys SET role = 'admin'",
        "public_keys": "SELECT * FROM public.api_keys",
        "audit_read": "SELECT * FROM public.audit_log",
        "audit_delete": "DELETE FROM public.audit_log",
        "audit_insert": "INSERT INTO public.audit_log (at, actor, action) VALUES (1, 'x', 'y')",
        "head": "UPDATE public.audit_head SET last_id = 0",
        "create_table": "CREATE TABLE agentdock_rt_echo.planted (x int)",
    }
    outcomes = {name: _refused(url, sql) for name, sql in attempts.items()}
    assert all(outcome != "done" for outcome in outcomes.values()), outcomes
    with open_store(url=pg_url) as store:
        assert store.get_api_key("forgedforged") is None
        assert store.get_api_key(mine.key_id).role == "developer"  # type: ignore[union-attr]


def test_the_script_is_idempotent_and_quotes_what_it_names(pg_url: str) -> None:
    with open_store(url=pg_url):
        pass
    script: Any = role_sql("we-ird", "", "agentdock_rt_we_ird")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(script.encode())
        conn.execute(script.encode())
    assert "'we-ird'" in script


def test_apply_without_a_postgres_registry_is_refused() -> None:
    done = _cli("postgres", "runtime-role", "echo", "--apply", env={})
    assert done.returncode == 1 and "AGENTDOCK_DATABASE_URL" in done.stderr


def test_the_runtime_role_keeps_its_agents_platform_threads_and_runs_only(pg_url: str) -> None:
    with open_store(url=pg_url) as store:
        add_key(store, "echo")
        PlatformRows(store, "other_agent").put_thread(
            ThreadRow("theirs", None, "idle", {"planted": True}, "t0", "t0")
        )
    done = _cli(
        "postgres", "runtime-role", "echo", "--apply", "--json",
        env={"AGENTDOCK_DATABASE_URL": pg_url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    url = json.loads(done.stdout)["url"]
    with open_store(url=url, migrate=False) as runtime:
        rows = PlatformRows(runtime, "echo")
        rows.put_thread(ThreadRow("mine", "ann", "idle", {"team": "blue"}, "t0", "t0"))
        rows.put_run("r1", "mine", "running", {"run_id": "r1"}, "host:1")
        assert rows.beat("r1", [(1, "event: values\ndata: {}\n\n")]) is False
        rows.request_cancel("r1")
        assert rows.beat("r1", []) is True
        rows.finish_run("r1", "interrupted", {"run_id": "r1"}, {"output": None})
        assert [r.status for r in rows.runs("mine")] == ["interrupted"]
        assert rows.frames_after("r1", 0) == [(1, "event: values\ndata: {}\n\n")]
        assert PlatformRows(runtime, "other_agent").get_thread("theirs") is None
        with pytest.raises(psycopg.errors.WithCheckOptionViolation):
            PlatformRows(runtime, "other_agent").put_thread(
                ThreadRow("forged", None, "idle", {}, "t0", "t0")
            )
        assert rows.delete_thread("mine")
    with open_store(url=pg_url) as store:
        assert PlatformRows(store, "other_agent").get_thread("theirs") is not None
        assert PlatformRows(store, "other_agent").get_thread("forged") is None
