"""How much disk a directory tree gives back when it is deleted.

A bundle's virtual environment is installed by uv, which hard-links files from its cache
where it can: deleting the bundle then frees only the blocks of files no link outside the
tree keeps. ``du`` counts those blocks anyway, so both numbers are reported.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeUsage", "tree_usage"]


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """``on_disk``: the blocks the tree's files use (each file once, as ``du`` counts);
    ``freed``: those that deleting the tree releases (files every link of which is inside
    it)."""

    on_disk: int
    freed: int


def tree_usage(root: Path) -> TreeUsage:
    """Walk ``root`` without following symbolic links; unreadable entries count as 0."""
    links: dict[tuple[int, int], list[int]] = {}  # inode -> [links seen, nlink, bytes]
    on_disk = 0
    for directory, dirnames, filenames in os.walk(root, onerror=lambda _: None):
        for name in (*dirnames, *filenames):
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            seen = links.get(key)
            if seen is None:
                size = st.st_blocks * 512
                on_disk += size
                # A directory's link count counts its subdirectories' "..": it goes with it.
                nlink = 1 if stat.S_ISDIR(st.st_mode) else st.st_nlink
                links[key] = [1, nlink, size]
            else:
                seen[0] += 1
    try:
        top = os.lstat(root).st_blocks * 512
    except OSError:
        top = 0
    freed = sum(size for count, nlink, size in links.values() if count >= nlink)
    return TreeUsage(on_disk + top, freed + top)
