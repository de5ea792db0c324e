"""The registry's queries, written once for every SQL backend.

:class:`SQLStore` holds every query in portable SQL with ``?`` parameters (SQLite's style;
a backend with another style rewrites them in its connection wrapper) and ``RETURNING`` for
new ids. A backend supplies two context managers: ``_tx()`` (one write transaction) and
``_read()`` (a connection for reads), plus its migrations. The embedded backend is
:class:`agentdock.registry.sqlite.SQLiteStore`; the Postgres plugin is another.
"""

from __future__ import annotations

import abc
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, Self

from agentdock.registry.auditchain import (
    AUDIT_KEY_ENV,
    GENESIS,
    AuditKeyError,
    ChainReport,
    head_mac,
    load_audit_key,
    row_hash,
    verify_chain,
)
from agentdock.registry.keychanges import announce, change_message
from agentdock.registry.records import (
    ACTIVE,
    ApiKeyRecord,
    ArtifactRecord,
    AuditEntry,
    DeploymentRecord,
    VersionRecord,
)

__all__ = [
    "Connection",
    "ImmutableVersion",
    "LockHeld",
    "RegistryError",
    "SQLStore",
    "clean_details",
]

_KEY_SELECT = (
    "SELECT k.id, a.name, k.role, k.hashed_key, k.hash_algorithm, k.created_at, k.created_by, "
    "k.expires_at, k.revoked_at, k.rotated_at, k.grace_until, k.replaced_by, k.last_used_at, "
    "k.instance, k.pepper_id FROM api_keys k JOIN agents a ON a.id = k.agent_id"
)
_VERSION_SELECT = (
    "SELECT v.id, a.name, v.version, v.content_hash, v.dockfile_yaml, v.created_at, "
    "v.created_by FROM agent_versions v JOIN agents a ON a.id = v.agent_id"
)
_ARTIFACT_SELECT = (
    "SELECT id, agent_version_id, builder, ref, digest, details_json, created_at FROM artifacts"
)
_DEPLOYMENT_SELECT = (
    "SELECT d.id, a.name, v.version, d.agent_version_id, d.artifact_id, d.target, d.instance, "
    "d.status, d.endpoint_url, d.handle_json, d.reason, d.detail, d.started_at, d.stopped_at, "
    "d.deployed_by, d.settings_json FROM deployments d "
    "JOIN agent_versions v ON v.id = d.agent_version_id "
    "JOIN agents a ON a.id = v.agent_id"
)
#: Key ids per query when many key rows are read at once (under every backend's limit).
_KEYS_PER_QUERY = 500
#: Details keys an audit entry may never carry, whatever the caller passes.
_SECRET_WORDS = ("key", "secret", "token", "password", "digest", "hash")
_SAFE_DETAIL_KEYS = frozenset({"key_id", "new_key_id", "old_key_id", "hash_algorithm"})


log = logging.getLogger("agentdock.registry")

#: An audit row's sealed columns, in :func:`~agentdock.registry.auditchain.row_hash` order.
_AUDIT_SELECT = "SELECT id, at, actor, action, agent, target, details_json FROM audit_log"
_AUDIT_CHAIN_SELECT = (
    "SELECT id, at, actor, action, agent, target, details_json, prev_hash, row_hash "
    "FROM audit_log ORDER BY id"
)


