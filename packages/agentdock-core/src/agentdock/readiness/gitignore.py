"""Whether git ignores a file, from the ``.gitignore`` files on its way.

An audit judges a ``.env`` as "committed" only when git would pick it up: the ``.env`` that
``agentdock init``'s ``.gitignore`` excludes is where a local secret belongs. Patterns are
read with :mod:`pathspec` in gitignore syntax (``*``, ``**``, ``!`` negation); as in git, a
``.gitignore`` deeper in the tree decides over one above it. The ``.gitignore`` files read
are those from the audited directory down to the file, and above the audited directory up
to the repository's root (the first directory holding ``.git``); with no repository above,
only those inside the audited directory count. Git's global excludes and
``.git/info/exclude`` are not read.
"""

from __future__ import annotations

from pathlib import Path

import pathspec

__all__ = ["GitIgnores"]


class GitIgnores:
    """The ``.gitignore`` files of one audit, each read once."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        self._above = _repository_dirs(self._root)

    def ignored(self, rel: str) -> bool:
        """Whether git ignores ``rel`` (a POSIX path relative to the audited directory)."""
        path = self._root / rel
        dirs = [*self._above, self._root]
        parts = rel.split("/")[:-1]
        for depth in range(len(parts)):
            dirs.append(self._root.joinpath(*parts[: depth + 1]))
        decision = False
        for directory in dirs:
            spec = self._spec(directory)
            if spec is None:
                continue
            result = spec.check_file(path.relative_to(directory).as_posix())
            if result.include is not None:
                decision = result.include
        return decision

    def _spec(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._specs:
            spec = None
            try:
                text = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace")
            except OSError:
                pass  # none there, or unreadable: it ignores nothing
            else:
                spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
            self._specs[directory] = spec
        return self._specs[directory]


def _repository_dirs(root: Path) -> list[Path]:
    """The directories above ``root`` up to the repository's top (outermost first), or none
    when no ancestor holds ``.git``."""
    above: list[Path] = []
    for parent in root.parents:
        above.append(parent)
        if (parent / ".git").exists():
            return list(reversed(above))
    return []
