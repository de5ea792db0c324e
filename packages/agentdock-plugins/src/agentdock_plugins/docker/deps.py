"""Dependency trees for an image, installed on the host and kept in a cache.

The container build has no network, so everything Python needs is installed here with uv
for the image's Python version and platform (manylinux wheels, hashes checked, versions
held to AgentDock's ``uv.lock`` and the agent's own lock) and copied in. Installed trees
are cached under a key of their inputs: a rebuild after a code change, or another agent
with the same requirements, installs nothing. An entry is complete or
absent (installed in a temporary directory, then renamed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agentdock.deployment.artifacts import Progress

from agentdock_plugins.docker.context import normalize_modes
from agentdock_plugins.pydeps import (
    AgentDockDists,
    AgentRequirements,
    Constraints,
    compile_lock,
    install_agentdock,
    install_lock,
)
from agentdock_plugins.pydeps.dists import normalize_name
from agentdock_plugins.pydeps.lean import drop_from_lock, without
from agentdock_plugins.pydeps.native import can_strip, slim_tree
from agentdock_plugins.pydeps.requirements import agent_names

__all__ = [
    "IMAGE_REQUIREMENTS",
    "ImageDeps",
    "default_cache_dir",
    "dists_key",
    "ensure_deps",
    "ensure_dists",
    "requirements_key",
]

#: Third-party requirements of every image beyond the agent's and AgentDock's: the init
#: that runs as PID 1 (a static binary in a manylinux wheel, so no download in the build).
IMAGE_REQUIREMENTS = ("dumb-init>=1.2.5",)

# Bump when the layout or the content of a cache entry changes (3: native extensions
# stripped of their debug info, zstandard's unused CFFI backend removed).
_LAYOUT = "3"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/agentdock/docker`` (``~/.cache/agentdock/docker``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentdock" / "docker"


def requirements_key(
    agent: AgentRequirements,
    dists: AgentDockDists,
    python_version: str,
    platform: str,
    constraints: Constraints | None = None,
    leave: frozenset[str] = frozenset(),
) -> str:
    """SHA-256 of what decides the third-party tree: the agent's requirements as written,
    AgentDock's third-party requirements, the image's extras, Python, platform, the locks
    the versions are held to, the distributions left out (:mod:`..pydeps.lean`) and
    whether this host can strip the platform's extensions (:mod:`..pydeps.native`)."""
    digest = hashlib.sha256()
    for part in (
        f"layout={_LAYOUT}",
        f"python={python_version}",
        f"platform={platform}",
        f"strip={can_strip(platform)}",
        f"origin={agent.origin}",
        agent.text,
        "\n".join(agent.lines),
        "\n".join(dists.requirements),
        "\n".join(IMAGE_REQUIREMENTS),
        constraints.digest if constraints is not None else "",
        "\n".join(sorted(leave)),
    ):
        data = part.encode("utf-8")
        digest.update(b"%d\0" % len(data))
        digest.update(data)
    return digest.hexdigest()


def dists_key(dists: AgentDockDists, python_version: str, platform: str) -> str:
    """SHA-256 of AgentDock's distributions for one Python and platform."""
    raw = f"layout={_LAYOUT}\0python={python_version}\0platform={platform}\0{dists.digest}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ImageDeps:
    """A cache entry of third-party dependencies: the tree and the lock it came from."""

    tree: Path
    lock: Path
    cached: bool


def _fill(slot: Path, fill: Callable[[Path], None]) -> bool:
    """Create ``slot`` with ``fill(tmp)`` unless it exists; True when it already did."""
    if slot.is_dir():
        return True
    slot.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{slot.name}-", dir=slot.parent))
    try:
        fill(tmp)
        normalize_modes(tmp)
        with contextlib.suppress(OSError):  # a concurrent build filled it first: same inputs
            tmp.rename(slot)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return False


def ensure_deps(
    cache_dir: Path,
    key: str,
    *,
    agent: AgentRequirements,
    dists: AgentDockDists,
    python_version: str,
    uv_platform: str,
    progress: Progress,
    constraints: Constraints | None = None,
    leave: frozenset[str] = frozenset(),
    cwd: Path | None = None,
) -> ImageDeps:
    """The third-party tree for ``key``, resolved and installed when it is not cached.
    AgentDock's requirements named in ``leave`` are not asked for, and distributions of
    ``leave`` that another requirement brings are taken out of the lock (the runtime never
    imports them: :mod:`..pydeps.lean`); the agent's own requirements are never left out.
    Native extensions lose their debug info (:mod:`..pydeps.native`), except those of the
    distributions the agent names.

    :raises BuildFailed: a dependency cannot be resolved (named) or installed.
    """
    slot = cache_dir / f"deps-{key[:24]}"

    def fill(tmp: Path) -> None:
        lock = compile_lock(
            [*agent.lines, *without(dists.requirements, leave), *IMAGE_REQUIREMENTS],
            tmp / "requirements.lock",
            python_version=python_version,
            python_platform=uv_platform,
            requirement_files=[agent.file] if agent.file is not None else [],
            constraints=constraints,
            progress=progress,
            cwd=cwd,
        )
        wanted = {normalize_name(n) for n in agent_names(agent)}
        removed = drop_from_lock(lock, frozenset(leave - wanted))
        if removed:
            progress("deps", "left out (never imported): " + ", ".join(sorted(removed)))
        progress("deps", f"installing the locked dependencies for {uv_platform}")
        install_lock(
            lock,
            target=tmp / "site",
            python_version=python_version,
            python_platform=uv_platform,
            progress=progress,
        )
        slim = slim_tree(tmp / "site", wanted, progress)
        if slim.saved:
            progress(
                "deps",
                f"{slim.saved / 1e6:.1f} MB of debug info and unused backends removed "
                f"({len(slim.stripped)} extensions stripped, {len(slim.removed)} files removed)",
            )

    cached = _fill(slot, fill)
    return ImageDeps(tree=slot / "site", lock=slot / "requirements.lock", cached=cached)


def ensure_dists(
    cache_dir: Path,
    key: str,
    *,
    dists: AgentDockDists,
    python_version: str,
    uv_platform: str,
    progress: Progress,
) -> tuple[Path, bool]:
    """AgentDock's distributions installed ``--no-deps`` into a tree of their own (the
    image's runtime layer); returns the tree and whether it was cached."""
    slot = cache_dir / f"dist-{key[:24]}"

    def fill(tmp: Path) -> None:
        progress("dist", "installing AgentDock's distributions")
        install_agentdock(
            dists,
            target=tmp / "site",
            python_version=python_version,
            python_platform=uv_platform,
            progress=progress,
        )

    cached = _fill(slot, fill)
    return slot / "site", cached