def _pepper_of(algorithm: str, given: str | None) -> str | None:
    """The pepper fingerprint an ``hmac-sha256`` row records."""
    from agentdock.auth.keys import HMAC_SHA256, pepper_id

    if algorithm != HMAC_SHA256:
        return None
    return given if given is not None else pepper_id()


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


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` without the fields whose names look secret."""
    out: dict[str, Any] = {}
    for name, value in (details or {}).items():
        lowered = name.lower()
        if lowered not in _SAFE_DETAIL_KEYS and any(w in lowered for w in _SECRET_WORDS):
            continue
        out[name] = value
    return out


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


class SQLStore(abc.ABC):
    """Every registry operation; subclasses supply connections and migrations."""

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

    def audit_key(self, *, create: bool = False) -> bytes | None:
        """The audit chain key (:func:`~agentdock.registry.auditchain.load_audit_key`)."""
        key: bytes | None = getattr(self, "_chain_key", None)
        if key is None:
            try:
                key = load_audit_key(self._audit_key_dir(), create=create)
            except AuditKeyError as exc:
                raise RegistryError(str(exc)) from None
            self._chain_key = key
        return key

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

    def list_agents(self) -> list[str]:
        """Every agent name the registry knows, sorted."""
        with self._read() as conn:
            rows = conn.execute("SELECT name FROM agents ORDER BY name").fetchall()
        return [str(r[0]) for r in rows]

    # -- API keys -------------------------------------------------------------------------

    def create_api_key(
        self,
        *,
        agent: str,
        role: str,
        key_id: str,
        hashed_key: str,
        hash_algorithm: str,
        expires_at: float | None = None,
        created_by: str | None = None,
        instance: str = "",
        pepper_id: str | None = None,
        now: float | None = None,
    ) -> ApiKeyRecord:
        """Insert a key row (the agent row is created on first use). A key of a named
        ``instance`` works only on that per-tenant instance. An ``hmac-sha256`` row records
        the fingerprint of the pepper (``pepper_id``, default: this process's)."""
        at = _now(now)
        fingerprint = _pepper_of(hash_algorithm, pepper_id)
        try:
            with self._tx() as conn:
                agent_id = self._agent_id(conn, agent, at)
                conn.execute(
                    "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, "
                    "created_at, created_by, expires_at, instance, pepper_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key_id,
                        agent_id,
                        role,
                        hashed_key,
                        hash_algorithm,
                        at,
                        created_by,
                        expires_at,
                        instance,
                        fingerprint,
                    ),
                )
        except RegistryError:
            raise
        except Exception as exc:
            if not self._is_integrity_error(exc):
                raise
            raise RegistryError(f"cannot store key {key_id}: {exc}") from None
        self._refresh_key_views(agent)
        record = self.get_api_key(key_id)
        assert record is not None
        return record

    def _is_integrity_error(self, exc: BaseException) -> bool:
        return type(exc).__name__ in {"IntegrityError", "UniqueViolation", "ForeignKeyViolation"}

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The row of one key id (the public part of a presented key), or None."""
        with self._read() as conn:
            row = conn.execute(f"{_KEY_SELECT} WHERE k.id = ?", (key_id,)).fetchone()
        return ApiKeyRecord(*row) if row is not None else None

    def get_api_keys(self, key_ids: Iterable[str]) -> dict[str, ApiKeyRecord]:
        """The rows of many key ids at once, by id (ids without a row are left out).

        A runtime re-reads every key row it holds in memory with this after a change.
        """
        wanted = list(dict.fromkeys(key_ids))
        found: dict[str, ApiKeyRecord] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), _KEYS_PER_QUERY):
                chunk = wanted[start : start + _KEYS_PER_QUERY]
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(f"{_KEY_SELECT} WHERE k.id IN ({marks})", chunk).fetchall()
                for row in rows:
                    record = ApiKeyRecord(*row)
                    found[record.key_id] = record
        return found

    def list_api_keys(self, agent: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one agent), oldest first."""
        with self._read() as conn:
            if agent is None:
                rows = conn.execute(f"{_KEY_SELECT} ORDER BY k.created_at, k.id").fetchall()
            else:
                rows = conn.execute(
                    f"{_KEY_SELECT} WHERE a.name = ? ORDER BY k.created_at, k.id", (agent,)
                ).fetchall()
        return [ApiKeyRecord(*row) for row in rows]

    def rotate_api_key(
        self,
        *,
        agent: str,
        key_id: str,
        new_key_id: str,
        new_hashed_key: str,
        hash_algorithm: str,
        grace_seconds: float,
        created_by: str | None = None,
        now: float | None = None,
    ) -> tuple[ApiKeyRecord, ApiKeyRecord] | None:
        """Replace a live key by a new one with the same role and expiry, in one transaction.

        The old key stays valid until ``now + grace_seconds``. Returns ``(old, new)``, or
        None when the agent has no such live (not revoked, not rotated, not expired) key.
        Running runtimes are told (see :mod:`agentdock.registry.keychanges`).
        """
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT k.agent_id, k.role, k.expires_at, k.instance FROM api_keys k JOIN agents a "
                "ON a.id = k.agent_id WHERE k.id = ? AND a.name = ? AND k.revoked_at IS NULL "
                "AND k.rotated_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)",
                (key_id, agent, at),
            ).fetchone()
            if row is None:
                return None
            agent_id, role, expires_at, instance = row
            conn.execute(
                "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, "
                "created_at, created_by, expires_at, instance, pepper_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new_key_id,
                    agent_id,
                    role,
                    new_hashed_key,
                    hash_algorithm,
                    at,
                    created_by,
                    expires_at,
                    instance,
                    _pepper_of(hash_algorithm, None),
                ),
            )
            conn.execute(
                "UPDATE api_keys SET rotated_at = ?, grace_until = ?, replaced_by = ? WHERE id = ?",
                (at, at + grace_seconds, new_key_id, key_id),
            )
            self._key_changed(conn, change_message(agent, [key_id, new_key_id], "rotate"))
        self._refresh_key_views(agent)
        announce(agent, [key_id, new_key_id], "rotate")
        old, new = self.get_api_key(key_id), self.get_api_key(new_key_id)
        assert old is not None and new is not None
        return old, new

    def revoke_api_key(
        self, *, agent: str, key_id: str, now: float | None = None
    ) -> ApiKeyRecord | None:
        """Mark a key revoked (effective immediately); None when the agent has no such key.

        Revoking an already revoked key keeps its first ``revoked_at``. Running runtimes
        are told (see :mod:`agentdock.registry.keychanges`).
        """
        at = _now(now)
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? "
                "AND agent_id = (SELECT id FROM agents WHERE name = ?)",
                (at, key_id, agent),
            )
            if cur.rowcount == 0:
                return None
            self._key_changed(conn, change_message(agent, [key_id], "revoke"))
        self._refresh_key_views(agent)
        announce(agent, [key_id], "revoke")
        return self.get_api_key(key_id)

    def touch_api_keys(self, used: Mapping[str, float] | Iterable[tuple[str, float]]) -> int:
        """Record ``last_used_at`` for many keys in one transaction; returns rows changed.

        Called in batches off the request path; a time never moves backwards.
        """
        items = list(used.items() if isinstance(used, Mapping) else used)
        if not items:
            return 0
        changed = 0
        with self._tx() as conn:
            for key_id, at in items:
                cur = conn.execute(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ? "
                    "AND (last_used_at IS NULL OR last_used_at < ?)",
                    (at, key_id, at),
                )
                changed += max(cur.rowcount, 0)
        return changed

    # -- audit log ------------------------------------------------------------------------

    def append_audit(
        self,
        action: str,
        *,
        actor: str,
        agent: str | None = None,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> AuditEntry:
        """Append one audit entry; detail fields whose names look secret are dropped."""
        at = _now(now)
        clean = clean_details(details)
        with self._tx() as conn:
            entry_id = self._insert_audit(conn, at, actor, action, agent, target, clean)
        return AuditEntry(entry_id, at, actor, action, agent, target, clean)

    def _insert_audit(
        self,
        conn: Connection,
        at: float,
        actor: str,
        action: str,
        agent: str | None,
        target: str | None,
        clean: Mapping[str, Any],
    ) -> int:
        row = conn.execute(
            "INSERT INTO audit_log (at, actor, action, agent, target, details_json) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (at, actor, action, agent, target, json.dumps(clean, sort_keys=True)),
        ).fetchone()
        entry_id = int(row[0])
        key = self.audit_key(create=True)
        if key is not None:
            self._seal(conn, key, entry_id)
        elif not getattr(self, "_unsealed_warned", False):
            self._unsealed_warned = True
            log.warning(
                "audit rows are appended unsealed: set %s (the same value for everyone who "
                "writes this registry) to chain them",
                AUDIT_KEY_ENV,
            )
        return entry_id

    def _seal(self, conn: Connection, key: bytes, upto: int | None) -> None:
        """Seal row ``upto`` onto the chain's head, inside the caller's write transaction
        (which holds the registry's write lock: no other writer can fork the chain).

        Without a head yet, every row up to ``upto`` (None: every row) is sealed from the
        genesis value: the rows written before the chain existed. With one, only ``upto``:
        a row some other writer slipped in unsealed stays unsealed, for ``verify`` to see.
        """
        head = conn.execute("SELECT last_id, last_hash FROM audit_head WHERE id = 1").fetchone()
        query = _AUDIT_SELECT
        if head is None:
            last_id, last_hash = 0, GENESIS
            rows = conn.execute(
                query + (" WHERE id <= ?" if upto is not None else "") + " ORDER BY id",
                (upto,) if upto is not None else (),
            ).fetchall()
        else:
            last_id, last_hash = int(head[0]), str(head[1])
            rows = conn.execute(query + " WHERE id = ?", (upto,)).fetchall() if upto else []
        for found in rows:
            if int(found[0]) <= last_id:
                continue
            sealed = row_hash(key, found, last_hash)
            conn.execute(
                "UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE id = ?",
                (last_hash, sealed, found[0]),
            )
            last_id, last_hash = int(found[0]), sealed
        mac = head_mac(key, last_id, last_hash)
        if head is None:
            conn.execute(
                "INSERT INTO audit_head (id, last_id, last_hash, head_mac) VALUES (1, ?, ?, ?)",
                (last_id, last_hash, mac),
            )
        else:
            conn.execute(
                "UPDATE audit_head SET last_id = ?, last_hash = ?, head_mac = ? WHERE id = 1",
                (last_id, last_hash, mac),
            )

    def seal_audit(self) -> bool:
        """Seal the rows written before the chain existed, when this process has the key
        and no chain was started yet; whether a chain exists afterwards."""
        key = self.audit_key(create=True)
        if key is None:
            return False
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM audit_head WHERE id = 1").fetchone() is None:
                self._seal(conn, key, None)
        return True

    def verify_audit(self, key: bytes) -> ChainReport:
        """Walk the whole chain (:func:`~agentdock.registry.auditchain.verify_chain`)."""
        with self._read() as conn:
            head = conn.execute(
                "SELECT last_id, last_hash, head_mac FROM audit_head WHERE id = 1"
            ).fetchone()
            rows = conn.execute(_AUDIT_CHAIN_SELECT).fetchall()
        return verify_chain(key, rows, head)

    def list_audit(self, *, agent: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries (of one agent), oldest first."""
        query = "SELECT id, at, actor, action, agent, target, details_json FROM audit_log"
        args: tuple[Any, ...] = ()
        if agent is not None:
            query += " WHERE agent = ?"
            args = (agent,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._read() as conn:
            rows = conn.execute(query, (*args, int(limit))).fetchall()
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in reversed(rows)
        ]

    # -- versions -------------------------------------------------------------------------

    def get_version(self, agent: str, version: str) -> VersionRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? AND v.version = ?", (agent, version)
            ).fetchone()
        return _version(row) if row is not None else None

    def get_version_by_id(self, version_id: int) -> VersionRecord | None:
        with self._read() as conn:
            row = conn.execute(f"{_VERSION_SELECT} WHERE v.id = ?", (version_id,)).fetchone()
        return _version(row) if row is not None else None

    def find_version_by_hash(self, agent: str, content_hash: str) -> VersionRecord | None:
        """The newest version of ``agent`` recorded with this content, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? AND v.content_hash = ? ORDER BY v.id DESC",
                (agent, content_hash),
            ).fetchone()
        return _version(row) if row is not None else None

    def list_versions(self, agent: str) -> list[VersionRecord]:
        """Every version of ``agent``, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? ORDER BY v.id", (agent,)
            ).fetchall()
        return [_version(r) for r in rows]

    def record_version(
        self,
        *,
        agent: str,
        version: str,
        snapshot: str,
        content_hash: str,
        created_by: str | None = None,
        now: float | None = None,
    ) -> tuple[VersionRecord, bool]:
        """Record an immutable version; ``(record, created)``.

        The same version string with the same content returns the existing row
        (``created`` False); with other content it raises :class:`ImmutableVersion`.
        """
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                f"{_VERSION_SELECT} WHERE a.name = ? AND v.version = ?", (agent, version)
            ).fetchone()
            if row is not None:
                existing = _version(row)
                if existing.content_hash != content_hash:
                    raise ImmutableVersion(existing)
                return existing, False
            agent_id = self._agent_id(conn, agent, at)
            conn.execute(
                "INSERT INTO agent_versions (agent_id, version, dockfile_yaml, content_hash, "
                "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
                (agent_id, version, snapshot, content_hash, at, created_by),
            )
            self._insert_audit(
                conn,
                at,
                created_by or "cli",
                "version.record",
                agent,
                version,
                {"content_hash": content_hash[:12]},
            )
        record = self.get_version(agent, version)
        assert record is not None
        return record, True

    # -- artifacts ------------------------------------------------------------------------

    def record_artifact(
        self,
        *,
        version_id: int,
        builder: str,
        ref: str,
        digest: str,
        details: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> ArtifactRecord:
        """Record (or refresh) what ``builder`` made of a version."""
        at = _now(now)
        payload = json.dumps(dict(details or {}), sort_keys=True)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM artifacts WHERE agent_version_id = ? AND builder = ?",
                (version_id, builder),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO artifacts (agent_version_id, builder, ref, digest, details_json, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (version_id, builder, ref, digest, payload, at),
                )
            else:
                conn.execute(
                    "UPDATE artifacts SET ref = ?, digest = ?, details_json = ?, created_at = ?, "
                    "removed_at = NULL WHERE id = ?",
                    (ref, digest, payload, at, row[0]),
                )
            conn.execute(
                "UPDATE agent_versions SET image_ref = COALESCE(image_ref, ?) WHERE id = ?",
                (ref, version_id),
            )
        found = self.get_artifact(version_id, builder)
        assert found is not None
        return found

    def get_artifact(self, version_id: int, builder: str) -> ArtifactRecord | None:
        """The live (not removed) artifact of a version for one builder, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"{_ARTIFACT_SELECT} WHERE agent_version_id = ? AND builder = ? "
                "AND removed_at IS NULL",
                (version_id, builder),
            ).fetchone()
        return _artifact(row) if row is not None else None

    def list_artifacts(self, agent: str) -> list[ArtifactRecord]:
        """Live artifacts of every version of ``agent``, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT r.id, r.agent_version_id, r.builder, r.ref, r.digest, r.details_json, "
                "r.created_at FROM artifacts r JOIN agent_versions v ON v.id = r.agent_version_id "
                "JOIN agents a ON a.id = v.agent_id WHERE a.name = ? AND r.removed_at IS NULL "
                "ORDER BY r.id",
                (agent,),
            ).fetchall()
        return [_artifact(r) for r in rows]

    def mark_artifact_removed(self, artifact_id: int, now: float | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE artifacts SET removed_at = ? WHERE id = ?", (_now(now), artifact_id)
            )

    # -- deployments ----------------------------------------------------------------------

    def create_deployment(
        self,
        *,
        version_id: int,
        artifact_id: int | None,
        target: str,
        instance: str = "",
        reason: str = "deploy",
        deployed_by: str | None = None,
        settings: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> DeploymentRecord:
        """A new ``pending`` deployment (its runtime is about to start).

        ``settings`` records how it was started (env file paths, the requested port), never
        a value from the environment.
        """
        at = _now(now)
        payload = json.dumps(dict(settings or {}), sort_keys=True)
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO deployments (agent_version_id, agent_id, artifact_id, status, "
                "target, instance, reason, deployed_by, started_at, settings_json) "
                "SELECT ?, agent_id, ?, 'pending', ?, ?, ?, ?, ?, ? FROM agent_versions "
                "WHERE id = ? RETURNING id",
                (
                    version_id,
                    artifact_id,
                    target,
                    instance,
                    reason,
                    deployed_by,
                    at,
                    payload,
                    version_id,
                ),
            ).fetchone()
            if row is None:
                raise RegistryError(f"no version with id {version_id}")
        found = self.get_deployment(int(row[0]))
        assert found is not None
        return found

    def set_deployment_handle(
        self, deployment_id: int, handle: Mapping[str, Any], endpoint: str | None
    ) -> None:
        """Record where a started runtime runs (before its health gate)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE deployments SET handle_json = ?, endpoint_url = ? WHERE id = ?",
                (json.dumps(dict(handle), sort_keys=True), endpoint, deployment_id),
            )

    def activate_deployment(
        self, deployment_id: int, *, actor: str = "cli", now: float | None = None
    ) -> DeploymentRecord | None:
        """Make a pending deployment the active one of its agent and instance, in one
        transaction; the previously active one becomes ``superseded``. Returns that one."""
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT agent_id, instance, status FROM deployments WHERE id = ?",
                (deployment_id,),
            ).fetchone()
            if row is None or row[2] != "pending":
                raise RegistryError(f"deployment {deployment_id} is not pending")
            agent_id, instance, _ = row
            old = conn.execute(
                "SELECT id FROM deployments WHERE agent_id = ? AND instance = ? AND status = ?",
                (agent_id, instance, ACTIVE),
            ).fetchone()
            if old is not None:
                conn.execute(
                    "UPDATE deployments SET status = 'superseded', stopped_at = ? WHERE id = ?",
                    (at, old[0]),
                )
            conn.execute("UPDATE deployments SET status = ? WHERE id = ?", (ACTIVE, deployment_id))
            current = conn.execute(
                f"{_DEPLOYMENT_SELECT} WHERE d.id = ?", (deployment_id,)
            ).fetchone()
            record = _deployment(current)
            self._insert_audit(
                conn,
                at,
                actor,
                f"{record.reason}.activate",
                record.agent,
                record.version,
                {
                    "deployment_id": deployment_id,
                    "target": record.target,
                    "instance": record.instance or None,
                    "previous_deployment_id": old[0] if old else None,
                },
            )
        return self.get_deployment(int(old[0])) if old is not None else None

    def finish_deployment(
        self,
        deployment_id: int,
        status: str,
        *,
        detail: str | None = None,
        now: float | None = None,
    ) -> None:
        """End a deployment: ``failed``, ``stopped`` or ``superseded``."""
        if status not in {"failed", "stopped", "superseded"}:
            raise ValueError(f"not an end state: {status!r}")
        with self._tx() as conn:
            conn.execute(
                "UPDATE deployments SET status = ?, detail = COALESCE(?, detail), "
                "stopped_at = COALESCE(stopped_at, ?) WHERE id = ?",
                (status, detail, _now(now), deployment_id),
            )

    def get_deployment(self, deployment_id: int) -> DeploymentRecord | None:
        with self._read() as conn:
            row = conn.execute(f"{_DEPLOYMENT_SELECT} WHERE d.id = ?", (deployment_id,)).fetchone()
        return _deployment(row) if row is not None else None

    def active_deployment(self, agent: str, instance: str = "") -> DeploymentRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"{_DEPLOYMENT_SELECT} WHERE a.name = ? AND d.instance = ? AND d.status = ?",
                (agent, instance, ACTIVE),
            ).fetchone()
        return _deployment(row) if row is not None else None

    def list_instances(self, agent: str) -> list[str]:
        """Named instances of ``agent`` ever deployed (``""``, the default one, excluded)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT d.instance FROM deployments d JOIN agents a ON a.id = d.agent_id "
                "WHERE a.name = ? AND d.instance <> '' ORDER BY d.instance",
                (agent,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def list_deployments(
        self,
        agent: str,
        *,
        instance: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> list[DeploymentRecord]:
        """Deployments of ``agent`` (one instance, some states), oldest first."""
        query = f"{_DEPLOYMENT_SELECT} WHERE a.name = ?"
        args: list[Any] = [agent]
        if instance is not None:
            query += " AND d.instance = ?"
            args.append(instance)
        wanted = list(statuses or ())
        if wanted:
            query += f" AND d.status IN ({', '.join('?' for _ in wanted)})"
            args.extend(wanted)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY d.id", tuple(args)).fetchall()
        return [_deployment(r) for r in rows]

    # -- deploy locks ---------------------------------------------------------------------

    def acquire_lock(
        self,
        agent: str,
        instance: str,
        *,
        holder: str,
        pid: int,
        host: str,
        is_stale: Any = None,
        now: float | None = None,
    ) -> None:
        """Take the deploy lock of an agent and instance or raise :class:`LockHeld`.

        ``is_stale(pid, host, acquired_at) -> bool`` may declare the current holder dead
        (its process is gone), in which case the lock is taken over.
        """
        at = _now(now)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT holder, pid, host, acquired_at FROM deploy_locks "
                "WHERE agent = ? AND instance = ?",
                (agent, instance),
            ).fetchone()
            if row is not None:
                if is_stale is None or not is_stale(row[1], row[2], row[3]):
                    raise LockHeld(row[0], row[1], row[2], row[3])
                conn.execute(
                    "DELETE FROM deploy_locks WHERE agent = ? AND instance = ?", (agent, instance)
                )
            conn.execute(
                "INSERT INTO deploy_locks (agent, instance, holder, pid, host, acquired_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (agent, instance, holder, pid, host, at),
            )

    def release_lock(self, agent: str, instance: str, *, pid: int, host: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM deploy_locks WHERE agent = ? AND instance = ? AND pid = ? "
                "AND host = ?",
                (agent, instance, pid, host),
            )
