"""What every SQL registry backend shares: the connection contract, the errors, the rows.

:class:`SQLBase` is what a backend supplies (``_tx()``, ``_read()``, ``migrate()``,
``close()`` and the optional hooks) and what the query classes beside it build on:
:mod:`.sqlaudit` (the audit log and its chain), :mod:`.sqlkeys` (API keys),
:mod:`.sqlversions` (agents, versions, artifacts) and :mod:`.sqldeployments`
(deployments and deploy locks). :class:`agentdock.registry.sql.SQLStore` is all of them.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, Self

from agentdock.registry.records import (
    ArtifactRecord,
    DeploymentRecord,
    VersionRecord,
)

__all__ = [
    "Connection",
    "Cursor",
    "ImmutableVersion",
    "LockHeld",
    "RegistryError",
    "SQLBase",
    "since",
]


class RegistryError(Exception):
    """The registry cannot be opened or a write broke a constraint (one-line cause)."""


class ImmutableVersion(RegistryError):
    """A version string is already recorded with other content."""

    def __init__(self, record: VersionRecord) -> None:
        super().__init__(
            f"version {record.version} of {record.agent} is already recorded with other "
            f"content (hash {record.content_hash[:12]})"
        )
        self.record = record


class LockHeld(RegistryError):
    """Another process holds the deploy lock of an agent and instance."""

    def __init__(self, holder: str, pid: int, host: str, acquired_at: float) -> None:
        super().__init__(f"held by {holder} (pid {pid} on {host}) since {since(acquired_at)}")
        self.holder, self.pid, self.host, self.acquired_at = holder, pid, host, acquired_at


def since(ts: float, now: float | None = None) -> str:
    """An epoch as this machine's local time and its age: ``2026-12-06 09:14:02 (3 min ago)``."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    return f"{when} ({_age(_now(now) - ts)})"


def _age(seconds: float) -> str:
    if seconds < 0:
        return "in the future: check the clocks"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min ago"
    days = int(seconds // 86400)
    return f"{days} day{'' if days == 1 else 's'} ago"


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What :class:`SQLStore` needs of a DB-API connection (``?`` parameters)."""

    def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _version(row: Sequence[Any]) -> VersionRecord:
    return VersionRecord(row[0], row[1], row[2], row[3] or "", row[4], row[5], row[6])


def _artifact(row: Sequence[Any]) -> ArtifactRecord:
    return ArtifactRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])


def _deployment(row: Sequence[Any]) -> DeploymentRecord:
    return DeploymentRecord(
        id=row[0],
        agent=row[1],
        version=row[2],
        version_id=row[3],
        artifact_id=row[4],
        target=row[5],
        instance=row[6],
        status=row[7],
        endpoint=row[8],
        handle=json.loads(row[9]),
        reason=row[10],
        detail=row[11],
        started_at=row[12],
        stopped_at=row[13],
        deployed_by=row[14],
        settings=json.loads(row[15]),
    )


class SQLBase(abc.ABC):
    """The connections a backend supplies, and its optional hooks."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Connection]:
        """One write transaction (committed on exit, rolled back on an exception)."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Connection]:
        """A connection for reads."""

    @abc.abstractmethod
    def migrate(self) -> None:
        """Bring the schema up to date."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connections."""

    def _key_changed(self, conn: Connection, message: str) -> None:
        """Inside the transaction that changed API keys: a backend that can tell other
        processes at commit time does it here (Postgres: ``NOTIFY``). ``message`` is
        :func:`~agentdock.registry.keychanges.change_message`'s payload."""
        return None

    def _refresh_key_views(self, agent: str | None = None) -> None:
        """After a commit that changed key rows of ``agent`` (None: any): a backend whose
        runtimes read key views (:mod:`agentdock.registry.keyview`) rewrites them here."""
        return None

    def _audit_key_dir(self) -> Path | None:
        """Where the chain key file lives without ``AGENTDOCK_AUDIT_KEY`` (None: nowhere,
        the variable is then required to seal rows)."""
        return None

    def _is_integrity_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the driver's constraint violation (a backend whose driver
        names it otherwise widens this)."""
        return type(exc).__name__ in {"IntegrityError", "UniqueViolation", "ForeignKeyViolation"}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- agents ---------------------------------------------------------------------------

    def _agent_id(self, conn: Connection, name: str, now: float) -> int:
        row = conn.execute("SELECT id FROM agents WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        row = conn.execute(
            "INSERT INTO agents (name, created_at) VALUES (?, ?) RETURNING id", (name, now)
        ).fetchone()
        return int(row[0])
