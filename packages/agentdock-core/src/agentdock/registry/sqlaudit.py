"""The audit log's queries: append, seal into the hash chain, verify, list.

Detail fields whose names look secret are dropped before a row is written
(:func:`clean_details`); the chain itself is :mod:`.auditchain`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

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
from agentdock.registry.records import (
    AuditEntry,
)
from agentdock.registry.sqlbase import Connection, RegistryError, SQLBase, _now

__all__ = ["AuditQueries", "clean_details"]

log = logging.getLogger("agentdock.registry")

#: Details keys an audit entry may never carry, whatever the caller passes.
_SECRET_WORDS = ("key", "secret", "token", "password", "digest", "hash")
_SAFE_DETAIL_KEYS = frozenset({"key_id", "new_key_id", "old_key_id", "hash_algorithm"})
#: An audit row's sealed columns, in :func:`~agentdock.registry.auditchain.row_hash` order.
_AUDIT_SELECT = "SELECT id, at, actor, action, agent, target, details_json FROM audit_log"
_AUDIT_CHAIN_SELECT = (
    "SELECT id, at, actor, action, agent, target, details_json, prev_hash, row_hash "
    "FROM audit_log ORDER BY id"
)


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` without the fields whose names look secret."""
    out: dict[str, Any] = {}
    for name, value in (details or {}).items():
        lowered = name.lower()
        if lowered not in _SAFE_DETAIL_KEYS and any(w in lowered for w in _SECRET_WORDS):
            continue
        out[name] = value
    return out


class AuditQueries(SQLBase):
    """The audit log and its hash chain."""

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
