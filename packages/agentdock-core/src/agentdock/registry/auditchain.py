"""The audit log's hash chain: every row sealed by a keyed hash of itself and the row before.

``row_hash = HMAC-SHA-256(chain key, canonical row || prev_hash)``, where the canonical row
is the JSON array of its id, time, actor, action, agent, target and details, and
``prev_hash`` is the previous row's ``row_hash`` (64 zeros before the first). A head
(``audit_head``: the last sealed id and hash, with an HMAC of its own) marks the end, so
rows cut off the end are noticed too. Someone who can write the database but lacks the
chain key can change, insert or delete rows, but cannot make the hashes agree again:
``agentdock audit-log verify`` walks the chain and reports the first broken link.

An HMAC rather than a plain hash chain: a plain one can be recomputed by whoever rewrote
the rows. The chain key is what only the registry's writers hold:

- ``AGENTDOCK_AUDIT_KEY`` when set (required to chain a PostgreSQL registry: everyone who
  writes it must use the same value);
- else, for the embedded registry, ``audit.key`` beside ``registry.db`` (32 random bytes,
  mode 0600, created with the first sealed row). Runtimes are never given it.

Rows are appended and sealed inside the write transaction that holds the registry's write
lock (SQLite ``BEGIN IMMEDIATE``, the PostgreSQL store's advisory lock), so two writers
never fork the chain. Rows written before the chain existed are sealed from the genesis
value by the first process that has the key (their content is vouched for from then on,
not before). A row appended without the key (a PostgreSQL writer lacking
``AGENTDOCK_AUDIT_KEY``) stays unsealed and ``verify`` reports it like an inserted row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE",
    "GENESIS",
    "AuditKeyError",
    "ChainReport",
    "head_mac",
    "load_audit_key",
    "row_hash",
    "verify_chain",
]

AUDIT_KEY_ENV = "AGENTDOCK_AUDIT_KEY"
AUDIT_KEY_FILE = "audit.key"
GENESIS = "0" * 64
_MIN_KEY_CHARS = 16


class AuditKeyError(ValueError):
    """The chain key is unusable (too short, unreadable); one-line cause."""


def load_audit_key(
    directory: Path | None, *, create: bool, environ: Mapping[str, str] | None = None
) -> bytes | None:
    """The chain key: ``AGENTDOCK_AUDIT_KEY``, else ``directory/audit.key`` (created 0600
    with ``create``), else None (no key: rows cannot be sealed or checked).

    :raises AuditKeyError: the variable is shorter than 16 characters, or the file cannot
        be read or made.
    """
    env = os.environ if environ is None else environ
    value = env.get(AUDIT_KEY_ENV, "")
    if value:
        if len(value) < _MIN_KEY_CHARS:
            raise AuditKeyError(f"{AUDIT_KEY_ENV} must be at least {_MIN_KEY_CHARS} characters")
        return value.encode("utf-8")
    if directory is None:
        return None
    path = directory / AUDIT_KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        if not create:
            return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:  # another writer made it first
        return _read_key(path)
    except OSError as exc:
        raise AuditKeyError(f"cannot create the audit chain key {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"cannot read the audit chain key {path}: {exc}") from None
    if len(text) < _MIN_KEY_CHARS:
        raise AuditKeyError(f"the audit chain key {path} is too short")
    return text.encode("ascii")


def _canonical(row: Sequence[Any]) -> bytes:
    """``(id, at, actor, action, agent, target, details_json)`` as the bytes that are sealed."""
    entry_id, at, actor, action, agent, target, details = row[:7]
    fields = [int(entry_id), float(at), actor, action, agent, target, details]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def row_hash(key: bytes, row: Sequence[Any], prev_hash: str) -> str:
    """The seal of one row given the previous row's seal."""
    message = b"agentdock-audit-v1\n" + _canonical(row) + b"\n" + prev_hash.encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_mac(key: bytes, last_id: int, last_hash: str) -> str:
    """The seal of the head (the last sealed row's id and hash)."""
    message = f"agentdock-audit-head-v1\n{int(last_id)}:{last_hash}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify_chain` found: ``ok``, the rows checked, and the first break.

    ``kind`` is ``changed`` (a row's content differs from what was sealed), ``inserted``
    (a row that was never sealed into the chain), ``deleted`` (rows missing before
    ``entry_id``, or after it at the end of the log), ``head`` (the head's own seal is
    wrong) or ``unsealed`` (the log has rows but was never sealed: no writer had the key).
    """

    ok: bool
    rows: int
    entry_id: int | None = None
    kind: str | None = None
    detail: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "broken_at": self.entry_id,
            "kind": self.kind,
            "detail": self.detail,
        }


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


def verify_chain(
    key: bytes, rows: Iterable[Sequence[Any]], head: Sequence[Any] | None
) -> ChainReport:
    """Walk ``rows`` (``id, at, actor, action, agent, target, details_json, prev_hash,
    row_hash`` in id order) against ``head`` (``last_id, last_hash, head_mac`` or None)
    and report the first broken link."""
    if head is not None and not _same(head_mac(key, head[0], head[1]), head[2]):
        return ChainReport(False, 0, int(head[0]), "head", "the head's seal does not match it")
    expected, previous_id, count = GENESIS, 0, 0
    for row in rows:
        count += 1
        entry_id, stored_prev, stored_hash = int(row[0]), row[7], row[8]
        if stored_hash is None:
            if head is None:
                return ChainReport(
                    False,
                    count,
                    entry_id,
                    "unsealed",
                    "the audit log was never sealed (no writer had the chain key)",
                )
            return ChainReport(
                False,
                count,
                entry_id,
                "inserted",
                f"row {entry_id} is not sealed: inserted by someone without the chain key",
            )
        own = _same(row_hash(key, row, stored_prev or ""), stored_hash)
        linked = _same(stored_prev, expected)
        if own and linked:
            expected, previous_id = stored_hash, entry_id
            continue
        if own:
            gap = f"ids {previous_id + 1}..{entry_id - 1}" if entry_id > previous_id + 1 else ""
            return ChainReport(
                False,
                count,
                entry_id,
                "deleted",
                f"the row sealed before row {entry_id} is missing" + (f" ({gap})" if gap else ""),
            )
        if linked:
            return ChainReport(
                False,
                count,
                entry_id,
                "changed",
                f"row {entry_id} differs from what was sealed",
            )
        return ChainReport(
            False,
            count,
            entry_id,
            "inserted",
            f"row {entry_id} does not belong to the chain: inserted or forged",
        )
    if head is None and count:
        return ChainReport(False, count, previous_id, "head", "the chain's head is missing")
    if head is not None and (int(head[0]) != previous_id or not _same(head[1], expected)):
        return ChainReport(
            False,
            count,
            previous_id or None,
            "deleted",
            f"the log ends at row {previous_id} but was sealed up to row {int(head[0])}",
        )
    return ChainReport(True, count)
