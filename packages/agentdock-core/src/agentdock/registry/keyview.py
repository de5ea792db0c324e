"""Key views: all a runtime may know of the registry, one small read-only file per instance.

A runtime checks its callers' keys; it needs the rows of its own agent and instance and
nothing else. The embedded registry is one SQLite file holding every agent's keys, the
audit log and the deployments, and a process that can read it in WAL mode can also write
it. So a runtime never opens it: the process that changes keys (``agentdock key``, a
deploy) also writes ``<home>/keys/<agent>[.<instance>]/keys.json`` with that instance's
rows, and the runtime reads that file:

- only digests (SHA-256 or HMAC-SHA-256 of 256-bit random keys), roles, expiry and the
  revoked/rotated state; never a key. A digest cannot be turned back into a key, nor be
  presented instead of one (the runtime hashes what it is given), so the file is mode 0644
  in a directory of its own: a container's user reads it without joining any group;
- replaced whole (written beside, fsynced, renamed over), so a reader sees the old or the
  new file, never half of one; its modification time strictly increases, so a reader that
  compares ``(inode, mtime, size)`` notices every change (an inode freed by one rename and
  reused two writes later still comes with a later mtime);
- written under a lock file after the registry transaction committed, reading the rows
  again under that lock: two writers racing leave the newer rows, whichever writes last.

Last use is the one thing a runtime writes about keys: ``key-use.json`` in its own state
directory (key id → the latest use), which ``agentdock key list`` merges for the keys of
that agent and instance only. A runtime can therefore lie about nothing but when its own
keys were last used.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from agentdock.registry.records import ApiKeyRecord

__all__ = [
    "KEYS_DIR",
    "KEY_USE_FILE",
    "MAX_VIEW_BYTES",
    "STATE_DIR",
    "VIEW_FILE",
    "KeyViewError",
    "instance_name",
    "merge_key_use",
    "read_key_use",
    "read_view",
    "render_view",
    "state_dir",
    "view_dir",
    "view_lock",
    "write_key_use",
    "write_view",
]

KEYS_DIR = "keys"
STATE_DIR = "state"
VIEW_FILE = "keys.json"
KEY_USE_FILE = "key-use.json"
#: A view or key-use file larger than this is refused (a few thousand keys fit in it).
MAX_VIEW_BYTES = 8 * 1024 * 1024
_FORMAT = 1
_LOCK_FILE = ".lock"
#: Columns a view carries, in :class:`ApiKeyRecord` order (``last_used_at`` stays out).
_FIELDS = (
    "key_id",
    "role",
    "hashed_key",
    "hash_algorithm",
    "created_at",
    "expires_at",
    "revoked_at",
    "rotated_at",
    "grace_until",
    "replaced_by",
    "pepper_id",
)
_TIMES = ("created_at", "expires_at", "revoked_at", "rotated_at", "grace_until")


class KeyViewError(ValueError):
    """A view or key-use file that is not what this module writes (one-line cause)."""


def instance_name(agent: str, instance: str | None) -> str:
    """``agent`` or ``agent.instance``: agent names and instance names hold no dot."""
    return f"{agent}.{instance}" if instance else agent


def view_dir(home: Path, agent: str, instance: str | None = None) -> Path:
    """``<home>/keys/<agent>[.<instance>]``: the directory a container gets, read-only."""
    return Path(home) / KEYS_DIR / instance_name(agent, instance)


def state_dir(home: Path, agent: str, instance: str | None = None) -> Path:
    """``<home>/state/<agent>[.<instance>]``: an instance's own writable directory
    (checkpoints, key use), kept across versions."""
    return Path(home) / STATE_DIR / instance_name(agent, instance)


def render_view(agent: str, instance: str, records: Iterable[ApiKeyRecord]) -> bytes:
    """The view's bytes: the rows of ``agent`` and ``instance`` among ``records``."""
    keys = [
        {name: getattr(r, name) for name in _FIELDS}
        for r in records
        if r.agent == agent and r.instance == instance
    ]
    document = {"format": _FORMAT, "agent": agent, "instance": instance, "keys": keys}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` beside ``path`` and rename it over, with a later mtime than the file
    it replaces (see the module docstring)."""
    try:
        before = path.stat().st_mtime_ns
    except OSError:
        before = 0
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        stamp = max(time.time_ns(), before + 1_000)
        os.utime(tmp, ns=(stamp, stamp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _mkdir(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


@contextlib.contextmanager
def view_lock(home: Path) -> Iterator[None]:
    """Held while views are read from the registry and written (see the module doc)."""
    import fcntl

    root = Path(home) / KEYS_DIR
    _mkdir(root, 0o755)
    fd = os.open(root / _LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_view(home: Path, agent: str, instance: str, records: Iterable[ApiKeyRecord]) -> Path:
    """Replace the view of ``agent`` and ``instance`` (call it under :func:`view_lock`)."""
    directory = view_dir(home, agent, instance)
    _mkdir(directory, 0o755)
    path = directory / VIEW_FILE
    _replace(path, render_view(agent, instance, records), 0o644)
    return path


def _bounded(path: Path) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(MAX_VIEW_BYTES + 1)
    if len(data) > MAX_VIEW_BYTES:
        raise KeyViewError(f"{path} is larger than {MAX_VIEW_BYTES} bytes")
    return data


def _time(value: Any, name: str, path: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise KeyViewError(f"{path}: {name} is not a time")
    return float(value)


def _text(value: Any, name: str, path: Path, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise KeyViewError(f"{path}: {name} is not text")
    return value


def read_view(path: Path, agent: str, instance: str) -> dict[str, ApiKeyRecord]:
    """The rows of a view by key id; a missing file has none.

    :raises KeyViewError: the file is not a view of ``agent`` and ``instance``.
    :raises OSError: it exists but cannot be read.
    """
    try:
        data = _bounded(path)
    except FileNotFoundError:
        return {}
    try:
        document = json.loads(data)
    except ValueError:
        raise KeyViewError(f"{path} is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise KeyViewError(f"{path} is not a key view this release reads")
    if document.get("agent") != agent or document.get("instance") != instance:
        raise KeyViewError(f"{path} is the view of another agent or instance")
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise KeyViewError(f"{path}: keys is not a list")
    found: dict[str, ApiKeyRecord] = {}
    for row in keys:
        if not isinstance(row, dict):
            raise KeyViewError(f"{path}: a key is not an object")
        times = {name: _time(row.get(name), name, path) for name in _TIMES}
        created = times["created_at"]
        record = ApiKeyRecord(
            key_id=str(_text(row.get("key_id"), "key_id", path)),
            agent=agent,
            role=str(_text(row.get("role"), "role", path)),
            hashed_key=str(_text(row.get("hashed_key"), "hashed_key", path)),
            hash_algorithm=str(_text(row.get("hash_algorithm"), "hash_algorithm", path)),
            created_at=created if created is not None else 0.0,
            expires_at=times["expires_at"],
            revoked_at=times["revoked_at"],
            rotated_at=times["rotated_at"],
            grace_until=times["grace_until"],
            replaced_by=_text(row.get("replaced_by"), "replaced_by", path, optional=True),
            instance=instance,
            pepper_id=_text(row.get("pepper_id"), "pepper_id", path, optional=True),
        )
        found[record.key_id] = record
    return found


def read_key_use(path: Path) -> dict[str, float]:
    """Key id → last use (UNIX seconds) from a runtime's ``key-use.json``. A missing,
    oversized or malformed file counts as empty: it was written by a runtime, which is
    trusted with nothing but the last use of its own keys."""
    try:
        document = json.loads(_bounded(path))
    except (OSError, ValueError):
        return {}
    used = document.get("used") if isinstance(document, dict) else None
    if not isinstance(used, dict):
        return {}
    return {
        key: float(at)
        for key, at in used.items()
        if isinstance(key, str)
        and isinstance(at, int | float)
        and not isinstance(at, bool)
        and math.isfinite(at)
    }


def write_key_use(path: Path, used: Mapping[str, float]) -> int:
    """Merge ``used`` into ``key-use.json`` (a time never moves backwards); returns how many
    keys got a later time."""
    known = read_key_use(path)
    changed = 0
    for key_id, at in used.items():
        if at > known.get(key_id, -math.inf):
            known[key_id] = float(at)
            changed += 1
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"format": _FORMAT, "used": known}
        _replace(path, json.dumps(document, separators=(",", ":")).encode("utf-8"), 0o644)
    return changed


def merge_key_use(home: Path, records: Iterable[ApiKeyRecord]) -> list[ApiKeyRecord]:
    """``records`` with ``last_used_at`` raised to what their instances' runtimes wrote."""
    import dataclasses

    files: dict[tuple[str, str], dict[str, float]] = {}
    merged: list[ApiKeyRecord] = []
    for record in records:
        where = (record.agent, record.instance)
        if where not in files:
            files[where] = read_key_use(
                state_dir(home, record.agent, record.instance) / KEY_USE_FILE
            )
        used = files[where].get(record.key_id)
        if used is not None and (record.last_used_at is None or used > record.last_used_at):
            record = dataclasses.replace(record, last_used_at=used)
        merged.append(record)
    return merged
