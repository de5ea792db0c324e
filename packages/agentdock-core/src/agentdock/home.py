"""Where the AgentDock home is: the directory that holds the registry, bundles, logs and
the local telemetry store.

It is found the way git finds ``.git``, so that every command run anywhere inside a
project reads the same registry:

1. ``$AGENTDOCK_HOME`` when set (targets set it for the runtimes they start);
2. else the nearest ``.agentdock/`` that holds a ``registry.db``, looking in the working
   directory, then in each parent. The walk stops at the file system's root, at a mount
   boundary (a parent on another device is not searched, as git does by default), and
   before entering a directory that ``AGENTDOCK_CEILING_DIRECTORIES`` lists (paths
   separated by ``:``, like ``GIT_CEILING_DIRECTORIES``; the working directory itself is
   always searched);
3. else ``.agentdock/`` of the working directory. Nothing exists there yet: a command that
   writes (``deploy``, ``key create``) creates it and says so; a command that only reads
   never does.

Only a ``registry.db`` marks a home: a project's ``.agentdock/`` holding just checkpoints
or telemetry (what ``agentdock serve`` writes) does not stop the walk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "CEILING_ENV",
    "HOME_DIR",
    "HOME_ENV",
    "REGISTRY_FILE",
    "HomeLocation",
    "agentdock_home",
    "locate_home",
]

HOME_ENV = "AGENTDOCK_HOME"
CEILING_ENV = "AGENTDOCK_CEILING_DIRECTORIES"
HOME_DIR = ".agentdock"
REGISTRY_FILE = "registry.db"


@dataclass(frozen=True, slots=True)
class HomeLocation:
    """A home directory and how it was chosen.

    ``source`` is ``"env"`` (``$AGENTDOCK_HOME``), ``"found"`` (a registry in ``start``
    or one of its parents) or ``"new"`` (none found: ``start/.agentdock``). ``stopped_at``
    is the last directory the walk searched.
    """

    path: Path
    source: Literal["env", "found", "new"]
    start: Path
    stopped_at: Path

    @property
    def registry(self) -> Path:
        """The embedded registry's file in this home."""
        return self.path / REGISTRY_FILE

    @property
    def exists(self) -> bool:
        return self.registry.is_file()

    def searched(self) -> str:
        """Where a registry was looked for, in words (for "not found" messages)."""
        if self.source == "env":
            return f"{self.registry} ({HOME_ENV})"
        if self.stopped_at == self.start:
            return f"{self.start / HOME_DIR / REGISTRY_FILE}"
        return f"{HOME_DIR}/{REGISTRY_FILE} in {self.start} and its parents up to {self.stopped_at}"

    def creating(self) -> str:
        """What a command that creates the registry here says, in words."""
        if self.source == "env":
            return f"created a new registry at {self.registry} ({HOME_ENV})"
        return f"no registry found (looked for {self.searched()}): created {self.registry}"


def _device(path: Path) -> int | None:
    try:
        return path.stat().st_dev
    except OSError:
        return None


def _ceilings(environ: Mapping[str, str]) -> set[Path]:
    raw = environ.get(CEILING_ENV, "")
    return {Path(p).resolve() for p in raw.split(os.pathsep) if p.strip()}


def locate_home(
    start: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> HomeLocation:
    """The AgentDock home for a command run in ``start`` (default: the working directory).

    ``environ`` defaults to :data:`os.environ`. Reads the file system only (a few ``stat``
    calls); creates nothing.
    """
    env = os.environ if environ is None else environ
    here = Path(start).resolve() if start is not None else Path.cwd()
    home = env.get(HOME_ENV, "").strip()
    if home:
        path = Path(home).expanduser()
        return HomeLocation(path if path.is_absolute() else here / path, "env", here, here)
    ceilings = _ceilings(env)
    device = _device(here)
    searched = here
    for directory in (here, *here.parents):
        if directory != here and (directory in ceilings or _device(directory) != device):
            break
        searched = directory
        if (directory / HOME_DIR / REGISTRY_FILE).is_file():
            return HomeLocation(directory / HOME_DIR, "found", here, directory)
    return HomeLocation(here / HOME_DIR, "new", here, searched)


def agentdock_home(
    start: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The home directory :func:`locate_home` picks."""
    return locate_home(start, environ).path
