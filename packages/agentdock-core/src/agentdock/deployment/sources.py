"""Which of a project's files make up an agent, and the content hash of a version.

The agent's files are everything under the Dockfile's directory except what the ignore
files exclude and what is never shipped. ``.dockerignore`` and ``.agentdockignore`` patterns
are read with :mod:`pathspec` in gitignore syntax (``*``, ``**``, ``!`` negation); a pattern
without a slash matches at any depth, which is stricter than Docker's reading of the same
pattern, never looser. Never shipped, whatever the ignore files say: ``.env`` and ``.env.*``
(``.env.example`` excepted), ``.agentdock/``, ``.git/``, virtual environments
(``.venv/``, ``venv/``), ``__pycache__/``, ``*.pyc`` and tool caches.

Excluded directories are never walked, so a 1 GB file under an ignored path costs nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import pathspec

__all__ = ["ALWAYS_EXCLUDED", "IGNORE_FILES", "collect_sources", "content_hash"]

IGNORE_FILES = (".dockerignore", ".agentdockignore")

#: gitignore-syntax patterns applied after the user's, so a ``!`` cannot bring them back.
ALWAYS_EXCLUDED = (
    ".env",
    ".env.*",
    "!.env.example",
    ".agentdock/",
    ".git/",
    ".hg/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.pyc",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    "node_modules/",
)
_CHUNK = 1 << 20


def _spec(project_dir: Path) -> tuple[pathspec.GitIgnoreSpec, pathspec.GitIgnoreSpec]:
    lines: list[str] = []
    for name in IGNORE_FILES:
        path = project_dir / name
        if path.is_file():
            lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    user = pathspec.GitIgnoreSpec.from_lines(lines)
    fixed = pathspec.GitIgnoreSpec.from_lines(ALWAYS_EXCLUDED)
    return user, fixed


def collect_sources(project_dir: str | os.PathLike[str]) -> tuple[str, ...]:
    """The agent's files, as sorted POSIX paths relative to ``project_dir``.

    Symbolic links are skipped (a link could point outside the project, or at a secret).
    """
    root = Path(project_dir).resolve()
    user, fixed = _spec(root)

    def excluded(rel: str) -> bool:
        return fixed.match_file(rel) or user.match_file(rel)

    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath).relative_to(root)
        keep = []
        for name in sorted(dirnames):
            rel = (base / name).as_posix()
            if (Path(dirpath) / name).is_symlink() or excluded(rel + "/"):
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            full = Path(dirpath) / name
            rel = (base / name).as_posix()
            if full.is_symlink() or not full.is_file() or excluded(rel):
                continue
            found.append(rel)
    return tuple(sorted(found))


def content_hash(snapshot: str, project_dir: str | os.PathLike[str], sources: Iterable[str]) -> str:
    """SHA-256 over the snapshot and every source file (path and bytes), as hex.

    Two deploys with the same hash carry the same agent; the registry refuses to record one
    version string with two hashes.
    """
    root = Path(project_dir)
    digest = hashlib.sha256()
    snap = snapshot.encode("utf-8")
    digest.update(b"snapshot\0%d\0" % len(snap))
    digest.update(snap)
    for rel in sources:
        path = root / rel
        digest.update(b"file\0" + rel.encode("utf-8") + b"\0%d\0" % path.stat().st_size)
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
