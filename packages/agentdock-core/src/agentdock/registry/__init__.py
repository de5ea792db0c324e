"""The registry store (DESIGN §8): agents, versions, deployments, API keys, audit log.

``open_store()`` opens the embedded SQLite registry at ``$AGENTDOCK_HOME/registry.db`` or
``<project>/.agentdock/registry.db`` and brings its schema up to date. Rows never hold a
key in clear or any other secret: keys are stored as digests, audit entries drop fields
whose names look secret.
"""

from __future__ import annotations

from agentdock.registry.records import ApiKeyRecord, AuditEntry
from agentdock.registry.sqlite import (
    HOME_ENV,
    RegistryError,
    SQLiteStore,
    default_registry_path,
    open_store,
)

__all__ = [
    "HOME_ENV",
    "ApiKeyRecord",
    "AuditEntry",
    "RegistryError",
    "SQLiteStore",
    "default_registry_path",
    "open_store",
]
