"""Numbered schema migrations of the registry store.

Each entry runs once, inside one transaction, and is recorded in ``schema_migrations``.
Migrations are append-only: a released number is never edited, a change is a new number.
Migration 1 creates the tables of the data model (agents, agent_versions, deployments,
api_keys, policies) and the audit log. Timestamps are UNIX seconds (REAL, UTC).
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

_INITIAL = """
CREATE TABLE agents (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    owner      TEXT,
    org_id     TEXT
);
CREATE TABLE agent_versions (
    id            INTEGER PRIMARY KEY,
    agent_id      INTEGER NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
    version       TEXT NOT NULL,
    dockfile_yaml TEXT NOT NULL,
    image_ref     TEXT,
    created_at    REAL NOT NULL,
    created_by    TEXT,
    UNIQUE (agent_id, version)
);
CREATE TABLE deployments (
    id               INTEGER PRIMARY KEY,
    agent_version_id INTEGER NOT NULL REFERENCES agent_versions(id) ON DELETE RESTRICT,
    status           TEXT NOT NULL,
    endpoint_url     TEXT,
    started_at       REAL NOT NULL,
    stopped_at       REAL
);
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    agent_id       INTEGER NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
    role           TEXT NOT NULL,
    hashed_key     TEXT NOT NULL,
    hash_algorithm TEXT NOT NULL CHECK (hash_algorithm IN ('sha256', 'hmac-sha256')),
    created_at     REAL NOT NULL,
    created_by     TEXT,
    expires_at     REAL,
    revoked_at     REAL,
    rotated_at     REAL,
    grace_until    REAL,
    replaced_by    TEXT REFERENCES api_keys(id),
    last_used_at   REAL
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);
CREATE TABLE policies (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id) ON DELETE RESTRICT,
    version_id  INTEGER REFERENCES agent_versions(id) ON DELETE RESTRICT,
    policy_json TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           REAL NOT NULL,
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
    id               INTEGER PRIMARY KEY,
    agent_version_id INTEGER NOT NULL REFERENCES agent_versions(id) ON DELETE RESTRICT,
    builder          TEXT NOT NULL,
    ref              TEXT NOT NULL,
    digest           TEXT NOT NULL,
    details_json     TEXT NOT NULL DEFAULT '{}',
    created_at       REAL NOT NULL,
    removed_at       REAL,
    UNIQUE (agent_version_id, builder)
);
ALTER TABLE deployments ADD COLUMN agent_id INTEGER REFERENCES agents(id);
ALTER TABLE deployments ADD COLUMN artifact_id INTEGER REFERENCES artifacts(id);
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
    acquired_at REAL NOT NULL,
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

#: ``(number, SQL script)`` in order; numbers start at 1 and have no gaps.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, _INITIAL),
    (2, _DEPLOY),
    (3, _SETTINGS),
    (4, _KEY_INSTANCE),
    (5, _CHAIN),
)
