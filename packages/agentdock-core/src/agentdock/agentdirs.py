"""Which agents a directory of agents holds: one per sub-directory with a ``Dockfile.yaml``.

Shared by ``agentdock serve DIR`` (one process hosting them all) and ``agentdock deploy
DIR`` (each deployed as its own versioned runtime).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DOCKFILE",
    "HostingError",
    "agent_directories",
    "agent_directory_of",
    "duplicate_message",
]

DOCKFILE = "Dockfile.yaml"


class HostingError(ValueError):
    """The directory cannot be hosted: missing, holding no agent, or two agents of one name.

    The message is one line naming the paths involved.
    """


def agent_directories(directory: Path) -> list[Path]:
    """The sub-directories of ``directory`` holding a Dockfile, sorted by name.

    :raises HostingError: ``directory`` is not a directory, or holds no agent.
    """
    if not directory.is_dir():
        raise HostingError(f"{directory} is not a directory")
    found = sorted(
        child for child in directory.iterdir() if child.is_dir() and (child / DOCKFILE).is_file()
    )
    if not found:
        raise HostingError(f"{directory} holds no agent: no sub-directory of it has a {DOCKFILE}")
    return found


def agent_directory_of(path: Path, directory: Path) -> Path | None:
    """The agent directory (a direct child of ``directory``) that ``path`` lies in, if any."""
    try:
        relative = path.relative_to(directory)
    except ValueError:
        return None
    return directory / relative.parts[0] if relative.parts else None


def duplicate_message(name: str, first: Path, second: Path) -> str:
    """The one line that refuses a second agent named ``name``."""
    return f"two agents are named {name!r}: {first} and {second}"
