"""The API key queries: create, read, rotate, revoke, touch. Rows hold hashes only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agentdock.registry.keychanges import announce, change_message
from agentdock.registry.records import (
    ApiKeyRecord,
)
from agentdock.registry.sqlbase import RegistryError, SQLBase, _now

__all__ = ["KeyQueries"]

_KEY_SELECT = (
    "SELECT k.id, a.name, k.role, k.hashed_key, k.hash_algorithm, k.created_at, k.created_by, "
    "k.expires_at, k.revoked_at, k.rotated_at, k.grace_until, k.replaced_by, k.last_used_at, "
    "k.instance, k.pepper_id FROM api_keys k JOIN agents a ON a.id = k.agent_id"
)
#: Key ids per query when many key rows are read at once (under every backend's limit).
_KEYS_PER_QUERY = 500


def _pepper_of(algorithm: str, given: str | None) -> str | None:
    """The pepper fingerprint an ``hmac-sha256`` row records."""
    from agentdock.auth.keys import HMAC_SHA256, pepper_id

    if algorithm != HMAC_SHA256:
        return None
    return given if given is not None else pepper_id()


class KeyQueries(SQLBase):
    """API key rows."""

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
