"""Project archives uploaded for a deploy (``POST /controller/deploy/archive``).

A remote ``agentdock deploy --server`` sends its project as a gzipped tar. It is unpacked
under ``<projects>/.uploads/<digest>/`` (the first 16 hex digits of its SHA-256: the same
archive unpacks once), then deployed from there as any Dockfile under the projects. The
archive is hostile until proven otherwise; it is refused whole (nothing is left on disk)
when it holds anything but regular files and directories (links, devices), a name that is
absolute, climbs out with ``..`` or is not printable UTF-8, more than :data:`MAX_MEMBERS`
entries, a path deeper than :data:`MAX_DEPTH`, or more than :data:`MAX_UNPACKED_BYTES` once
unpacked (sizes are checked from the headers before anything is written, so a gzip bomb is
refused when its declared sizes add up, and the tar stream is read once). What is written
goes through :mod:`tarfile`'s ``data`` filter as well.

Uploads would pile up (each distinct archive is a directory), so :func:`prune_uploads`
removes those no recorded deployment was made from and that have not been uploaded for a
while (the control plane runs it at start-up and after each upload). A directory a
deployment's ``project_dir`` lies in stays whatever its age: its version was deployed from
there, and a rollback reads that deployment's settings. The age bound keeps what a build or
deploy is still reading: an archive uploaded again counts as new.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from agentdock.httperrors import RuntimeHTTPError

__all__ = [
    "MAX_DEPTH",
    "MAX_MEMBERS",
    "MAX_UNPACKED_BYTES",
    "UPLOADS",
    "UPLOADS_KEEP_S",
    "prune_uploads",
    "referenced_uploads",
    "unpack_project",
]

#: The directory under the projects that uploaded projects unpack into.
UPLOADS = ".uploads"
MAX_MEMBERS = 10_000
MAX_DEPTH = 32
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
#: How long an upload no deployment was made from is kept after its last upload (seconds).
UPLOADS_KEEP_S = 24 * 3600.0


def _refuse(cause: str) -> RuntimeHTTPError:
    return RuntimeHTTPError(400, "InvalidArchive", cause, path="archive")


def _members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's entries, read one header at a time and checked as they come, so the
    first bad one (or the one past a limit) ends the reading."""
    members: list[tarfile.TarInfo] = []
    total = 0
    while (member := tar.next()) is not None:
        if len(members) == MAX_MEMBERS:
            raise _refuse(f"more than {MAX_MEMBERS} entries")
        name = member.name
        parts = PurePosixPath(name).parts
        if (
            not name
            or name.startswith("/")
            or ".." in parts
            or not name.isprintable()
            or "\\" in name
        ):
            raise _refuse("an entry's name is absolute, climbs out or is not printable")
        if len(parts) > MAX_DEPTH:
            raise _refuse(f"an entry is deeper than {MAX_DEPTH} directories")
        if not (member.isfile() or member.isdir()):
            raise _refuse("only files and directories are accepted (no links or devices)")
        total += member.size
        if total > MAX_UNPACKED_BYTES:
            raise _refuse(f"more than {MAX_UNPACKED_BYTES // 2**20} MiB once unpacked")
        members.append(member)
    return members


def unpack_project(projects: Path, archive: bytes) -> Path:
    """Unpack ``archive`` under ``projects`` and return the directory it is in.

    :raises RuntimeHTTPError: 400 ``InvalidArchive`` naming the first problem.
    """
    digest = hashlib.sha256(archive).hexdigest()[:16]
    uploads = projects.resolve() / UPLOADS
    dest = uploads / digest
    if dest.is_dir():
        os.utime(dest)  # uploaded again: as new to the pruning
        return dest
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            members = _members(tar)
            uploads.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=uploads))
            try:
                tar.extractall(staging, members=members, filter="data")
                staging.rename(dest)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except (tarfile.TarError, EOFError, OSError, UnicodeError) as exc:
        if dest.is_dir():  # another request unpacked the same archive meanwhile
            return dest
        raise _refuse(f"not a readable tar archive ({type(exc).__name__})") from None
    return dest


def referenced_uploads(projects: Path, deployments: Iterable[object]) -> set[Path]:
    """The upload directories the given deployment records were made from (their
    ``settings["project_dir"]`` lies in one), whatever the deployment's state."""
    uploads = projects.resolve() / UPLOADS
    found: set[Path] = set()
    for record in deployments:
        settings = getattr(record, "settings", None) or {}
        where = settings.get("project_dir") if isinstance(settings, dict) else None
        if not isinstance(where, str):
            continue
        parts = Path(where).parts
        base = uploads.parts
        if len(parts) > len(base) and parts[: len(base)] == base:
            found.add(uploads / parts[len(base)])
    return found


def prune_uploads(
    projects: Path,
    keep: set[Path],
    *,
    older_than_s: float = UPLOADS_KEEP_S,
    now: float | None = None,
) -> list[Path]:
    """Remove the upload directories under ``projects`` not in ``keep`` and last uploaded
    more than ``older_than_s`` seconds ago (staging directories an interrupted upload left
    included); the removed ones."""
    uploads = projects.resolve() / UPLOADS
    if not uploads.is_dir():
        return []
    limit = (time.time() if now is None else now) - older_than_s
    removed: list[Path] = []
    for entry in sorted(uploads.iterdir()):
        try:
            old = entry.lstat().st_mtime < limit
        except OSError:  # gone meanwhile, or unreadable: left as it is
            continue
        if entry in keep or not old:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
