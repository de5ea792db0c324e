"""Numbered schema migrations of the registry, written once for SQLite and PostgreSQL.

Each entry runs once, inside one transaction, and is recorded in ``schema_migrations``.
Migrations are append-only: a released number is never edited, a change is a new number.
Migration 1 creates the tables of the data model (agents, agent_versions, deployments,
api_keys, policies) and the audit log. Timestamps are UNIX seconds (UTC).

One source for both backends: the scripts leave the few words the dialects disagree on
(:data:`DIALECT_PLACEHOLDERS`) to :func:`render`, which fills in SQLite's here and
PostgreSQL's in ``agentdock_plugins.postgres.migrations``; the rendered scripts are those
each backend ran before, byte for byte. SQLAlchemy Core with Alembic would also give one
schema, and was measured against this (``benchmarks/registry_schema.py``, SQLAlchemy 2.1):
importing SQLAlchemy takes about 270 ms where the whole SQLite store imports in about 75 ms
(the CLI and every runtime pay that at start), and a key lookup by id, which a runtime makes
for each new key it sees, takes about 22 us through SQLAlchemy Core against 6.5 us with
``sqlite3`` and the same SQL. Rendering the scripts costs about 17 us per dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Template

__all__ = ["DIALECT_PLACEHOLDERS", "MIGRATIONS", "SQLITE_TYPES", "render"]

#: The words the scripts leave to a dialect: ``$identity`` an id the database assigns
#: (SQLite's rowid alias), ``$serial`` one never reused (``AUTOINCREMENT``), ``$key`` a
#: column referring to such an id, ``$seconds`` a UNIX time in seconds.
DIALECT_PLACEHOLDERS = ("identity", "serial", "key", "seconds")

#: SQLite's words for them.
SQLITE_TYPES: Mapping[str, str] = {
    "identity": "INTEGER PRIMARY KEY",
    "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "key": "INTEGER",
    "seconds": "REAL",
}

_INITIAL = """
CREATE TABLE agents (
    id         $identity,
    name       TEXT NOT NULL UNIQUE,
    created_at $seconds NOT NULL,
    owner      TEXT,
    org_id     TEXT
);
CREATE TABLE agent_versions (
    id            $identity,
    agent_id      $key NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
    version       TEXT NOT NULL,
    dockfile_yaml TEXT NOT NULL,
    image_ref     TEXT,
    created_at    $seconds NOT NULL,
    created_by    TEXT,
    UNIQUE (agent_id, version)
);
CREATE TABLE deployments (
    id               $identity,
    agent_version_id $key NOT NULL REFERENCES agent_versions(id) ON DELETE RESTRICT,
    status           TEXT NOT NULL,
    endpoint_url     TEXT,
    started_at       $seconds NOT NULL,
    stopped_at       $seconds
);
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    agent_id       $key NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
    role           TEXT NOT NULL,
    hashed_key     TEXT NOT NULL,
    hash_algorithm TEXT NOT NULL CHECK (hash_algorithm IN ('sha256', 'hmac-sha256')),
    created_at     $seconds NOT NULL,
    created_by     TEXT,
    expires_at     $seconds,
    revoked_at     $seconds,
    rotated_at     $seconds,
    grace_until    $seconds,
    replaced_by    TEXT REFERENCES api_keys(id),
    last_used_at   $seconds
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);
CREATE TABLE policies (
    id          $identity,
    agent_id    $key NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
    version_id  $key REFERENCES agent_versions(id) ON DELETE RESTRICT,
    policy_json TEXT NOT NULL,
    created_at  $seconds NOT NULL
);
CREATE TABLE audit_log (
    id           $serial,
    at           $seconds NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    agent        TEXT,
    target       TEXT,
    details_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_agent ON audit_log (agent, at);
"""

# Versions become immutable records of content (snapshot + hash); artifacts are what each
# builder made of a version; deployments name their agent, target, instance and handle;
# at most one deployment per agent and instance is active (a partial unique index);
# deploy_locks serialises deploys of one agent and instance across processes.
_DEPLOY = """
ALTER TABLE agent_versions ADD COLUMN content_hash TEXT;
CREATE TABLE artifacts (
    id               $identity,
    agent_version_id $key NOT NULL REFERENCES agent_versions(id) ON DELETE RESTRICT,
    builder          TEXT NOT NULL,
    ref              TEXT NOT NULL,
    digest           TEXT NOT NULL,
    details_json     TEXT NOT NULL DEFAULT '{}',
    created_at       $seconds NOT NULL,
    removed_at       $seconds,
    UNIQUE (agent_version_id, builder)
);
ALTER TABLE deployments ADD COLUMN agent_id $key REFERENCES agents(id);
ALTER TABLE deployments ADD COLUMN artifact_id $key REFERENCES artifacts(id);
ALTER TABLE deployments ADD COLUMN target TEXT NOT NULL DEFAULT 'local';
ALTER TABLE deployments ADD COLUMN instance TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN handle_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE deployments ADD COLUMN reason TEXT NOT NULL DEFAULT 'deploy';
ALTER TABLE deployments ADD COLUMN detail TEXT;
ALTER TABLE deployments ADD COLUMN deployed_by TEXT;
CREATE UNIQUE INDEX deployments_one_active ON deployments (agent_id, instance)
    WHERE status = 'active';
CREATE INDEX deployments_agent ON deployments (agent_id, instance, id);
CREATE TABLE deploy_locks (
    agent       TEXT NOT NULL,
    instance    TEXT NOT NULL,
    holder      TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    acquired_at $seconds NOT NULL,
    PRIMARY KEY (agent, instance)
);
"""

# What a deployment was started with, other than values: the env files' paths and the port
# it asked for (per-tenant instances are rolled out again with their own files).
_SETTINGS = """
ALTER TABLE deployments ADD COLUMN settings_json TEXT NOT NULL DEFAULT '{}';
"""

# A key may belong to one per-tenant instance of its agent ('' for the default instance).
_KEY_INSTANCE = """
ALTER TABLE api_keys ADD COLUMN instance TEXT NOT NULL DEFAULT '';
"""

# Key rows made with a pepper record its fingerprint; audit rows are sealed into a hash
# chain (agentdock.registry.auditchain) whose end the one-row audit_head table marks.
_CHAIN = """
ALTER TABLE api_keys ADD COLUMN pepper_id TEXT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN row_hash TEXT;
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_id   BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    head_mac  TEXT NOT NULL
);
"""

# The LangGraph Platform API's threads and runs of each agent, shared by its replicas
# (agentdock.registry.platformrows): a run's record, status, result, the process that runs
# it (worker, beat_at: its last sign of life) and a cancel asked from another process; a
# run's SSE frames for join_stream, numbered as their ``id:``.
_PLATFORM = """
CREATE TABLE platform_threads (
    agent         TEXT NOT NULL,
    thread_id     TEXT NOT NULL,
    owner         TEXT,
    status        TEXT NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    touched       $seconds NOT NULL,
    PRIMARY KEY (agent, thread_id)
);
CREATE TABLE platform_runs (
    agent            TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    thread_id        TEXT NOT NULL,
    status           TEXT NOT NULL,
    record_json      TEXT NOT NULL,
    result_json      TEXT,
    worker           TEXT NOT NULL,
    beat_at          $seconds NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created          $seconds NOT NULL,
    finished         $seconds,
    PRIMARY KEY (agent, run_id)
);
CREATE INDEX platform_runs_thread ON platform_runs (agent, thread_id, created);
CREATE INDEX platform_runs_finished ON platform_runs (finished);
CREATE TABLE platform_run_events (
    agent  TEXT NOT NULL,
    run_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    frame  TEXT NOT NULL,
    PRIMARY KEY (agent, run_id, seq)
);
"""

# The control plane's long operations (build, deploy, rollback, stop), so that their outcome
# outlives the process that ran them (agentdock.registry.operationrows): the process that
# runs one (worker) shows life in beat_at while it lasts.
_OPERATIONS = """
CREATE TABLE controlplane_operations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    agent       TEXT NOT NULL,
    started_by  TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  $seconds NOT NULL,
    finished_at $seconds,
    steps_json  TEXT NOT NULL DEFAULT '[]',
    result_json TEXT,
    error_json  TEXT,
    worker      TEXT NOT NULL,
    beat_at     $seconds NOT NULL
);
CREATE INDEX controlplane_operations_started ON controlplane_operations (started_at);
"""

_SCRIPTS: tuple[tuple[int, str], ...] = (
    (1, _INITIAL),
    (2, _DEPLOY),
    (3, _SETTINGS),
    (4, _KEY_INSTANCE),
    (5, _CHAIN),
    (6, _PLATFORM),
    (7, _OPERATIONS),
)


def render(types: Mapping[str, str]) -> tuple[tuple[int, str], ...]:
    """``(number, SQL script)`` in order for a dialect whose words for
    :data:`DIALECT_PLACEHOLDERS` are ``types``; numbers start at 1 and have no gaps.

    :raises KeyError: ``types`` lacks one of the placeholders.
    """
    return tuple((number, Template(script).substitute(types)) for number, script in _SCRIPTS)


#: The migrations in SQLite's dialect.
MIGRATIONS: tuple[tuple[int, str], ...] = render(SQLITE_TYPES)
