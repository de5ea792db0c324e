"""The registry store (DESIGN §8): agents, versions, deployments, API keys, audit log.

``open_store()`` opens the embedded SQLite registry of the AgentDock home
(``$AGENTDOCK_HOME/registry.db``, else the nearest ``.agentdock/registry.db`` up from the
working directory: :mod:`agentdock.home`) and brings its schema up to date. Rows never hold a
key in clear or any other secret: keys are stored as digests, audit entries drop fields
whose names look secret. Audit rows are sealed into a keyed hash chain
(:mod:`agentdock.registry.auditchain`); runtimes read keys from per-instance key views
(:mod:`agentdock.registry.keyview`), never from the registry file.
"""

from __future__ import annotations

from agentdock.registry.auditchain import AUDIT_KEY_ENV, ChainReport
from agentdock.registry.keychanges import KEY_CHANNEL, change_message, changed_agent
from agentdock.registry.records import (
    ApiKeyRecord,
    ArtifactRecord,
    AuditEntry,
    DeploymentRecord,
    VersionRecord,
)
from agentdock.registry.sql import SQLStore
from agentdock.registry.sqlbase import ImmutableVersion, LockHeld, RegistryError
from agentdock.registry.sqlite import (
    DATABASE_URL_ENV,
    HOME_ENV,
    RUNTIME_DATABASE_URL_ENV,
    RegistryNotFound,
    SQLiteStore,
    default_registry_path,
    describe_store,
    open_store,
    redact_url,
)

__all__ = [
    "AUDIT_KEY_ENV",
    "DATABASE_URL_ENV",
    "HOME_ENV",
    "KEY_CHANNEL",
    "RUNTIME_DATABASE_URL_ENV",
    "ApiKeyRecord",
    "ArtifactRecord",
    "AuditEntry",
    "ChainReport",
    "DeploymentRecord",
    "ImmutableVersion",
    "LockHeld",
    "RegistryError",
    "RegistryNotFound",
    "SQLStore",
    "SQLiteStore",
    "VersionRecord",
    "change_message",
    "changed_agent",
    "default_registry_path",
    "describe_store",
    "open_store",
    "redact_url",
]
